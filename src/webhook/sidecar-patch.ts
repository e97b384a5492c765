// The sidecar injection itself, as a pure function: a Pod as the user sent it
// in, the JSON Patch that adds the modelroute proxy out (or why not).
import { z } from 'zod';
import type { JsonPatchOperation } from '../k8s/types.js';
import { WORKLOAD_ENV, type WorkloadJson } from '../identity/workload.js';
import {
  CREDENTIALS_TOKEN_AUDIENCE,
  CREDENTIALS_TOKEN_DIR,
  DEFAULT_CREDENTIALS_TOKEN_FILE,
} from '../proxy/credential-protocol.js';
import { CREDENTIAL_ORIGINS_ENV } from '../proxy/credentials.js';
import { CONFIG_MAPS_DIR_ENV } from '../proxy/egress/config-maps.js';
import { QUOTA_STORE_ENV } from '../quota/redis-store-url.js';
import {
  sidecarTelemetryArgs,
  sidecarTelemetryEnv,
  type SidecarTelemetry,
} from './sidecar-telemetry.js';

/** Pods that ask for a sidecar carry this label (the webhook's objectSelector). */
export const INJECT_LABEL = 'modelroute.io/inject';
/** Equal to PROXY_LABEL / ADMIN_PORT_ANNOTATION in src/controller/controller.ts (a test checks). */
export const PROXY_LABEL = 'modelroute.io/proxy';
export const ADMIN_PORT_ANNOTATION = 'modelroute.io/admin-port';
export const PROXY_CONTAINER_NAME = 'modelroute-proxy';
/**
 * On a pod whose proxy takes its admin token from the controller (the
 * credential channel) instead of a Secret in the pod's namespace: the
 * controller then pushes it with that pod's own token (podAdminToken).
 * Pods admitted without it keep the Secret and today's token.
 */
export const ADMIN_TOKEN_ANNOTATION = 'modelroute.io/admin-token';
export const ADMIN_TOKEN_DELIVERED = 'delivered';

/** Per-pod overrides of the sidecar's ports and resources. */
export const SIDECAR_ANNOTATIONS = {
  dataPort: 'modelroute.io/proxy-port',
  adminPort: 'modelroute.io/proxy-admin-port',
  cpu: 'modelroute.io/proxy-cpu',
  memory: 'modelroute.io/proxy-memory',
  cpuLimit: 'modelroute.io/proxy-cpu-limit',
  memoryLimit: 'modelroute.io/proxy-memory-limit',
} as const;

export const TABLE_DIR = '/var/run/modelroute/table';
export const CREDENTIALS_DIR = '/var/run/modelroute/credentials';
/** Where referenced ConfigMaps (backends' CA bundles) are mounted: <dir>/<configmap>/<key>. */
export const CONFIG_MAPS_DIR = '/var/run/modelroute/configmaps';
const TABLE_VOLUME = 'modelroute-table';
const TOKEN_VOLUME = 'modelroute-token';
/** The CA (PEM) that verifies the controller's credential endpoint; public, so an env value. */
export const CREDENTIALS_CA_ENV = 'MODELROUTE_CREDENTIALS_CA';
/** The projected token's lifetime; the kubelet renews it at 80%. */
const TOKEN_EXPIRATION_SECONDS = 3600;
const CREDENTIAL_VOLUME_PREFIX = 'modelroute-cred-';
const CONFIG_MAP_VOLUME_PREFIX = 'modelroute-cm-';

/**
 * native: a restartable init container (Kubernetes >= 1.29): it starts, and
 * answers its startup probe, before the app's containers start, outlives them
 * on shutdown and does not keep a Job's pod running. container: a plain
 * second container, for older clusters.
 */
export const SIDECAR_MODES = ['native', 'container'] as const;
export type SidecarMode = (typeof SIDECAR_MODES)[number];

export interface SidecarConfig {
  image: string;
  mode: SidecarMode;
  /**
   * Secret (in the pod's namespace) and key holding the proxies' admin token;
   * referenced only when credentialDelivery is off (with it, the token is delivered).
   */
  adminTokenSecret: string;
  adminTokenKey: string;
  dataPort: number;
  adminPort: number;
  resources: {
    requests: { cpu: string; memory: string };
    limits: { cpu?: string | undefined; memory?: string | undefined };
  };
  /**
   * Where the proxy fetches the keys of other namespaces' backends (the
   * controller's POST /v1/credentials) and the CA that verifies it; absent = off.
   */
  credentialDelivery?: { url: string; ca: string } | undefined;
  /**
   * The exact-mode quota store (issue 14) the sidecar gets as
   * MODELROUTE_QUOTA_STORE: a Secret and key in the pod's namespace (never a
   * literal then), or the URL itself; absent = exact limits as fleet shares.
   */
  quotaStore?: QuotaStoreSource | undefined;
  /** OpenTelemetry export and the access log (sidecar-telemetry.ts); absent = neither. */
  telemetry?: SidecarTelemetry | undefined;
}

export type QuotaStoreSource = { url: string } | { secretName: string; key: string };

/** The MODELROUTE_QUOTA_STORE env entry for a proxy container, or none. */
export function quotaStoreEnv(source: QuotaStoreSource | undefined): Record<string, unknown>[] {
  if (source === undefined) return [];
  if ('url' in source) return [{ name: QUOTA_STORE_ENV, value: source.url }];
  return [
    {
      name: QUOTA_STORE_ENV,
      // Optional: a namespace without the Secret still starts its pods; their
      // proxies log once and enforce exact limits as fleet shares.
      valueFrom: { secretKeyRef: { name: source.secretName, key: source.key, optional: true } },
    },
  ];
}

export const DEFAULT_SIDECAR_CONFIG: Omit<SidecarConfig, 'image'> = {
  mode: 'native',
  adminTokenSecret: 'modelroute-admin-token',
  adminTokenKey: 'token',
  dataPort: 8080,
  adminPort: 9901,
  // No CPU limit by default: throttling a proxy on the request path adds latency to every call.
  // Memory from measurement (issue 15): a sidecar serving traffic stays under 100 MB RSS (the
  // 64Mi request of before sat below an idle proxy's ~100 MB), and 320Mi leaves room for peaks.
  // The chart passes webhook.sidecarResources as --sidecar-*-request/-limit flags.
  resources: { requests: { cpu: '50m', memory: '160Mi' }, limits: { memory: '320Mi' } },
};

/** The credentials Secrets (name → keys) the routes that select this pod need. */
export type CredentialSecrets = ReadonlyMap<string, ReadonlySet<string>>;

/** The parts of a Pod the injection reads; everything else passes through untouched. */
export const admittedPod = z.looseObject({
  metadata: z.looseObject({
    name: z.string().optional(),
    generateName: z.string().optional(),
    labels: z.record(z.string(), z.string()).nullish(),
    annotations: z.record(z.string(), z.string()).nullish(),
  }),
  spec: z.looseObject({
    containers: z.array(
      z.looseObject({
        name: z.string(),
        ports: z.array(z.looseObject({ containerPort: z.int() })).nullish(),
      }),
    ),
    initContainers: z.array(z.looseObject({ name: z.string() })).nullish(),
    serviceAccountName: z.string().nullish(),
    volumes: z.array(z.looseObject({ name: z.string() })).nullish(),
  }),
});
export type AdmittedPod = z.infer<typeof admittedPod>;

export type SidecarPlan =
  | { action: 'skip'; reason: string }
  | { action: 'reject'; message: string }
  | { action: 'inject'; operations: JsonPatchOperation[] };

/** RFC 6901: "~" and "/" in a JSON Pointer segment. */
export const pointerSegment = (key: string): string =>
  key.replaceAll('~', '~0').replaceAll('/', '~1');

/** A Kubernetes resource quantity as the sidecar's resources take it, e.g. 50m, 160Mi. */
export const RESOURCE_QUANTITY = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A short, stable volume name for a Secret (Secret names may be longer and contain dots). */
export function credentialVolumeName(secretName: string): string {
  return volumeName(CREDENTIAL_VOLUME_PREFIX, secretName);
}

/** The same for a ConfigMap. */
export function configMapVolumeName(name: string): string {
  return volumeName(CONFIG_MAP_VOLUME_PREFIX, name);
}

function volumeName(prefix: string, secretName: string): string {
  const readable = `${prefix}${secretName}`;
  if (readable.length <= 63 && DNS_LABEL.test(readable)) return readable;
  // FNV-1a: deterministic, so a reinvocation computes the same name.
  let hash = 0x811c9dc5;
  for (const ch of secretName) hash = Math.imul(hash ^ ch.charCodeAt(0), 0x01000193) >>> 0;
  const stem = secretName
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 30)
    .replace(/-+$/, '');
  return `${prefix}${stem}-${hash.toString(16).padStart(8, '0')}`;
}

interface Overrides {
  dataPort: number;
  adminPort: number;
  resources: SidecarConfig['resources'];
}

/** The sidecar settings after the pod's annotations, or a message naming each bad annotation. */
function applyOverrides(
  config: SidecarConfig,
  annotations: Readonly<Record<string, string>>,
): { ok: true; value: Overrides } | { ok: false; message: string } {
  const problems: string[] = [];
  const port = (key: string, fallback: number): number => {
    const raw = annotations[key];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (Number.isInteger(n) && n >= 1 && n <= 65535) return n;
    problems.push(`annotation ${key}: "${raw}" is not a port 1-65535`);
    return fallback;
  };
  const quantity = <T extends string | undefined>(key: string, fallback: T): string | T => {
    const raw = annotations[key];
    if (raw === undefined) return fallback;
    if (RESOURCE_QUANTITY.test(raw)) return raw;
    problems.push(`annotation ${key}: "${raw}" is not a resource quantity such as 100m or 128Mi`);
    return fallback;
  };
  const { requests, limits } = config.resources;
  const value: Overrides = {
    dataPort: port(SIDECAR_ANNOTATIONS.dataPort, config.dataPort),
    adminPort: port(SIDECAR_ANNOTATIONS.adminPort, config.adminPort),
    resources: {
      requests: {
        cpu: quantity(SIDECAR_ANNOTATIONS.cpu, requests.cpu),
        memory: quantity(SIDECAR_ANNOTATIONS.memory, requests.memory),
      },
      limits: {
        cpu: quantity(SIDECAR_ANNOTATIONS.cpuLimit, limits.cpu),
        memory: quantity(SIDECAR_ANNOTATIONS.memoryLimit, limits.memory),
      },
    },
  };
  if (problems.length === 0 && value.dataPort === value.adminPort)
    problems.push(
      `the sidecar's data and admin ports must differ (both ${value.dataPort}): change ${SIDECAR_ANNOTATIONS.dataPort} or ${SIDECAR_ANNOTATIONS.adminPort}`,
    );
  return problems.length > 0 ? { ok: false, message: problems.join('; ') } : { ok: true, value };
}

function sidecarContainer(
  config: SidecarConfig,
  o: Overrides,
  credentials: CredentialSecrets,
  binding: Readonly<Record<string, readonly string[]>>,
  workload: WorkloadJson,
  configMaps: CredentialSecrets,
): Record<string, unknown> {
  const delivery = config.credentialDelivery;
  const limits = Object.fromEntries(
    Object.entries(o.resources.limits).filter(([, v]) => v !== undefined),
  );
  return {
    name: PROXY_CONTAINER_NAME,
    image: config.image,
    imagePullPolicy: 'IfNotPresent',
    // What makes an init container a native sidecar.
    ...(config.mode === 'native' ? { restartPolicy: 'Always' } : {}),
    args: [
      'proxy',
      // The caller is this pod (MODELROUTE_WORKLOAD), never a header or key it sends.
      '--identity=sidecar',
      // The app reaches its sidecar over loopback only; nothing else in the cluster can call it.
      '--host=127.0.0.1',
      `--port=${o.dataPort}`,
      // The controller pushes tables to the admin port from another pod.
      '--admin-host=0.0.0.0',
      `--admin-port=${o.adminPort}`,
      `--table-file=${TABLE_DIR}/table.json`,
      `--credentials-dir=${CREDENTIALS_DIR}`,
      ...(delivery
        ? [
            `--credentials-url=${delivery.url}`,
            `--credentials-token-file=${DEFAULT_CREDENTIALS_TOKEN_FILE}`,
          ]
        : []),
      ...sidecarTelemetryArgs(config.telemetry),
    ],
    env: [
      // With the credential channel the controller delivers this pod's own admin
      // token at start (memory only): no admin-token Secret in the app's namespace.
      ...(delivery
        ? []
        : [
            {
              name: 'MODELROUTE_ADMIN_TOKEN',
              // Not optional: without the token the controller could never program this proxy,
              // so the kubelet waits (CreateContainerConfigError) until the Secret exists.
              valueFrom: {
                secretKeyRef: { name: config.adminTokenSecret, key: config.adminTokenKey },
              },
            },
          ]),
      // Its namespace: it then also accepts that namespace's derived admin token.
      {
        name: 'POD_NAMESPACE',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
      },
      // Where each mounted key may be sent. A container's env is fixed once the
      // pod exists, so a pushed table cannot send a key anywhere else.
      { name: CREDENTIAL_ORIGINS_ENV, value: JSON.stringify(binding) },
      {
        name: 'POD_NAME',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } },
      },
      // Who calls: the pod as admitted. Fixed for the pod's life, like its labels' meaning.
      { name: WORKLOAD_ENV, value: JSON.stringify(workload) },
      ...(delivery ? [{ name: CREDENTIALS_CA_ENV, value: delivery.ca }] : []),
      ...quotaStoreEnv(config.quotaStore),
      ...sidecarTelemetryEnv(config.telemetry),
      ...(configMaps.size > 0 ? [{ name: CONFIG_MAPS_DIR_ENV, value: CONFIG_MAPS_DIR }] : []),
    ],
    ports: [
      { name: 'mr-proxy', containerPort: o.dataPort, protocol: 'TCP' },
      { name: 'mr-admin', containerPort: o.adminPort, protocol: 'TCP' },
    ],
    // Started once it listens: a native sidecar holds the app's containers until then.
    startupProbe: {
      httpGet: { path: '/healthz', port: o.adminPort },
      periodSeconds: 1,
      failureThreshold: 30,
    },
    // Ready once the controller has pushed its first table: until then the pod
    // could route nothing, so its Service should send it nothing. (The
    // controller programs proxies in Running pods, Ready or not.)
    readinessProbe: {
      httpGet: { path: '/readyz', port: o.adminPort },
      periodSeconds: 2,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: '/healthz', port: o.adminPort },
      periodSeconds: 10,
      failureThreshold: 3,
    },
    resources: { requests: { ...o.resources.requests }, limits },
    securityContext: {
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: TABLE_VOLUME, mountPath: TABLE_DIR },
      ...(delivery
        ? [{ name: TOKEN_VOLUME, mountPath: CREDENTIALS_TOKEN_DIR, readOnly: true }]
        : []),
      ...[...credentials.keys()].sort().map((secret) => ({
        name: credentialVolumeName(secret),
        mountPath: `${CREDENTIALS_DIR}/${secret}`,
        readOnly: true,
      })),
      ...[...configMaps.keys()].sort().map((name) => ({
        name: configMapVolumeName(name),
        mountPath: `${CONFIG_MAPS_DIR}/${name}`,
        readOnly: true,
      })),
    ],
  };
}

function sidecarVolumes(
  credentials: CredentialSecrets,
  delivery: SidecarConfig['credentialDelivery'],
  configMaps: CredentialSecrets,
): Record<string, unknown>[] {
  return [
    // Survives a sidecar restart (not a pod restart): the proxy serves its last table at once.
    { name: TABLE_VOLUME, emptyDir: { sizeLimit: '16Mi' } },
    // The pod's own identity for the controller's credential endpoint: a token
    // bound to this pod (the API server names the pod in TokenReview) and to
    // that audience only, so it is worth nothing to any other service.
    ...(delivery
      ? [
          {
            name: TOKEN_VOLUME,
            projected: {
              sources: [
                {
                  serviceAccountToken: {
                    audience: CREDENTIALS_TOKEN_AUDIENCE,
                    expirationSeconds: TOKEN_EXPIRATION_SECONDS,
                    path: 'token',
                  },
                },
              ],
            },
          },
        ]
      : []),
    ...[...credentials.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([secret, keys]) => ({
        name: credentialVolumeName(secret),
        secret: {
          secretName: secret,
          // Only the keys a backend references, not the whole Secret.
          items: [...keys].sort().map((key) => ({ key, path: key })),
          // A missing API key fails that backend's calls (and shows in status), not the app's start.
          optional: true,
          // Readable by the proxy's non-root user: the kubelet writes these
          // files root-owned (no fsGroup in an app's pod), so 0440 left the
          // sidecar without its keys on a real node ("missing credentials",
          // test/node/real-node-e2e.test.ts). Only the proxy container mounts
          // this volume, so the app's containers still cannot read it.
          defaultMode: 0o444,
        },
      })),
    // Backends' CA bundles (spec.tls.caBundle.configMapRef): public, the keys named only.
    ...[...configMaps.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, keys]) => ({
        name: configMapVolumeName(name),
        configMap: {
          name,
          items: [...keys].sort().map((key) => ({ key, path: key })),
          optional: true,
          defaultMode: 0o444,
        },
      })),
  ];
}

/**
 * Plans the injection into one Pod. Idempotent: a pod that already has the
 * sidecar (reinvocation) or already is a proxy (e.g. a gateway) is skipped.
 */
export function planSidecarInjection(
  pod: AdmittedPod,
  config: SidecarConfig,
  credentials: CredentialSecrets,
  /** `<secret>/<key>` → origins the proxy may send that key to (credentialBindingFor). */
  binding: Readonly<Record<string, readonly string[]>> = {},
  /** The pod's namespace (the admission request's; a Pod being created may not carry it). */
  namespace = 'default',
  /** ConfigMaps (name → keys) the backends reference: CA bundles (credentialsFor). */
  configMaps: CredentialSecrets = new Map(),
): SidecarPlan {
  const labels = pod.metadata.labels ?? {};
  const annotations = pod.metadata.annotations ?? {};
  if (labels[INJECT_LABEL] !== 'true')
    return { action: 'skip', reason: `the pod is not labelled ${INJECT_LABEL}: "true"` };
  const names = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].map((c) => c.name);
  if (names.includes(PROXY_CONTAINER_NAME))
    return { action: 'skip', reason: `the pod already has a ${PROXY_CONTAINER_NAME} container` };
  if (labels[PROXY_LABEL] !== undefined)
    return { action: 'skip', reason: `the pod already carries the ${PROXY_LABEL} label` };

  const overrides = applyOverrides(config, annotations);
  if (!overrides.ok) return { action: 'reject', message: overrides.message };
  const o = overrides.value;
  for (const c of pod.spec.containers) {
    for (const p of c.ports ?? []) {
      if (p.containerPort === o.dataPort || p.containerPort === o.adminPort)
        return {
          action: 'reject',
          message: `container "${c.name}" uses port ${p.containerPort}, which the modelroute sidecar needs; set the ${SIDECAR_ANNOTATIONS.dataPort} or ${SIDECAR_ANNOTATIONS.adminPort} annotation to another port`,
        };
    }
  }
  const volumes = sidecarVolumes(credentials, config.credentialDelivery, configMaps);
  const taken = new Set((pod.spec.volumes ?? []).map((v) => v.name));
  const clash = volumes.find((v) => taken.has(v.name as string));
  if (clash)
    return {
      action: 'reject',
      message: `the pod already has a volume named "${String(clash.name)}", which the modelroute sidecar needs; rename it`,
    };

  const operations: JsonPatchOperation[] = [];
  // Into an existing map, add each key; with no map yet, add the map.
  const setMapEntries = (field: 'labels' | 'annotations', entries: Record<string, string>) => {
    if (!pod.metadata[field]) {
      operations.push({ op: 'add', path: `/metadata/${field}`, value: entries });
      return;
    }
    for (const [key, value] of Object.entries(entries))
      operations.push({ op: 'add', path: `/metadata/${field}/${pointerSegment(key)}`, value });
  };
  setMapEntries('labels', { [PROXY_LABEL]: 'true' });
  setMapEntries('annotations', {
    [ADMIN_PORT_ANNOTATION]: String(o.adminPort),
    ...(config.credentialDelivery ? { [ADMIN_TOKEN_ANNOTATION]: ADMIN_TOKEN_DELIVERED } : {}),
  });
  // Set by the pod's author with no channel to deliver the token: the controller
  // would push a token this proxy never gets.
  if (!config.credentialDelivery && annotations[ADMIN_TOKEN_ANNOTATION] !== undefined)
    operations.push({
      op: 'remove',
      path: `/metadata/annotations/${pointerSegment(ADMIN_TOKEN_ANNOTATION)}`,
    });
  const workload: WorkloadJson = {
    namespace,
    serviceAccount: pod.spec.serviceAccountName || 'default',
    labels: { ...labels, [PROXY_LABEL]: 'true' },
  };
  const sidecar = sidecarContainer(config, o, credentials, binding, workload, configMaps);
  if (config.mode === 'container') {
    operations.push({ op: 'add', path: '/spec/containers/-', value: sidecar });
  } else if (pod.spec.initContainers && pod.spec.initContainers.length > 0) {
    // First, so the pod's own init containers can already call the proxy.
    operations.push({ op: 'add', path: '/spec/initContainers/0', value: sidecar });
  } else {
    operations.push({ op: 'add', path: '/spec/initContainers', value: [sidecar] });
  }
  // A projected token needs a named ServiceAccount. The API server's ServiceAccount
  // admission names "default" before webhooks run; where it is off, we do the same.
  if (config.credentialDelivery && !pod.spec.serviceAccountName)
    operations.push({
      op: 'add',
      path: '/spec/serviceAccountName',
      value: workload.serviceAccount,
    });
  if (pod.spec.volumes && pod.spec.volumes.length > 0) {
    for (const v of volumes) operations.push({ op: 'add', path: '/spec/volumes/-', value: v });
  } else {
    operations.push({ op: 'add', path: '/spec/volumes', value: volumes });
  }
  return { action: 'inject', operations };
}
