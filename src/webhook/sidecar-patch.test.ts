import {
  ADMIN_PORT_ANNOTATION as CONTROLLER_ADMIN_PORT,
  PROXY_LABEL as CONTROLLER_PROXY_LABEL,
} from '../controller/controller.js';
import type { JsonPatchOperation } from '../k8s/types.js';
import { sidecarOtelEnvFrom } from './sidecar-telemetry.js';
import {
  ADMIN_PORT_ANNOTATION,
  admittedPod,
  credentialVolumeName,
  DEFAULT_SIDECAR_CONFIG,
  planSidecarInjection,
  PROXY_LABEL,
  type CredentialSecrets,
  type SidecarConfig,
} from './sidecar-patch.js';

const config: SidecarConfig = { ...DEFAULT_SIDECAR_CONFIG, image: 'modelroute:test' };

type Json = Record<string, unknown>;

/** RFC 6902 "add" and "remove" (the ops the planner emits), enough to see the patched pod. */
function applyPatch(doc: Json, ops: JsonPatchOperation[]): Json {
  const out = structuredClone(doc);
  for (const op of ops) {
    expect(['add', 'remove']).toContain(op.op);
    if (op.op !== 'add' && op.op !== 'remove') continue;
    const parts = op.path
      .split('/')
      .slice(1)
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = parts.pop() as string;
    let target: unknown = out;
    for (const p of parts) {
      target = (target as Json)[p];
      if (target === undefined) throw new Error(`patch path ${op.path}: ${p} does not exist`);
    }
    if (op.op === 'remove') {
      expect(Array.isArray(target)).toBe(false);
      expect(last in (target as Json)).toBe(true);
      delete (target as Json)[last];
    } else if (Array.isArray(target)) {
      if (last === '-') target.push(op.value);
      else if (last === '0') target.unshift(op.value);
      else throw new Error(`only "-" appends and inserts at 0 are expected, got ${op.path}`);
    } else (target as Json)[last] = op.value;
  }
  return out;
}

function pod(overrides: { labels?: Json | null; annotations?: Json; spec?: Json } = {}): Json {
  const metadata: Json = { name: 'app', namespace: 'team-a' };
  if (overrides.labels !== null)
    metadata.labels = { 'modelroute.io/inject': 'true', ...(overrides.labels ?? {}) };
  if (overrides.annotations) metadata.annotations = overrides.annotations;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata,
    spec: { containers: [{ name: 'app', image: 'app:1' }], ...(overrides.spec ?? {}) },
  };
}

const plan = (raw: Json, credentials: CredentialSecrets = new Map(), cfg = config) =>
  planSidecarInjection(admittedPod.parse(raw), cfg, credentials);

function injected(raw: Json, credentials: CredentialSecrets = new Map(), cfg = config) {
  const p = plan(raw, credentials, cfg);
  if (p.action !== 'inject') throw new Error(`expected an injection, got ${JSON.stringify(p)}`);
  const patched = applyPatch(raw, p.operations) as {
    metadata: { labels: Json; annotations: Json };
    spec: { containers: Json[]; initContainers?: Json[]; volumes: Json[] };
  };
  const all = [...patched.spec.containers, ...(patched.spec.initContainers ?? [])];
  const sidecar = all.find((c) => c.name === 'modelroute-proxy') as Json & {
    args: string[];
    volumeMounts: Json[];
    ports: { containerPort: number }[];
  };
  return { patched, sidecar };
}

test('the label and annotation the controller looks for are the ones the webhook adds', () => {
  expect(PROXY_LABEL).toBe(CONTROLLER_PROXY_LABEL);
  expect(ADMIN_PORT_ANNOTATION).toBe(CONTROLLER_ADMIN_PORT);
});

test('a labelled pod gets the proxy as a native sidecar, the proxy label, the admin-port annotation and a table volume', () => {
  const raw = pod();
  const { patched, sidecar } = injected(raw);
  expect(patched.metadata.labels).toEqual({
    'modelroute.io/inject': 'true',
    'modelroute.io/proxy': 'true',
  });
  expect(patched.metadata.annotations).toEqual({ 'modelroute.io/admin-port': '9901' });
  expect(patched.spec.containers.map((c) => c.name)).toEqual(['app']);
  expect(patched.spec.initContainers?.map((c) => c.name)).toEqual(['modelroute-proxy']);
  expect(sidecar).toMatchObject({
    image: 'modelroute:test',
    restartPolicy: 'Always',
    args: [
      'proxy',
      '--identity=sidecar',
      '--host=127.0.0.1',
      '--port=8080',
      '--admin-host=0.0.0.0',
      '--admin-port=9901',
      '--table-file=/var/run/modelroute/table/table.json',
      '--credentials-dir=/var/run/modelroute/credentials',
    ],
    env: [
      {
        name: 'MODELROUTE_ADMIN_TOKEN',
        valueFrom: { secretKeyRef: { name: 'modelroute-admin-token', key: 'token' } },
      },
      {
        name: 'POD_NAMESPACE',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } },
      },
      { name: 'MODELROUTE_CREDENTIAL_ORIGINS', value: '{}' },
      {
        name: 'POD_NAME',
        valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } },
      },
      {
        name: 'MODELROUTE_WORKLOAD',
        value: JSON.stringify({
          namespace: 'default',
          serviceAccount: 'default',
          labels: { 'modelroute.io/inject': 'true', 'modelroute.io/proxy': 'true' },
        }),
      },
    ],
    startupProbe: { httpGet: { path: '/healthz', port: 9901 } },
    readinessProbe: { httpGet: { path: '/readyz', port: 9901 } },
    livenessProbe: { httpGet: { path: '/healthz', port: 9901 } },
    resources: { requests: { cpu: '50m', memory: '160Mi' }, limits: { memory: '320Mi' } },
    securityContext: {
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [{ name: 'modelroute-table', mountPath: '/var/run/modelroute/table' }],
  });
  expect(patched.spec.volumes).toEqual([
    { name: 'modelroute-table', emptyDir: { sizeLimit: '16Mi' } },
  ]);
  // The user's own container is untouched.
  expect(patched.spec.containers[0]).toEqual((raw.spec as { containers: Json[] }).containers[0]);
});

test("a native sidecar goes before the pod's own init containers, which can then call it", () => {
  const { patched } = injected(
    pod({ spec: { initContainers: [{ name: 'migrate', image: 'migrate:1' }] } }),
  );
  expect(patched.spec.initContainers?.map((c) => c.name)).toEqual(['modelroute-proxy', 'migrate']);
  expect(patched.spec.containers.map((c) => c.name)).toEqual(['app']);
});

test('sidecar mode "container" appends a plain container instead, for clusters before 1.29', () => {
  const raw = pod({ spec: { initContainers: [{ name: 'migrate', image: 'migrate:1' }] } });
  const { patched, sidecar } = injected(raw, new Map(), { ...config, mode: 'container' });
  expect(patched.spec.containers.map((c) => c.name)).toEqual(['app', 'modelroute-proxy']);
  expect(patched.spec.initContainers?.map((c) => c.name)).toEqual(['migrate']);
  expect(sidecar.restartPolicy).toBeUndefined();
});

test('each credentials Secret is mounted read-only at <credentials-dir>/<secret> with only the referenced keys', () => {
  const credentials = new Map([
    ['openai', new Set(['api-key'])],
    ['anthropic.prod', new Set(['key', 'backup-key'])],
  ]);
  const { patched, sidecar } = injected(
    pod({ spec: { volumes: [{ name: 'data', emptyDir: {} }] } }),
    credentials,
  );
  expect(patched.spec.volumes.map((v) => v.name)).toEqual([
    'data',
    'modelroute-table',
    credentialVolumeName('anthropic.prod'),
    'modelroute-cred-openai',
  ]);
  expect(patched.spec.volumes[3]).toEqual({
    name: 'modelroute-cred-openai',
    secret: {
      secretName: 'openai',
      items: [{ key: 'api-key', path: 'api-key' }],
      optional: true,
      defaultMode: 0o444,
    },
  });
  expect((patched.spec.volumes[2] as { secret: { items: unknown[] } }).secret.items).toEqual([
    { key: 'backup-key', path: 'backup-key' },
    { key: 'key', path: 'key' },
  ]);
  expect(sidecar.volumeMounts).toEqual([
    { name: 'modelroute-table', mountPath: '/var/run/modelroute/table' },
    {
      name: credentialVolumeName('anthropic.prod'),
      mountPath: '/var/run/modelroute/credentials/anthropic.prod',
      readOnly: true,
    },
    {
      name: 'modelroute-cred-openai',
      mountPath: '/var/run/modelroute/credentials/openai',
      readOnly: true,
    },
  ]);
});

test.each([
  ['a dotted name', 'anthropic.prod'],
  ['a long name', `x${'y'.repeat(100)}`],
  ['a name whose shortened stem ends in a dash', `${'a'.repeat(29)}-.b`],
])('the volume name for %s is a valid DNS label and stable', (_what, secret) => {
  const name = credentialVolumeName(secret);
  expect(name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
  expect(name.length).toBeLessThanOrEqual(63);
  expect(credentialVolumeName(secret)).toBe(name);
});

test('labels and annotations with "/" in their keys are escaped in the patch paths', () => {
  const p = plan(pod({ annotations: { 'example.com/x': 'y' } }));
  if (p.action !== 'inject') throw new Error(p.action);
  expect(p.operations.slice(0, 2)).toEqual([
    { op: 'add', path: '/metadata/labels/modelroute.io~1proxy', value: 'true' },
    { op: 'add', path: '/metadata/annotations/modelroute.io~1admin-port', value: '9901' },
  ]);
});

test.each([
  [
    'ports and resources from annotations',
    {
      'modelroute.io/proxy-port': '18080',
      'modelroute.io/proxy-admin-port': '19901',
      'modelroute.io/proxy-cpu': '200m',
      'modelroute.io/proxy-memory': '128Mi',
      'modelroute.io/proxy-cpu-limit': '1',
      'modelroute.io/proxy-memory-limit': '1Gi',
    },
    {
      port: '--port=18080',
      adminPort: '--admin-port=19901',
      annotation: '19901',
      resources: {
        requests: { cpu: '200m', memory: '128Mi' },
        limits: { cpu: '1', memory: '1Gi' },
      },
    },
  ],
  [
    'defaults when no annotation is set',
    {},
    {
      port: '--port=8080',
      adminPort: '--admin-port=9901',
      annotation: '9901',
      resources: { requests: { cpu: '50m', memory: '160Mi' }, limits: { memory: '320Mi' } },
    },
  ],
])('%s', (_what, annotations, want) => {
  const { patched, sidecar } = injected(pod({ annotations }));
  expect(sidecar.args).toEqual(expect.arrayContaining([want.port, want.adminPort]));
  expect(patched.metadata.annotations['modelroute.io/admin-port']).toBe(want.annotation);
  expect(sidecar.resources).toEqual(want.resources);
});

test('configured resources (the chart’s webhook.sidecarResources) replace the defaults; annotations still override them', () => {
  const cfg: SidecarConfig = {
    ...config,
    resources: { requests: { cpu: '20m', memory: '80Mi' }, limits: { cpu: '500m' } },
  };
  expect(injected(pod(), new Map(), cfg).sidecar.resources).toEqual({
    requests: { cpu: '20m', memory: '80Mi' },
    limits: { cpu: '500m' },
  });
  const annotated = pod({ annotations: { 'modelroute.io/proxy-memory-limit': '300Mi' } });
  expect(injected(annotated, new Map(), cfg).sidecar.resources).toEqual({
    requests: { cpu: '20m', memory: '80Mi' },
    limits: { cpu: '500m', memory: '300Mi' },
  });
});

test.each([
  [
    'a bad port annotation',
    pod({ annotations: { 'modelroute.io/proxy-port': '80000' } }),
    /modelroute\.io\/proxy-port: "80000" is not a port/,
  ],
  [
    'a bad quantity annotation',
    pod({ annotations: { 'modelroute.io/proxy-memory': 'lots' } }),
    /modelroute\.io\/proxy-memory: "lots" is not a resource quantity/,
  ],
  [
    'equal data and admin ports',
    pod({ annotations: { 'modelroute.io/proxy-admin-port': '8080' } }),
    /must differ/,
  ],
  [
    'an app container on the proxy port',
    pod({ spec: { containers: [{ name: 'web', ports: [{ containerPort: 8080 }] }] } }),
    /container "web" uses port 8080.*modelroute\.io\/proxy-port/,
  ],
  [
    'a volume name the sidecar needs',
    pod({ spec: { volumes: [{ name: 'modelroute-table', emptyDir: {} }] } }),
    /already has a volume named "modelroute-table"/,
  ],
])('refuses a pod with %s, saying what to change', (_what, raw, message) => {
  const p = plan(raw);
  expect(p.action).toBe('reject');
  expect(p.action === 'reject' && p.message).toMatch(message);
});

test.each([
  ['no inject label', pod({ labels: null })],
  ['inject label not "true"', pod({ labels: { 'modelroute.io/inject': 'false' } })],
  ['the proxy label already (a gateway)', pod({ labels: { 'modelroute.io/proxy': 'true' } })],
])('skips a pod with %s', (_what, raw) => {
  expect(plan(raw).action).toBe('skip');
});

test('injection is idempotent: a reinvocation on the patched pod changes nothing', () => {
  const { patched } = injected(pod());
  const again = plan(patched);
  expect(again).toEqual({
    action: 'skip',
    reason: 'the pod already has a modelroute-proxy container',
  });
});

test('a pod without an annotations map gets the whole map added', () => {
  const raw = pod();
  // The objectSelector guarantees the label; annotations may be absent.
  const p = plan(raw);
  if (p.action !== 'inject') throw new Error(p.action);
  expect(p.operations[1]).toEqual({
    op: 'add',
    path: '/metadata/annotations',
    value: { 'modelroute.io/admin-port': '9901' },
  });
});

describe('workload identity and credential delivery', () => {
  const CA = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
  const URL = 'https://modelroute-webhook.modelroute-system.svc:443/v1/credentials';
  const delivering: SidecarConfig = { ...config, credentialDelivery: { url: URL, ca: CA } };

  function injectedIn(raw: Json, namespace: string, cfg: SidecarConfig) {
    const p = planSidecarInjection(admittedPod.parse(raw), cfg, new Map(), {}, namespace);
    if (p.action !== 'inject') throw new Error(JSON.stringify(p));
    const patched = applyPatch(raw, p.operations) as {
      spec: {
        initContainers: (Json & { args: string[]; env: Json[]; volumeMounts: Json[] })[];
        volumes: Json[];
      };
    };
    return { sidecar: patched.spec.initContainers[0]!, volumes: patched.spec.volumes };
  }

  test('the sidecar knows its pod: namespace, ServiceAccount and labels as admitted, and POD_NAME', () => {
    const raw = pod({ labels: { app: 'web' }, spec: { serviceAccountName: 'web-sa' } });
    const { sidecar } = injectedIn(raw, 'team-a', config);
    const workload = sidecar.env.find((e) => e.name === 'MODELROUTE_WORKLOAD') as { value: string };
    expect(JSON.parse(workload.value)).toEqual({
      namespace: 'team-a',
      serviceAccount: 'web-sa',
      labels: { 'modelroute.io/inject': 'true', app: 'web', 'modelroute.io/proxy': 'true' },
    });
    expect(sidecar.env).toContainEqual({
      name: 'POD_NAME',
      valueFrom: { fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.name' } },
    });
    expect(sidecar.args.slice(1, 3)).toEqual(['--identity=sidecar', '--host=127.0.0.1']);
  });

  test('with delivery on: the URL, the CA, and a pod-bound token for audience modelroute-controller', () => {
    const { sidecar, volumes } = injectedIn(pod(), 'team-a', delivering);
    expect(sidecar.args).toContain(`--credentials-url=${URL}`);
    expect(sidecar.args).toContain('--credentials-token-file=/var/run/secrets/modelroute/token');
    expect(sidecar.env).toContainEqual({ name: 'MODELROUTE_CREDENTIALS_CA', value: CA });
    expect(sidecar.volumeMounts).toContainEqual({
      name: 'modelroute-token',
      mountPath: '/var/run/secrets/modelroute',
      readOnly: true,
    });
    expect(volumes).toContainEqual({
      name: 'modelroute-token',
      projected: {
        sources: [
          {
            serviceAccountToken: {
              audience: 'modelroute-controller',
              expirationSeconds: 3600,
              path: 'token',
            },
          },
        ],
      },
    });
  });

  test('with delivery on, a pod without a ServiceAccount name gets "default" (what admission sets)', () => {
    const p = planSidecarInjection(admittedPod.parse(pod()), delivering, new Map(), {}, 'team-a');
    expect(p.action === 'inject' && p.operations).toContainEqual({
      op: 'add',
      path: '/spec/serviceAccountName',
      value: 'default',
    });
    const named = planSidecarInjection(
      admittedPod.parse(pod({ spec: { serviceAccountName: 'web-sa' } })),
      delivering,
      new Map(),
      {},
      'team-a',
    );
    expect(
      named.action === 'inject' &&
        named.operations.some((o) => o.path === '/spec/serviceAccountName'),
    ).toBe(false);
  });

  test('with delivery off: no token volume and no URL', () => {
    const { sidecar, volumes } = injectedIn(pod(), 'team-a', config);
    expect(volumes.map((v) => v.name)).toEqual(['modelroute-table']);
    expect(sidecar.args.some((a) => a.startsWith('--credentials-url'))).toBe(false);
  });

  describe('the admin token', () => {
    function patchedIn(raw: Json, cfg: SidecarConfig) {
      const p = planSidecarInjection(admittedPod.parse(raw), cfg, new Map(), {}, 'team-a');
      if (p.action !== 'inject') throw new Error(JSON.stringify(p));
      return applyPatch(raw, p.operations) as {
        metadata: { annotations: Json };
        spec: { initContainers: (Json & { env: Json[] })[] };
      };
    }

    test('with delivery on: no admin-token Secret referenced at all, and the pod is marked', () => {
      for (const raw of [pod(), pod({ annotations: { team: 'web' } })]) {
        const patched = patchedIn(raw, delivering);
        expect(JSON.stringify(patched)).not.toContain('modelroute-admin-token');
        expect(JSON.stringify(patched)).not.toContain('secretKeyRef');
        const env = patched.spec.initContainers[0]!.env.map((e) => e.name);
        expect(env).not.toContain('MODELROUTE_ADMIN_TOKEN');
        expect(env).toContain('POD_NAMESPACE');
        expect(patched.metadata.annotations).toMatchObject({
          'modelroute.io/admin-port': '9901',
          'modelroute.io/admin-token': 'delivered',
        });
      }
    });

    test("with delivery off: the Secret as before, unmarked, and an author's mark removed", () => {
      for (const raw of [
        pod(),
        pod({ annotations: { 'modelroute.io/admin-token': 'delivered' } }),
      ]) {
        const patched = patchedIn(raw, config);
        expect(patched.spec.initContainers[0]!.env).toContainEqual({
          name: 'MODELROUTE_ADMIN_TOKEN',
          valueFrom: { secretKeyRef: { name: 'modelroute-admin-token', key: 'token' } },
        });
        expect(patched.metadata.annotations).toEqual({ 'modelroute.io/admin-port': '9901' });
      }
    });
  });
});

describe('the exact-mode quota store (issue 14)', () => {
  const storeEnv = (cfg: SidecarConfig) => {
    const { sidecar } = injected(pod(), new Map(), cfg);
    return (sidecar.env as { name: string }[]).filter((e) => e.name === 'MODELROUTE_QUOTA_STORE');
  };

  test('from a Secret: a secretKeyRef in the pod, never the URL itself', () => {
    const env = storeEnv({ ...config, quotaStore: { secretName: 'quota-store', key: 'url' } });
    expect(env).toEqual([
      {
        name: 'MODELROUTE_QUOTA_STORE',
        valueFrom: { secretKeyRef: { name: 'quota-store', key: 'url', optional: true } },
      },
    ]);
  });

  test('from a URL: the value as given; none configured: no variable', () => {
    expect(storeEnv({ ...config, quotaStore: { url: 'redis://redis.quota:6379' } })).toEqual([
      { name: 'MODELROUTE_QUOTA_STORE', value: 'redis://redis.quota:6379' },
    ]);
    expect(storeEnv(config)).toEqual([]);
  });
});

describe('OpenTelemetry and the access log (issue 16)', () => {
  const env = (cfg: SidecarConfig) =>
    injected(pod(), new Map(), cfg).sidecar.env as { name: string; value?: string }[];

  test('the OTEL_* variables, the pod as resource attributes, headers from a Secret, the sample rate', () => {
    const { otelEnv } = sidecarOtelEnvFrom({
      MODELROUTE_SIDECAR_OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector.observability:4318',
      MODELROUTE_SIDECAR_OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      MODELROUTE_SIDECAR_OTEL_TRACES_SAMPLER_ARG: '0.25',
      MODELROUTE_SIDECAR_OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod',
      OTEL_SERVICE_NAME: 'modelroute-controller', // the controller's own: not passed on
      MODELROUTE_SIDECAR_QUOTA_STORE: 'redis://x:6379', // not an OTEL variable
    }) as { ok: true; otelEnv: Record<string, string> };
    const cfg: SidecarConfig = {
      ...config,
      telemetry: {
        otelEnv,
        headersSecret: { name: 'otlp-auth', key: 'headers' },
        accessLogSampleRate: 0.1,
      },
    };
    const all = env(cfg);
    const otel = all.filter((e) => e.name.startsWith('OTEL_'));
    expect(otel).toEqual([
      { name: 'OTEL_EXPORTER_OTLP_ENDPOINT', value: 'http://otel-collector.observability:4318' },
      { name: 'OTEL_TRACES_SAMPLER', value: 'parentbased_traceidratio' },
      { name: 'OTEL_TRACES_SAMPLER_ARG', value: '0.25' },
      {
        name: 'OTEL_RESOURCE_ATTRIBUTES',
        value:
          'k8s.namespace.name=$(POD_NAMESPACE),k8s.pod.name=$(POD_NAME),deployment.environment.name=prod',
      },
      {
        name: 'OTEL_EXPORTER_OTLP_HEADERS',
        valueFrom: { secretKeyRef: { name: 'otlp-auth', key: 'headers', optional: true } },
      },
    ]);
    // $(POD_NAME) and $(POD_NAMESPACE) expand only when defined earlier in the list.
    const names = all.map((e) => e.name);
    expect(names.indexOf('POD_NAME')).toBeLessThan(names.indexOf('OTEL_RESOURCE_ATTRIBUTES'));
    expect(names.indexOf('POD_NAMESPACE')).toBeLessThan(names.indexOf('OTEL_RESOURCE_ATTRIBUTES'));
    expect(injected(pod(), new Map(), cfg).sidecar.args).toContain('--access-log-sample-rate=0.1');
  });

  test('nothing configured: no OTEL variable and no access log flag (the sidecar loads no SDK)', () => {
    expect(env(config).filter((e) => e.name.startsWith('OTEL_'))).toEqual([]);
    expect(
      env({ ...config, telemetry: { otelEnv: {} } }).filter((e) => e.name.startsWith('OTEL_')),
    ).toEqual([]);
    expect(injected(pod()).sidecar.args.join(' ')).not.toContain('access-log');
  });

  test('OTLP headers as a literal are refused: they would be readable in every pod spec', () => {
    const refused = sidecarOtelEnvFrom({
      MODELROUTE_SIDECAR_OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer abc',
    });
    expect(refused).toEqual({
      ok: false,
      message: expect.stringContaining('--sidecar-otlp-headers-secret') as string,
    });
    expect(sidecarOtelEnvFrom({ MODELROUTE_SIDECAR_OTEL_bad: 'x' }).ok).toBe(false);
  });
});

describe('ConfigMap CA bundles (issue 18)', () => {
  test('referenced ConfigMap keys are mounted read-only under the configmaps dir, which the proxy is told', () => {
    const raw = pod();
    const p = planSidecarInjection(
      admittedPod.parse(raw),
      config,
      new Map(),
      {},
      'team',
      new Map([['corp-roots', new Set(['ca.crt'])]]),
    );
    if (p.action !== 'inject') throw new Error(JSON.stringify(p));
    const patched = applyPatch(raw, p.operations) as {
      spec: { initContainers: Json[]; volumes: Json[] };
    };
    const sidecar = patched.spec.initContainers[0] as {
      env: { name: string; value?: string }[];
      volumeMounts: Json[];
    };
    expect(sidecar.env).toContainEqual({
      name: 'MODELROUTE_CONFIGMAPS_DIR',
      value: '/var/run/modelroute/configmaps',
    });
    expect(sidecar.volumeMounts).toContainEqual({
      name: 'modelroute-cm-corp-roots',
      mountPath: '/var/run/modelroute/configmaps/corp-roots',
      readOnly: true,
    });
    expect(patched.spec.volumes).toContainEqual({
      name: 'modelroute-cm-corp-roots',
      configMap: {
        name: 'corp-roots',
        items: [{ key: 'ca.crt', path: 'ca.crt' }],
        optional: true,
        defaultMode: 0o444,
      },
    });
    // Without ConfigMaps, nothing of it.
    const { sidecar: plain } = injected(pod());
    expect(JSON.stringify(plain)).not.toContain('configmaps');
  });
});
