// Which Pods are proxies the controller pushes tables to, and where their
// admin port is. The names are the webhook's (src/webhook/sidecar-patch.ts).
import { z } from 'zod';
import type { Caller } from '../identity/caller.js';
import { parseWorkload, WORKLOAD_ENV } from '../identity/workload.js';
import type { Pod } from '../k8s/kinds.js';
import {
  ADMIN_PORT_ANNOTATION,
  ADMIN_TOKEN_ANNOTATION,
  ADMIN_TOKEN_DELIVERED,
  PROXY_CONTAINER_NAME,
  PROXY_LABEL,
} from '../webhook/sidecar-patch.js';
import type { ProxyPod } from './proxy-fleet.js';

export type WorkloadCaller = Extract<Caller, { kind: 'workload' }>;

export { ADMIN_PORT_ANNOTATION, PROXY_LABEL };
export const DEFAULT_ADMIN_PORT = 9901;

/** A pod that can take tables: proxy label, an IP, Running, not terminating. */
export function proxyPodOf(pod: Pod): ProxyPod | undefined {
  const meta = pod.metadata;
  if (meta.labels?.[PROXY_LABEL] !== 'true' || meta.deletionTimestamp) return undefined;
  // Running with an address is enough: not Ready, because a proxy's own
  // readiness waits for its first table, which only this push delivers.
  const ip = pod.status?.podIP;
  if (!ip || pod.status?.phase !== 'Running') return undefined;
  const port = Number(meta.annotations?.[ADMIN_PORT_ANNOTATION] ?? DEFAULT_ADMIN_PORT);
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return {
    key: `${meta.namespace ?? 'default'}/${meta.name}`,
    namespace: meta.namespace ?? 'default',
    name: meta.name,
    uid: meta.uid ?? meta.name,
    labels: meta.labels ?? {},
    adminUrl: `http://${host}:${Number.isInteger(port) && port > 0 ? port : DEFAULT_ADMIN_PORT}`,
    ...(meta.annotations?.[ADMIN_TOKEN_ANNOTATION] === ADMIN_TOKEN_DELIVERED
      ? { adminTokenDelivered: true }
      : {}),
  };
}

const envOf = z.looseObject({
  name: z.string(),
  env: z.array(z.looseObject({ name: z.string(), value: z.string().optional() })).optional(),
});
const podContainers = z.looseObject({
  containers: z.array(envOf).optional(),
  initContainers: z.array(envOf).nullish(),
});

/**
 * The workload a sidecar proxy pod serves, as the injector recorded it at
 * admission (env MODELROUTE_WORKLOAD of the proxy container, a plain or a
 * native-sidecar init container); undefined for a pod without one (a
 * gateway, a hand-made proxy) or with one that does not parse.
 */
export function workloadOf(pod: Pod): WorkloadCaller | undefined {
  const spec = podContainers.safeParse(pod.spec);
  if (!spec.success) return undefined;
  const proxy = [...(spec.data.initContainers ?? []), ...(spec.data.containers ?? [])].find(
    (c) => c.name === PROXY_CONTAINER_NAME,
  );
  const text = proxy?.env?.find((e) => e.name === WORKLOAD_ENV)?.value;
  if (text === undefined) return undefined;
  try {
    return parseWorkload(text, pod.metadata.name);
  } catch {
    return undefined; // not the injector's: counts for no tenant
  }
}
