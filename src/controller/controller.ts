// `modelroute controller`: watches ModelRoutes, ModelBackends, proxy Pods and
// Services; the leader pushes tables to proxies, probes backends and writes
// status. Standbys keep their caches warm to take over at once.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ModelBackend, ModelRoute, ModelRouteStatus } from '../api/v1alpha1/index.js';
import {
  addOutcomes,
  OutcomeWindows,
  outcomeTotals,
  PassiveHealth,
  type OutcomeWindow,
} from '../health/passive.js';
import { HealthProber } from '../health/prober.js';
import { compileRoutingTable } from '../routing/compile.js';
import type { HealthTransition } from '../routing/health-tracker.js';
import { objectId } from '../routing/semantics.js';
import { createKubeClient } from '../k8s/kube-client.js';
import {
  endpointSlices,
  leases,
  modelBackends,
  modelRoutes,
  pods,
  services,
  SERVICE_NAME_LABEL,
} from '../k8s/kinds.js';
import type { KubeClient, ResourceKind } from '../k8s/types.js';
import {
  createControllerMetrics,
  type ControllerMetrics,
} from '../telemetry/controller-metrics.js';
import type { Logger } from '../telemetry/logger.js';
import { recordFailover, type Failover } from './failover.js';
import { Informer } from './informer.js';
import { LastAcceptedRoutes } from './last-accepted.js';
import { LeaderElector } from './leader-election.js';
import { ProxyFleet, type AdminTokenScope, type ProxyPod } from './proxy-fleet.js';
import { RouteUsageWindow } from './route-usage-window.js';
import { SecretKeyCache } from './secret-keys.js';
import { reconcileNamespace, type NamespaceSnapshot } from './reconcile-namespace.js';
import { statusChanged, statusMergePatch } from './status/status-diff.js';
import { WorkQueue } from './work-queue.js';
import {
  startSidecarInjector,
  type RunningSidecarInjector,
  type SidecarInjectorSettings,
} from '../webhook/sidecar-injector.js';

type KindObject<K> = K extends ResourceKind<infer T> ? T : never;
type PodObject = KindObject<typeof pods>;

export const PROXY_LABEL = 'modelroute.io/proxy';
export const ADMIN_PORT_ANNOTATION = 'modelroute.io/admin-port';
export const DEFAULT_ADMIN_PORT = 9901;
const COMPONENT = 'modelroute-controller';

export interface ControllerOptions {
  kubeconfigPath?: string | undefined;
  client?: KubeClient;
  adminToken: string;
  /** Send each proxy the fleet token (default) or its namespace's derived token. */
  adminTokenScope?: AdminTokenScope | undefined;
  /** This replica's name in the leader Lease (the pod name in a cluster). */
  identity: string;
  leaseNamespace: string;
  leaseName?: string;
  /** Watch one namespace only; default all. */
  namespace?: string | undefined;
  logger: Logger;
  now?: () => number;
  /** How often proxies' outcome stats are read. */
  statsIntervalMs?: number;
  /**
   * How often a route's status.usage (requests and cost over the last hour)
   * may be rewritten when nothing else in its status changed (default 5 min):
   * at 1,000 busy routes, every 5 s would be 200 writes a second.
   */
  usageIntervalMs?: number;
  /**
   * How long calls the proxies saw failing outweigh probes that still answer
   * (default 30 s); then probes may bring the backend back, and traffic judges again.
   */
  passiveHoldMs?: number;
  /** Cap on probe intervals. */
  maxProbeIntervalMs?: number;
  leaseDurationMs?: number;
  /** Serve /healthz, /readyz and /metrics here (port 0 = random). */
  health?: { host: string; port: number } | undefined;
  clusterDomain?: string;
  /** Serve the sidecar-injection webhook (every replica, leader or not); absent = off. */
  webhook?: SidecarInjectorSettings | undefined;
}

export interface RunningController {
  readonly isLeader: boolean;
  readonly metrics: ControllerMetrics;
  healthUrl: string | undefined;
  /** The webhook's https URL, when it is on. */
  webhookUrl: string | undefined;
  close(): Promise<void>;
}

/** A pod that can take tables: proxy label, an IP, Ready, not terminating. */
export function proxyPodOf(pod: PodObject): ProxyPod | undefined {
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
  };
}

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const client =
    options.client ??
    createKubeClient({ kubeconfigPath: options.kubeconfigPath, userAgent: COMPONENT });
  const metrics = createControllerMetrics();
  const scope = options.namespace !== undefined ? { namespace: options.namespace } : {};
  const routeInformer = new Informer(client, {
    kind: modelRoutes,
    ...scope,
    onError: (e) => logger.warn('watch error', { kind: 'ModelRoute', error: e }),
  });
  const backendInformer = new Informer(client, {
    kind: modelBackends,
    ...scope,
    onError: (e) => logger.warn('watch error', { kind: 'ModelBackend', error: e }),
  });
  const podInformer = new Informer(client, {
    kind: pods,
    ...scope,
    labelSelector: `${PROXY_LABEL}=true`,
    onError: (e) => logger.warn('watch error', { kind: 'Pod', error: e }),
  });
  const serviceInformer = new Informer(client, {
    kind: services,
    ...scope,
    onError: (e) => logger.warn('watch error', { kind: 'Service', error: e }),
  });
  // Whether anything is Ready behind a serviceRef backend's Service.
  const endpointSliceInformer = new Informer(client, {
    kind: endpointSlices,
    ...scope,
    onError: (e) => logger.warn('watch error', { kind: 'EndpointSlice', error: e }),
  });
  const informers = [
    routeInformer,
    backendInformer,
    podInformer,
    serviceInformer,
    endpointSliceInformer,
  ] as Informer<{ metadata: { name: string; namespace?: string } }>[];
  const failovers = new Map<string, Failover>();
  const observed = new Map<string, { latencyMs?: number; errorRate?: number; requests?: number }>();
  const lastBackendWrite = new Map<string, number>();
  const lastUsageWrite = new Map<string, number>();
  const lastUsageReconcile = new Map<string, number>();
  const routeUsage = new RouteUsageWindow(now);
  const outcomeWindows = new OutcomeWindows();
  const passiveHealth = new PassiveHealth(now);

  const inNamespace = <T extends { metadata: { namespace?: string | undefined } }>(
    items: T[],
    ns: string,
  ) => items.filter((o) => (o.metadata.namespace ?? 'default') === ns);

  const snapshot = (ns: string): NamespaceSnapshot => ({
    namespace: ns,
    routes: inNamespace(routeInformer.list(), ns),
    backends: inNamespace(backendInformer.list(), ns),
    proxies: inNamespace(podInformer.list(), ns).flatMap((p) => proxyPodOf(p) ?? []),
    serviceExists: (name) => serviceInformer.get(`${ns}/${name}`) !== undefined,
    readyEndpoints: (name) => {
      const slices = inNamespace(endpointSliceInformer.list(), ns).filter(
        (s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === name,
      );
      if (slices.length === 0) return undefined;
      let ready = 0;
      for (const slice of slices)
        for (const e of slice.endpoints ?? [])
          if (e.conditions?.ready !== false) ready += e.addresses.length;
      return ready;
    },
  });

  const enqueue = (ns: string | undefined): void => queue.add(ns ?? 'default');

  const fleet = new ProxyFleet({
    adminToken: options.adminToken,
    adminTokenScope: options.adminTokenScope,
    logger,
    onAckChange: (pod) => enqueue(pod.namespace),
    onPushed: (_pod, _version, seconds) => metrics.pushed(seconds),
  });

  const onTransition = (t: HealthTransition): void => {
    metrics.healthTransition(t.to);
    logger.info('backend health changed', {
      backend: t.backendId,
      from: t.from,
      to: t.to,
      message: t.record.message,
    });
    const [ns, name] = t.backendId.split('/') as [string, string];
    recordFailover(failovers, routeInformer.list(), t, prober.tracker.states(), now());
    const backend = backendInformer.get(t.backendId);
    if (t.to !== 'Unknown') {
      client
        .createEvent({
          involved: {
            kind: 'ModelBackend',
            apiVersion: 'modelroute.io/v1alpha1',
            namespace: ns,
            name,
            uid: backend?.metadata.uid,
          },
          type: t.to === 'Unhealthy' ? 'Warning' : 'Normal',
          reason: t.to === 'Unhealthy' ? 'BackendUnhealthy' : 'BackendHealthy',
          message: `health ${t.from} -> ${t.to}: ${t.record.message ?? ''}`.trim(),
          component: COMPONENT,
        })
        .catch((err: unknown) =>
          logger.warn('cannot record event', { backend: t.backendId, error: err }),
        );
    }
    enqueue(ns);
  };
  // Without the API keys (the controller never reads Secret values), a 401
  // from a provider still proves its endpoint answers; proxies report the rest.
  // Calls failing through the proxies outweigh a probe that still answers,
  // for a while (then probes may bring the backend back).
  const statsIntervalMs = options.statsIntervalMs ?? 5_000;
  const usageIntervalMs = options.usageIntervalMs ?? 300_000;
  const passiveHoldMs = options.passiveHoldMs ?? 30_000;
  const callsFailing = new Map<string, { reason: string; message: string; until: number }>();
  const prober: HealthProber = new HealthProber({
    now,
    onTransition,
    distrust: (backendId) => {
      const failing = callsFailing.get(backendId);
      return failing && failing.until > now() ? failing : undefined;
    },
    clientErrorsMeanUp: true,
    maxIntervalMs: options.maxProbeIntervalMs ?? 30_000,
  });

  const secretKeys = new SecretKeyCache(client, now);
  const lastAccepted = new LastAcceptedRoutes();

  // New figures in status.usage alone are written at most once per usage
  // interval; usage appearing or going is written at once.
  const withoutUsage = (s: ModelRouteStatus | undefined) => (s ? { ...s, usage: undefined } : s);
  const writeRouteStatus = async (route: ModelRoute, status: ModelRouteStatus): Promise<void> => {
    if (!statusChanged(route.status, status)) return;
    const id = objectId(route);
    const usageOnly = !statusChanged(withoutUsage(route.status), withoutUsage(status));
    if (
      usageOnly &&
      route.status?.usage !== undefined &&
      status.usage !== undefined &&
      now() - (lastUsageWrite.get(id) ?? -Infinity) < usageIntervalMs
    )
      return;
    await client.patchStatus(
      modelRoutes,
      { namespace: route.metadata.namespace ?? 'default', name: route.metadata.name },
      statusMergePatch(route.status, status),
    );
    if (statusChanged(route.status?.usage, status.usage)) lastUsageWrite.set(id, now());
    metrics.statusWrite('ModelRoute');
  };
  // Probe times and counters move on every probe: they alone do not justify a write more than once a minute.
  const volatile = (s: ModelBackend['status']) =>
    s
      ? {
          ...s,
          health: s.health
            ? { ...s.health, lastProbeTime: undefined, consecutiveSuccesses: undefined }
            : undefined,
          observed: undefined,
        }
      : s;
  const writeBackendStatus = async (
    backend: ModelBackend,
    status: NonNullable<ModelBackend['status']>,
  ): Promise<void> => {
    const id = objectId(backend);
    const stale = now() - (lastBackendWrite.get(id) ?? 0) > 60_000;
    if (
      !statusChanged(volatile(backend.status), volatile(status)) &&
      !(stale && statusChanged(backend.status, status))
    )
      return;
    await client.patchStatus(
      modelBackends,
      { namespace: backend.metadata.namespace ?? 'default', name: backend.metadata.name },
      statusMergePatch(backend.status, status),
    );
    lastBackendWrite.set(id, now());
    metrics.statusWrite('ModelBackend');
  };

  const reconcile = async (ns: string): Promise<void> => {
    const started = now();
    const snap = snapshot(ns);
    try {
      await reconcileNamespace(snap, {
        fleet,
        health: prober.tracker,
        secretKeys: (ns, name) => secretKeys.keys(ns, name),
        lastAccepted,
        failovers,
        observed: (id) => observed.get(id),
        usage: (routeId) => routeUsage.summary(routeId) ?? null,
        writeRouteStatus,
        writeBackendStatus,
        now,
        clusterDomain: options.clusterDomain,
      });
      metrics.reconciled('success', (now() - started) / 1000);
    } catch (err) {
      metrics.reconciled('error', (now() - started) / 1000);
      throw err;
    }
  };

  /** A backend as the prober sees it (compiled alone, health irrelevant). */
  const compiledFor = (b: ModelBackend) => {
    const route: ModelRoute = {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: '_probe', namespace: b.metadata.namespace ?? 'default' },
      spec: {
        model: '_probe',
        rules: [
          {
            name: 'probe',
            strategy: 'weighted',
            backendRefs: [{ name: b.metadata.name, weight: 1, priority: 0 }],
          },
        ],
      },
    };
    return compileRoutingTable([route], [b], new Map(), { clusterDomain: options.clusterDomain })
      .backends[0]!;
  };

  /** Probe exactly the backends that exist. */
  const syncProbes = (): void => {
    prober.sync(backendInformer.list().map((b) => ({ backend: compiledFor(b), spec: b.spec })));
  };

  const queue = new WorkQueue(async (ns) => {
    await reconcile(ns);
    metrics.queueDepth(queue.length);
  });

  // Informer events only say which namespace to look at again.
  for (const informer of informers) {
    informer.on((event) => {
      if (!elector.isLeader) return;
      enqueue(event.object.metadata.namespace);
      if (informer === (backendInformer as unknown)) syncProbes();
      if (event.type === 'deleted' && informer === (podInformer as unknown))
        fleet.remove(event.key);
    });
  }

  let statsTimer: NodeJS.Timeout | undefined;
  const collectStats = async (): Promise<void> => {
    const stats = await fleet.collectStats();
    const windows = new Map<string, OutcomeWindow & { latency: number[] }>();
    const usageChanged = new Set<string>();
    for (const [podKey, body] of stats) {
      fleet.observeRunningVersion(podKey, body.tableVersion);
      for (const r of body.routes) {
        if (routeUsage.observe(podKey, r.routeId, r))
          usageChanged.add(r.routeId.slice(0, r.routeId.indexOf('/')));
      }
      for (const b of body.backends) {
        // Counters are per proxy process: deltas are taken per pod, then summed.
        const delta = outcomeWindows.next(
          `${podKey} ${b.backendId}`,
          outcomeTotals(b.requests, b.failures),
        );
        const w = windows.get(b.backendId) ?? { requests: 0, failures: 0, latency: [] };
        addOutcomes(w, delta);
        if (b.latencyEwmaMs !== undefined) w.latency.push(b.latencyEwmaMs);
        windows.set(b.backendId, w);
      }
    }
    routeUsage.forgetPodsExcept(new Set(fleet.keys()));
    // New usage is worth a reconcile per namespace once per usage interval.
    for (const ns of usageChanged) {
      if (now() - (lastUsageReconcile.get(ns) ?? -Infinity) < usageIntervalMs) continue;
      lastUsageReconcile.set(ns, now());
      enqueue(ns);
    }
    for (const [backendId, w] of windows) {
      const entry: { latencyMs?: number; errorRate?: number; requests?: number } = {
        requests: w.requests,
      };
      if (w.latency.length > 0)
        entry.latencyMs = Math.round(w.latency.reduce((a, b) => a + b, 0) / w.latency.length);
      if (w.requests > 0) entry.errorRate = Math.round((w.failures / w.requests) * 1000) / 1000;
      observed.set(backendId, entry);
      // What the proxies saw counts like a probe, under the same hysteresis.
      const seen = passiveHealth.record(backendId, w);
      const spec = backendInformer.get(backendId)?.spec;
      if (seen?.ok) callsFailing.delete(backendId);
      else if (seen)
        callsFailing.set(backendId, {
          reason: seen.reason ?? 'CallsFailing',
          message: seen.message,
          until: now() + passiveHoldMs,
        });
      if (seen && spec) {
        const transition = prober.tracker.observe(
          backendId,
          seen.ok,
          {
            unhealthyThreshold: spec.healthCheck?.unhealthyThreshold ?? 3,
            healthyThreshold: spec.healthCheck?.healthyThreshold ?? 2,
          },
          seen.message,
          seen.reason,
        );
        if (transition) onTransition(transition);
      }
    }
  };
  const statsLoop = (): void => {
    statsTimer = setTimeout(() => {
      collectStats()
        .catch((err: unknown) => logger.warn('collecting proxy stats failed', { error: err }))
        .finally(() => {
          if (elector.isLeader) statsLoop();
        });
    }, statsIntervalMs);
  };

  const namespaces = (): string[] => {
    const set = new Set<string>();
    for (const o of [...routeInformer.list(), ...backendInformer.list(), ...podInformer.list()])
      set.add(o.metadata.namespace ?? 'default');
    return [...set];
  };

  const elector: LeaderElector = new LeaderElector({
    client,
    leaseKind: leases,
    namespace: options.leaseNamespace,
    name: options.leaseName ?? 'modelroute-controller',
    identity: options.identity,
    leaseDurationMs: options.leaseDurationMs ?? 15_000,
    renewDeadlineMs: Math.round((options.leaseDurationMs ?? 15_000) * (2 / 3)),
    retryPeriodMs: Math.max(200, Math.round((options.leaseDurationMs ?? 15_000) / 7.5)),
    onStartedLeading: () => {
      logger.info('leading: pushing tables and writing status', { identity: options.identity });
      metrics.leader(true);
      queue.start();
      syncProbes();
      for (const ns of namespaces()) enqueue(ns);
      statsLoop();
    },
    onStoppedLeading: () => {
      logger.warn('lost leadership: standing by', { identity: options.identity });
      metrics.leader(false);
      clearTimeout(statsTimer);
      prober.stop();
      void queue.stop();
    },
  });

  // Listens before the caches sync, so a taken port fails the start at once;
  // it answers 503 until they have (a pod injected earlier would miss volumes).
  let injector: RunningSidecarInjector | undefined;
  if (options.webhook) {
    injector = await startSidecarInjector(options.webhook, {
      kubeconfigPath: options.kubeconfigPath,
      logger: logger.child({ component: 'webhook' }),
      routes: (ns) => inNamespace(routeInformer.list(), ns),
      backends: (ns) => inNamespace(backendInformer.list(), ns),
      synced: () => routeInformer.synced && backendInformer.synced,
      watchedNamespace: options.namespace,
      now,
    });
  }
  for (const informer of informers) informer.start();
  await Promise.all(informers.map((i) => i.waitForSync(60_000)));
  elector.start();

  let healthServer: Server | undefined;
  let healthUrl: string | undefined;
  if (options.health) {
    healthServer = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz')
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"status":"ok"}');
      if (path === '/readyz') {
        const synced = informers.every((i) => i.synced);
        return void res
          .writeHead(synced ? 200 : 503, { 'content-type': 'application/json' })
          .end(JSON.stringify({ status: synced ? 'ready' : 'syncing', leader: elector.isLeader }));
      }
      if (path === '/metrics') {
        metrics.queueDepth(queue.length);
        void metrics
          .render()
          .then((text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text));
        return;
      }
      res.writeHead(404).end();
    });
    await new Promise<void>((resolve) =>
      healthServer!.listen(options.health!.port, options.health!.host, resolve),
    );
    healthUrl = `http://${options.health.host}:${(healthServer.address() as AddressInfo).port}`;
  }

  return {
    get isLeader() {
      return elector.isLeader;
    },
    metrics,
    healthUrl,
    webhookUrl: injector?.url,
    async close() {
      clearTimeout(statsTimer);
      prober.stop();
      fleet.stop();
      await elector.stop();
      await queue.stop();
      for (const informer of informers) informer.stop();
      await injector?.close();
      if (healthServer) await new Promise<void>((r) => healthServer.close(() => r()));
    },
  };
}
