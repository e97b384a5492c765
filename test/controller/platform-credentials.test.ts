// Backends owned once, on the real API server: a platform namespace holds a
// ModelBackend and its provider-key Secret; proxies in two app namespaces
// (granted) get the key from the controller's credential endpoint (real
// TokenReview of pod-bound projected tokens, the controller running as its
// ServiceAccount with the repository's RBAC) and call a simulated backend that
// checks it. No Secret exists in the app namespaces; a rotation is picked up;
// a namespace without a grant is refused; no key appears in any log line.
import OpenAI from 'openai';
import { modelBackend, modelRoute, type ModelBackendGrant } from '../../src/api/v1alpha1/index.js';
import { CREDENTIALS_PATH } from '../../src/proxy/credential-protocol.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { compileRoutingTable } from '../../src/routing/compile.js';
import type { CompiledBackend } from '../../src/routing/table.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import {
  startSidecarInjector,
  type RunningSidecarInjector,
} from '../../src/webhook/sidecar-injector.js';
import {
  controllerServiceAccountKubeconfig,
  createNamespace,
  grantControllerSecrets,
  installCRDs,
  mustKubectl,
  podBoundTokenFile,
  webhookCaPem,
} from '../support/cluster.js';
import { ADMIN_TOKEN, loopbackWebhook, WEBHOOK_CERT_SECRET } from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';

const CASE_TIMEOUT_MS = 120_000;
const KEY_1 = 'sk-platform-key-one-0123456789abcdef';
const KEY_2 = 'sk-platform-key-two-fedcba9876543210';
const REFRESH_SECONDS = 1;

let platform: string;
const apps: Record<'a' | 'b' | 'c', string> = { a: '', b: '', c: '' };
let sim: SimulatedBackend;
let injector: RunningSidecarInjector;
let credentialsUrl: string;
let ca: string;
const proxies: Record<string, RunningProxy> = {};
const clients: Record<string, OpenAI> = {};
const tokenFiles: Record<string, string> = {};
/** Every log line of the controller's endpoint and of the proxies. */
const logs: string[] = [];
const logger = (component: string) =>
  createLogger({ level: 'debug', write: (line) => logs.push(`${component} ${line}`) });

function apply(namespace: string, objects: object[]): void {
  mustKubectl(
    ['apply', '-n', namespace, '-f', '-'],
    objects.map((o) => JSON.stringify(o)).join('\n'),
  );
}

function backendSpec() {
  return {
    provider: 'openai-compatible' as const,
    endpoint: `${sim.url}/v1`,
    model: 'gpt-upstream',
    secretRef: { name: 'provider-keys', key: 'openai' },
  };
}

/**
 * The backends of the table a proxy pod gets, from the cluster as it is:
 * P's backend when a ModelBackendGrant in P lets the pod's namespace use it.
 * Stands in for the controller's cross-namespace compile (another change):
 * swap it for podTableBackends once compile honours grants.
 */
async function grantedTableBackends(pod: { namespace: string }): Promise<CompiledBackend[]> {
  const grants = JSON.parse(
    mustKubectl(['get', 'modelbackendgrants', '-n', platform, '-o', 'json']),
  ) as { items: ModelBackendGrant[] };
  const granted = grants.items.some(
    (g) =>
      g.spec.from.some((f) => f.namespace === pod.namespace) &&
      (g.spec.backends === undefined || g.spec.backends.includes('gpt')),
  );
  return Promise.resolve(granted ? platformTable().backends : []);
}

/** The table the proxies run: a route using P's backend (what a granted compile yields). */
function platformTable() {
  const backend = modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name: 'gpt', namespace: platform },
    spec: backendSpec(),
  });
  const route = modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'chat', namespace: platform },
    spec: {
      model: 'chat',
      rules: [{ name: 'main', strategy: 'priority', backendRefs: [{ name: 'gpt' }] }],
    },
  });
  return compileRoutingTable([route], [backend]);
}

/** A proxy pod object in `namespace` and a projected token bound to it. */
function proxyPod(namespace: string, name: string): string {
  apply(namespace, [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'app' } },
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, labels: { 'modelroute.io/proxy': 'true' } },
      spec: {
        serviceAccountName: 'app',
        containers: [{ name: 'proxy', image: 'modelroute:test' }],
      },
    },
  ]);
  return podBoundTokenFile(namespace, 'app', name);
}

async function post(token: string, body: unknown): Promise<{ status: number; text: string }> {
  const { Agent, request } = await import('undici');
  const dispatcher = new Agent({ connect: { ca } });
  try {
    const res = await request(credentialsUrl, {
      method: 'POST',
      dispatcher,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: res.statusCode, text: await res.body.text() };
  } finally {
    await dispatcher.close();
  }
}

const ask = (client: OpenAI) =>
  client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });

beforeAll(async () => {
  installCRDs();
  platform = createNamespace('platform');
  apps.a = createNamespace('app-a');
  apps.b = createNamespace('app-b');
  apps.c = createNamespace('app-c');
  sim = await startSimulatedBackend({ models: ['gpt-upstream'], requireApiKey: KEY_1 });

  // The platform namespace: the backend, its key, and the grant to A and B only.
  mustKubectl([
    'create',
    'secret',
    'generic',
    'provider-keys',
    '-n',
    platform,
    `--from-literal=openai=${KEY_1}`,
  ]);
  apply(platform, [
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelBackend',
      metadata: { name: 'gpt' },
      spec: backendSpec(),
    },
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelBackendGrant',
      metadata: { name: 'apps' },
      spec: { from: [{ namespace: apps.a }, { namespace: apps.b }] },
    },
  ]);
  // What the chart renders for platformNamespaces: [P].
  grantControllerSecrets(platform);
  // The app namespaces reference P's backend (accepted by the CRD; the grant decides).
  for (const ns of [apps.a, apps.b, apps.c])
    apply(ns, [
      {
        apiVersion: 'modelroute.io/v1alpha1',
        kind: 'ModelRoute',
        metadata: { name: 'chat' },
        spec: {
          model: 'chat',
          rules: [
            {
              name: 'main',
              strategy: 'priority',
              backendRefs: [{ name: 'gpt', namespace: platform }],
            },
          ],
        },
      },
    ]);

  // The controller's credential endpoint, as its ServiceAccount (TokenReview and Secret reads real).
  injector = await startSidecarInjector(loopbackWebhook([platform], REFRESH_SECONDS), {
    kubeconfigPath: controllerServiceAccountKubeconfig(),
    logger: logger('controller'),
    routes: () => [],
    backends: () => [],
    synced: () => true,
    tableBackends: grantedTableBackends,
  });
  credentialsUrl = `${new URL(injector.url).origin}${CREDENTIALS_PATH}`;
  ca = await webhookCaPem(WEBHOOK_CERT_SECRET);

  for (const key of ['a', 'b', 'c'] as const) {
    const namespace = apps[key];
    tokenFiles[key] = proxyPod(namespace, `proxy-${key}`);
    const proxy = await startProxy({
      logger: logger(`proxy-${key}`),
      adminToken: { value: ADMIN_TOKEN },
      credentialDelivery: { url: credentialsUrl, ca, tokenFile: tokenFiles[key], namespace },
    });
    proxies[key] = proxy;
    clients[key] = new OpenAI({ baseURL: `${proxy.dataUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
    expect(proxy.runtime.store.update(platformTable())).toMatchObject({ ok: true });
  }
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(Object.values(proxies).map((p) => p.close()));
  await injector?.close();
  await sim?.close();
  for (const ns of [platform, apps.a, apps.b, apps.c])
    if (ns) mustKubectl(['delete', 'namespace', ns, '--wait=false']);
});

test(
  'proxies in two granted app namespaces use the platform key, with no Secret in either',
  async () => {
    for (const key of ['a', 'b'] as const)
      await eventually(async () => {
        const answer = await ask(clients[key]!);
        expect(answer.choices[0]?.message.content).toBeTruthy();
      }, 30_000);
    for (const ns of [apps.a, apps.b])
      expect(mustKubectl(['get', 'secrets', '-n', ns, '-o', 'name']).trim()).toBe('');
  },
  CASE_TIMEOUT_MS,
);

test(
  'a rotated platform Secret is in use after the controller cache and the refresh',
  async () => {
    await eventually(async () => expect((await ask(clients.a!)).choices).toHaveLength(1), 30_000);
    mustKubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'provider-keys', namespace: platform },
        stringData: { openai: KEY_2 },
      }),
    );
    sim.setBehavior({ requireApiKey: KEY_2 });
    // Bounded by the controller's Secret cache (10 s) plus a refresh (1 s) plus a
    // circuit that may have opened on the old key's 401s: generous on a busy machine.
    for (const key of ['a', 'b'] as const)
      await eventually(
        async () => expect((await ask(clients[key]!)).choices).toHaveLength(1),
        60_000,
        500,
      );
  },
  CASE_TIMEOUT_MS,
);

test(
  'a proxy in a namespace without a grant is refused its credentials, and says so',
  async () => {
    await eventually(async () => {
      const err = await ask(clients.c!).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
      expect((err as Error).message).toContain(`${platform}/gpt`);
      expect((err as Error).message).toContain('not in the routing table');
    }, 30_000);
    const { readFileSync } = await import('node:fs');
    const refused = await post(readFileSync(tokenFiles.c!, 'utf8').trim(), {
      backendIds: [`${platform}/gpt`],
    });
    expect(refused.status).toBe(403);
  },
  CASE_TIMEOUT_MS,
);

test(
  "tokens that are not a proxy pod's projected token for this audience get 401",
  async () => {
    const wrongAudience = mustKubectl([
      'create',
      'token',
      'app',
      '-n',
      apps.a,
      '--duration',
      '1h',
    ]).trim();
    const answer = await post(wrongAudience, { backendIds: [`${platform}/gpt`] });
    expect(answer.status).toBe(401);
    expect(answer.text).not.toContain(wrongAudience);
    expect((await post('forged.token.value', { backendIds: [`${platform}/gpt`] })).status).toBe(
      401,
    );
  },
  CASE_TIMEOUT_MS,
);

test('no key value appears in any log line, admin body or metrics of the endpoint or the proxies', async () => {
  const all = logs.join('\n');
  expect(all).toContain('credentials delivered');
  const bodies: string[] = [all];
  for (const proxy of Object.values(proxies))
    for (const path of ['/admin/v1/table', '/admin/v1/stats', '/metrics']) {
      const res = await fetch(`${proxy.adminUrl}${path}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      expect(res.status).toBe(200);
      bodies.push(await res.text());
    }
  for (const text of bodies) {
    expect(text).not.toContain(KEY_1);
    expect(text).not.toContain(KEY_2);
  }
});
