// Issue 13's attacks, on the real API server against the real controller and
// real proxies: a gateway proxy (`--identity gateway`, real TokenReview) in
// the platform namespace P that owns the backends and their keys, and sidecar
// proxies for app namespace A (granted P's backend) and B (not granted).
// Callers try to claim another tenant (spoofed headers, forged, foreign-
// audience and orphaned ServiceAccount tokens, expired, revoked and foreign
// keys), B tries to reach P's backend, and then every place a credential
// could surface (status, Events, logs, spans, metrics, admin GET bodies,
// error bodies) is searched for every secret the test used.
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../../src/identity/api-key.js';
import { createKubeTokenReviewer } from '../../src/k8s/token-reviewer.js';
import { CREDENTIALS_PATH } from '../../src/proxy/credential-protocol.js';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/proxy.js';
import type { RoutingTable } from '../../src/routing/table.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createTracing } from '../../src/telemetry/tracing.js';
import {
  controllerServiceAccountKubeconfig,
  createNamespace,
  grantControllerSecrets,
  installCRDs,
  mustKubectl,
  podBoundTokenFile,
  testenv,
  webhookCaPem,
} from '../support/cluster.js';
import {
  ADMIN_TOKEN,
  backendObject,
  ClusterHandle,
  loopbackWebhook,
  WEBHOOK_CERT_SECRET,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import { keyForms } from '../support/key-shapes.js';

/** Each case's bounded waits decide; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 120_000;
const API = 'modelroute.io/v1alpha1';
const PROVIDER_KEY = 'sk-platform-standard-5b1f0c9e7d2a4b6c8e0f1a3b';
const PREMIUM_PROVIDER_KEY = 'sk-platform-premium-9c8b7a6f5e4d3c2b1a0f9e8d';
/** Fixed bytes, so a failure names the same keys on every run. */
const seeded = (fill: number) => (n: number) => Buffer.alloc(n, fill);
const KEYS = {
  basic: generateApiKey(seeded(1)),
  revoked: generateApiKey(seeded(2)),
  expired: generateApiKey(seeded(3)),
  expiring: generateApiKey(seeded(5)),
  foreign: generateApiKey(seeded(4)),
};

let P: ClusterHandle;
let A: ClusterHandle;
let B: ClusterHandle;
const sims: Record<'standard' | 'premium', SimulatedBackend | undefined> = {
  standard: undefined,
  premium: undefined,
};
let controller: RunningController | undefined;
let credentialsUrl = '';
/** Every table B's proxy installed (recorded from before its pod was registered). */
const tablesOfB: RoutingTable[] = [];
const proxies: Record<'gateway' | 'a' | 'b', RunningProxy | undefined> = {
  gateway: undefined,
  a: undefined,
  b: undefined,
};
const logs: string[] = [];
const spans: InMemorySpanExporter[] = [];
/** Every ServiceAccount token the test used (and so must find nowhere). */
const tokens: string[] = [];
/** Every body the attacks got back. */
const errorBodies: string[] = [];

const logger = (component: string) =>
  createLogger({ level: 'debug', write: (line) => logs.push(`${component} ${line}`) });

function tracing() {
  const exporter = new InMemorySpanExporter();
  spans.push(exporter);
  return createTracing({ serviceName: 'identity-security', exporter });
}

function proxyOptions(component: string): ProxyOptions {
  return {
    host: '127.0.0.1',
    adminHost: '127.0.0.1',
    adminToken: { value: ADMIN_TOKEN },
    logger: logger(component),
    tracing: tracing(),
  };
}

/** A backend of P's behind the Secret provider-keys (its `key`). */
const backend = (name: string, sim: SimulatedBackend, key: string, extra: object = {}) =>
  backendObject(name, sim, { secretRef: { name: 'provider-keys', key }, ...extra });

const keyObject = (name: string, key: string, tenant: string, extra: object = {}) => ({
  apiVersion: API,
  kind: 'ModelAPIKey',
  metadata: { name },
  spec: { tenant, hash: hashApiKey(key), prefix: apiKeyPrefix(key), ...extra },
});

/** A route named chat in an app namespace, on P's standard backend. */
const appRoute = () => ({
  apiVersion: API,
  kind: 'ModelRoute',
  metadata: { name: 'chat' },
  spec: {
    model: 'chat',
    rules: [{ name: 'main', backendRefs: [{ name: 'standard', namespace: P.namespace }] }],
  },
});

/** Chat calls a simulator answered (its health probes list models; they are not counted). */
const chatHits = (sim: SimulatedBackend | undefined): number =>
  sim!.requests.filter((r) => r.path === '/v1/chat/completions').length;

const token = (namespace: string, account: string, audience = 'modelroute'): string => {
  const t = mustKubectl(['create', 'token', account, '-n', namespace, '--audience', audience]);
  tokens.push(t.trim());
  return t.trim();
};

async function admin<T>(proxy: RunningProxy | undefined, path: string): Promise<T> {
  const res = await fetch(`${proxy!.adminUrl}/admin/v1/${path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return (await res.json()) as T;
}

interface Answer {
  status: number;
  backend?: string | null;
  tenant?: string | null;
  ignored?: string | null;
  error?: unknown;
}

/** One chat call as `credential` through `proxy`; an error's body is kept for the leak search. */
async function call(
  proxy: RunningProxy | undefined,
  credential: string,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const client = new OpenAI({
    baseURL: `${proxy!.dataUrl}/v1`,
    apiKey: credential,
    maxRetries: 0,
    defaultHeaders: headers,
  });
  try {
    const { response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
      .withResponse();
    return {
      status: response.status,
      backend: response.headers.get('x-modelroute-backend'),
      tenant: response.headers.get('x-modelroute-tenant'),
      ignored: response.headers.get('x-modelroute-ignored-headers'),
    };
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    errorBodies.push(JSON.stringify(err.error));
    return { status: err.status ?? 0, error: err.error };
  }
}

const unauthorized = {
  status: 401,
  error: {
    message: expect.any(String),
    type: 'invalid_request_error',
    code: 'invalid_api_key',
    param: null,
  },
};

beforeAll(async () => {
  installCRDs();
  P = new ClusterHandle(createNamespace('sec-platform'));
  A = new ClusterHandle(createNamespace('sec-app-a'));
  B = new ClusterHandle(createNamespace('sec-app-b'));
  sims.standard = await startSimulatedBackend({
    models: ['standard-upstream'],
    requireApiKey: PROVIDER_KEY,
  });
  sims.premium = await startSimulatedBackend({
    models: ['premium-upstream'],
    requireApiKey: PREMIUM_PROVIDER_KEY,
  });

  // P owns the backends and their keys, grants `standard` to A only, and serves the gateway.
  P.must([
    ...['create', 'secret', 'generic', 'provider-keys', '-n', P.namespace],
    `--from-literal=standard=${PROVIDER_KEY}`,
    `--from-literal=premium=${PREMIUM_PROVIDER_KEY}`,
  ]);
  for (const account of ['basic-caller', 'vip', 'gone'])
    P.must(['create', 'serviceaccount', account, '-n', P.namespace]);
  P.apply([
    backend('standard', sims.standard, 'standard'),
    backend('premium', sims.premium, 'premium', { compliance: ['hipaa'] }),
    {
      apiVersion: API,
      kind: 'ModelBackendGrant',
      metadata: { name: 'app-a' },
      spec: { from: [{ namespace: A.namespace }], backends: ['standard'] },
    },
    {
      apiVersion: API,
      kind: 'ModelRoute',
      metadata: { name: 'chat' },
      spec: {
        model: 'chat',
        rules: [
          {
            name: 'premium',
            matches: [
              { tenants: ['premium'] },
              { priorities: ['high'] },
              { compliance: ['hipaa'] },
            ],
            backendRefs: [{ name: 'premium' }],
          },
          { name: 'rest', backendRefs: [{ name: 'standard' }] },
        ],
      },
    },
    {
      apiVersion: API,
      kind: 'ModelTenant',
      metadata: { name: 'basic' },
      spec: { priority: 'low', identities: { serviceAccounts: [{ name: 'basic-caller' }] } },
    },
    {
      apiVersion: API,
      kind: 'ModelTenant',
      metadata: { name: 'premium' },
      spec: {
        priority: 'high',
        compliance: ['hipaa'],
        identities: { serviceAccounts: [{ name: 'vip' }, { name: 'gone' }] },
      },
    },
    keyObject('k-basic', KEYS.basic, 'basic'),
    keyObject('k-revoked', KEYS.revoked, 'basic'),
    // Valid when the attacks start; expires while they run (the setup takes seconds, not 30).
    keyObject('k-expiring', KEYS.expiring, 'basic', {
      expiresAt: new Date(Date.now() + 30_000).toISOString(),
    }),
    keyObject('k-expired', KEYS.expired, 'basic', {
      expiresAt: new Date(Date.now() - 60_000).toISOString(),
    }),
  ]);
  grantControllerSecrets(P.namespace);
  // A has a tenant and a key of its own; B references P's backend without a grant.
  A.apply([
    appRoute(),
    {
      apiVersion: API,
      kind: 'ModelTenant',
      metadata: { name: 'gold' },
      spec: { priority: 'high' },
    },
    keyObject('k-foreign', KEYS.foreign, 'gold'),
  ]);
  B.apply([appRoute()]);

  controller = await startController({
    kubeconfigPath: controllerServiceAccountKubeconfig(),
    namespaces: [P.namespace, A.namespace, B.namespace],
    credentialNamespaces: [P.namespace],
    adminToken: ADMIN_TOKEN,
    identity: 'identity-security',
    leaseNamespace: 'modelroute-system',
    leaseName: `modelroute-controller-${P.namespace}`,
    logger: logger('controller'),
    statsIntervalMs: 1000,
    health: { host: '127.0.0.1', port: 0 },
    webhook: loopbackWebhook([P.namespace], 5),
  });
  const ca = await webhookCaPem(WEBHOOK_CERT_SECRET);
  credentialsUrl = `${new URL(controller.webhookUrl!).origin}${CREDENTIALS_PATH}`;

  // The gateway in P: P's keys mounted as the chart mounts them, callers verified by TokenReview.
  const mounted = mkdtempSync(join(tmpdir(), 'modelroute-sec-keys-'));
  mkdirSync(join(mounted, 'provider-keys'));
  writeFileSync(join(mounted, 'provider-keys', 'standard'), PROVIDER_KEY);
  writeFileSync(join(mounted, 'provider-keys', 'premium'), PREMIUM_PROVIDER_KEY);
  proxies.gateway = await startProxy({
    ...proxyOptions('gateway'),
    namespace: P.namespace,
    credentialsDir: mounted,
    identity: {
      mode: 'gateway',
      tokenReviewer: createKubeTokenReviewer(testenv.kubeconfig),
      audience: 'modelroute',
    },
  });
  P.registerProxy('gateway-1', proxies.gateway);

  // Sidecars: the pod is the caller; A's fetches P's key from the controller, in memory only.
  for (const [key, ns] of [
    ['a', A],
    ['b', B],
  ] as const) {
    const pod = `chat-${key}`;
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'modelroute-sec-token-')), 'token');
    const proxy = await startProxy({
      ...proxyOptions(`sidecar-${key}`),
      namespace: ns.namespace,
      identity: {
        mode: 'sidecar',
        workload: {
          kind: 'workload',
          namespace: ns.namespace,
          serviceAccount: 'app',
          labels: { app: 'chat' },
          pod,
        },
      },
      credentialDelivery: { url: credentialsUrl, ca, tokenFile, namespace: ns.namespace },
    });
    proxies[key] = proxy;
    if (key === 'b') proxy.runtime.store.onChange((prepared) => tablesOfB.push(prepared.table));
    ns.must(['create', 'serviceaccount', 'app', '-n', ns.namespace]);
    ns.registerProxy(pod, proxy, undefined, { serviceAccountName: 'app' });
    // Written once the pod exists (the token is bound to it); the proxy retries until then.
    const bound = podBoundTokenFile(ns.namespace, 'app', pod);
    tokens.push(readFileSync(bound, 'utf8').trim());
    renameSync(bound, tokenFile);
  }

  // Every proxy has its namespace's table before the attacks start.
  await eventually(async () => {
    const gateway = await admin<RoutingTable>(proxies.gateway, 'table');
    expect(gateway.apiKeys?.map((k) => k.id)).toEqual([
      `${P.namespace}/k-basic`,
      `${P.namespace}/k-expiring`,
      `${P.namespace}/k-revoked`,
    ]);
    expect((await call(proxies.a, 'unused')).status).toBe(200);
    const b = await admin<RoutingTable>(proxies.b, 'table');
    expect(b.routes.map((r) => r.id)).toEqual([`${B.namespace}/chat`]);
  }, 60_000);
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  for (const p of Object.values(proxies)) await p?.close();
  await controller?.close();
  for (const s of Object.values(sims)) await s?.close();
});

test(
  'header spoofing: a caller of tenant basic gets basic’s rule, and the ignored headers are listed',
  async () => {
    const spoof = {
      'x-modelroute-tenant': 'premium',
      'x-modelroute-priority': 'high',
      'x-modelroute-compliance': 'hipaa',
    };
    for (const credential of [KEYS.basic, token(P.namespace, 'basic-caller')]) {
      const answer = await call(proxies.gateway, credential, spoof);
      expect(answer).toMatchObject({ status: 200, tenant: 'basic' });
      expect(answer.backend).toContain('standard');
      expect(
        answer.ignored
          ?.split(',')
          .map((h) => h.trim())
          .sort(),
      ).toEqual(['x-modelroute-compliance', 'x-modelroute-priority', 'x-modelroute-tenant']);
    }
    // A sidecar's caller is its pod: neither the headers nor gold's key (in the same namespace) count.
    const sidecar = await call(proxies.a, KEYS.foreign, { 'x-modelroute-tenant': 'gold' });
    expect(sidecar).toMatchObject({
      status: 200,
      tenant: 'default',
      ignored: 'x-modelroute-tenant',
    });
    // The rule is reachable for the tenant that is verified as premium.
    const vip = await call(proxies.gateway, token(P.namespace, 'vip'));
    expect(vip).toMatchObject({ status: 200, tenant: 'premium' });
    expect(vip.backend).toContain('premium');
    expect(chatHits(sims.premium)).toBe(1);
  },
  CASE_TIMEOUT_MS,
);

test(
  'forged, foreign-audience and orphaned tokens, expired, revoked and foreign keys are 401, naming nobody',
  async () => {
    // Deleted before its first use: the API server caches a successful review for 10 s.
    const orphan = token(P.namespace, 'gone');
    P.must(['delete', 'serviceaccount', 'gone', '-n', P.namespace, '--wait=true']);
    const real = token(P.namespace, 'basic-caller');
    const [header, payload, signature] = real.split('.') as [string, string, string];
    const i = Math.floor(signature.length / 2);
    const forged = `${header}.${payload}.${signature.slice(0, i)}${signature[i] === 'A' ? 'B' : 'A'}${signature.slice(i + 1)}`;
    tokens.push(forged);

    expect((await call(proxies.gateway, KEYS.revoked)).status).toBe(200);
    P.must([
      ...['patch', 'modelapikey', 'k-revoked', '-n', P.namespace],
      ...['--type=merge', '-p', '{"spec":{"revoked":true}}'],
    ]);
    await eventually(
      async () => expect(await call(proxies.gateway, KEYS.revoked)).toEqual(unauthorized),
      30_000,
    );

    expect((await call(proxies.gateway, KEYS.expiring)).status).toBe(200);
    await eventually(
      async () => expect(await call(proxies.gateway, KEYS.expiring)).toEqual(unauthorized),
      45_000,
      500,
    );

    const attacks = {
      forged,
      'other audience': token(P.namespace, 'basic-caller', 'https://kubernetes.default.svc'),
      'deleted ServiceAccount': orphan,
      'expired key': KEYS.expired,
      'key expired during the test': KEYS.expiring,
      'revoked key': KEYS.revoked,
      "another namespace's key": KEYS.foreign,
    };
    const before = chatHits(sims.standard) + chatHits(sims.premium);
    const names = [
      P.namespace,
      A.namespace,
      B.namespace,
      'basic',
      'premium',
      'gold',
      'k-basic',
      'k-revoked',
      'k-expired',
      'k-expiring',
      'k-foreign',
      'standard',
    ];
    for (const [attack, credential] of Object.entries(attacks)) {
      const answer = await call(proxies.gateway, credential);
      expect({ attack, ...answer }).toEqual({ attack, ...unauthorized });
      const body = JSON.stringify(answer.error);
      for (const name of names)
        expect({ attack, body, names: body.includes(name) }).toEqual({
          attack,
          body,
          names: false,
        });
    }
    const bare = await fetch(`${proxies.gateway!.dataUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-modelroute-tenant': 'premium' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
    });
    const bareBody = await bare.text();
    errorBodies.push(bareBody);
    expect({ status: bare.status, error: JSON.parse(bareBody).error }).toEqual(unauthorized);
    expect(chatHits(sims.standard) + chatHits(sims.premium)).toBe(before);

    // The controller's credential endpoint, asked with a caller's token: 401, and nothing echoed.
    const { Agent, request } = await import('undici');
    const dispatcher = new Agent({ connect: { ca: await webhookCaPem(WEBHOOK_CERT_SECRET) } });
    for (const credential of [real, forged]) {
      const res = await request(credentialsUrl, {
        method: 'POST',
        dispatcher,
        headers: { authorization: `Bearer ${credential}`, 'content-type': 'application/json' },
        body: JSON.stringify({ backendIds: [`${P.namespace}/standard`] }),
      });
      expect(res.statusCode).toBe(401);
      errorBodies.push(await res.body.text());
    }
    await dispatcher.close();
  },
  CASE_TIMEOUT_MS,
);

test(
  'a namespace without a ModelBackendGrant never has the platform backend; the granted one uses it',
  async () => {
    const standardHits = () => chatHits(sims.standard);
    const before = standardHits();
    expect(await call(proxies.a, 'unused')).toMatchObject({ status: 200 });
    expect(standardHits()).toBe(before + 1);

    const refused = await call(proxies.b, 'unused');
    expect(refused.status).toBeGreaterThanOrEqual(400);
    expect(standardHits()).toBe(before + 1);
    const table = await admin<RoutingTable>(proxies.b, 'table');
    expect(table.routes.map((r) => r.id)).toEqual([`${B.namespace}/chat`]);
    expect(tablesOfB.length).toBeGreaterThan(0);
    for (const installed of [table, ...tablesOfB]) {
      expect(installed.backends).toEqual([]);
      expect(JSON.stringify(installed)).not.toContain(sims.standard!.url);
    }
    const status = B.json<{ status?: { conditions?: { type: string; reason: string }[] } }>([
      'get',
      'mr',
      'chat',
    ]).status;
    expect(status?.conditions?.find((c) => c.type === 'ResolvedRefs')?.reason).toBe(
      'RefNotPermitted',
    );
  },
  CASE_TIMEOUT_MS,
);

/** Every form a secret may take in text (keys: plain, URL-encoded, base64, base64url). */
function secrets(): Record<string, string[]> {
  const all: Record<string, string> = {
    'provider key standard': PROVIDER_KEY,
    'provider key premium': PREMIUM_PROVIDER_KEY,
    ...Object.fromEntries(Object.entries(KEYS).map(([k, v]) => [`virtual key ${k}`, v])),
    ...Object.fromEntries(tokens.map((t, i) => [`token ${i}`, t])),
  };
  return Object.fromEntries(Object.entries(all).map(([name, value]) => [name, keyForms(value)]));
}

async function get(url: string, auth = true): Promise<string> {
  const res = await fetch(url, auth ? { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } } : {});
  return `${res.status} ${await res.text()}`;
}

test(
  'no credential appears in status, Events, logs, spans, metrics, admin GET bodies or error bodies',
  async () => {
    const kinds = mustKubectl(['api-resources', '--api-group=modelroute.io', '-o', 'name'])
      .trim()
      .split('\n')
      .join(',');
    const places: Record<string, string> = {
      'modelroute.io objects': mustKubectl(['get', kinds, '-A', '-o', 'yaml']),
      Events: mustKubectl(['get', 'events', '-A', '-o', 'yaml']),
      logs: logs.join('\n'),
      spans: JSON.stringify(
        spans.flatMap((e) =>
          e.getFinishedSpans().map((s) => ({
            name: s.name,
            attributes: s.attributes,
            events: s.events,
            status: s.status,
          })),
        ),
      ),
      'controller /metrics': await get(`${controller!.healthUrl!}/metrics`, false),
      'controller /healthz': await get(`${controller!.healthUrl!}/healthz`, false),
      'controller /readyz': await get(`${controller!.healthUrl!}/readyz`, false),
      'error bodies': errorBodies.join('\n'),
    };
    for (const [name, proxy] of Object.entries(proxies))
      for (const path of ['/metrics', '/healthz', '/readyz', '/admin/v1/table', '/admin/v1/stats'])
        places[`${name} ${path}`] = await get(`${proxy!.adminUrl}${path}`);
    // The places hold what they should, so an empty capture cannot pass for a clean one.
    expect(places.spans).toContain('modelroute.tenant');
    expect(places.logs).toContain('credentials delivered');
    expect(places['error bodies']).toContain('invalid_api_key');
    expect(places['gateway /admin/v1/table']).toContain(hashApiKey(KEYS.basic));
    for (const [place, text] of Object.entries(places))
      if (place.includes('/'))
        expect({ place, status: text.slice(0, 4) }).toEqual({ place, status: '200 ' });

    const found: string[] = [];
    for (const [secret, forms] of Object.entries(secrets()))
      for (const [place, text] of Object.entries(places))
        if (forms.some((form) => text.includes(form))) found.push(`${secret} in ${place}`);
    expect(found).toEqual([]);
  },
  CASE_TIMEOUT_MS,
);
