// Who is calling, against a real proxy and the official openai client: a
// caller is who the proxy verified (the pod, a virtual key, a ServiceAccount
// token), never what it wrote in a header, and refusals say nothing about
// other tenants or keys. ServiceAccount tokens go to a fake TokenReviewer here;
// test/controller/token-review.test.ts uses the real API server's.
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import OpenAI, { APIError } from 'openai';
import { generateApiKey } from '../../src/identity/api-key.js';
import type { ProxyIdentity } from '../../src/identity/authenticate.js';
import type { TokenReviewer } from '../../src/identity/token-review.js';
import { startProxy } from '../../src/proxy/proxy.js';
import { seededRandom } from '../../src/routing/random.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createTracing } from '../../src/telemetry/tracing.js';
import {
  apiKey,
  post,
  route,
  startDataPlane,
  tenant,
  type DataPlane,
  type TestIdentity,
} from '../support/data-plane.js';

const BASIC_KEY = generateApiKey(() => Buffer.alloc(32, 1));
const PREMIUM_KEY = generateApiKey(() => Buffer.alloc(32, 2));
const ROUTER_KEY = generateApiKey(() => Buffer.alloc(32, 3));
const REVOKED_KEY = generateApiKey(() => Buffer.alloc(32, 4));
const EXPIRING_KEY = generateApiKey(() => Buffer.alloc(32, 5));
const OTHER_NS_KEY = generateApiKey(() => Buffer.alloc(32, 6));
const EXPIRES_AT = Date.parse('2026-12-03T06:00:00Z');

/** Names a refusal must never mention: other tenants, keys and namespaces. */
const SECRETS_OF_OTHERS = ['premium', 'router', 'team-b', 'k-premium', 'k-router', 'k-other'];

/** Tokens the fake TokenReviewer knows, by the ServiceAccount they are for. */
const TOKENS = {
  billing: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJiaWxsaW5nIn0.billing-signature',
  stranger: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzdHJhbmdlciJ9.stranger-signature',
  otherAudience: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvdGhlciJ9.other-audience-signature',
};

const reviewer: TokenReviewer = {
  review(token, audiences) {
    const forUs = audiences.includes('modelroute');
    const account =
      token === TOKENS.billing
        ? 'billing'
        : token === TOKENS.stranger
          ? 'stranger'
          : token === TOKENS.otherAudience
            ? 'billing'
            : undefined;
    if (!account) return Promise.resolve({ authenticated: false });
    return Promise.resolve({
      authenticated: true,
      username: `system:serviceaccount:default:${account}`,
      audiences: token === TOKENS.otherAudience || !forUs ? [] : ['modelroute'],
    });
  },
};

/** `premium` and `router` callers get the big backend by rule; everyone else the small one. */
const routes = () => [
  route('chat', {
    rules: [
      { name: 'premium', matches: [{ tenants: ['premium'] }], backendRefs: [{ name: 'big' }] },
      { name: 'rest', backendRefs: [{ name: 'small' }] },
    ],
  }),
  route('big-chat', { rules: [{ name: 'all', backendRefs: [{ name: 'big' }] }] }),
  // A rule matching the header itself: an untrusted routing header is hidden from header matches too.
  route('by-header', {
    rules: [
      {
        name: 'premium-header',
        matches: [{ headers: [{ name: 'x-modelroute-tenant', value: 'premium' }] }],
        backendRefs: [{ name: 'big' }],
      },
      { name: 'rest', backendRefs: [{ name: 'small' }] },
    ],
  }),
  route('embed', { rules: [{ name: 'all', backendRefs: [{ name: 'small' }] }] }),
];
const capabilities = ['chat' as const, 'completions' as const, 'embeddings' as const];
const backends = [
  { name: 'big', spec: { capabilities } },
  { name: 'small', spec: { capabilities } },
];

const tableIdentity = (over: Partial<TestIdentity> = {}): TestIdentity => ({
  tenants: [
    tenant('basic', {
      identities: { serviceAccounts: [{ name: 'billing' }] },
      routes: ['chat', 'embed', 'by-header'],
    }),
    tenant('premium', { priority: 'high' }),
    tenant('router', { trustedHeaders: ['tenant'] }),
  ],
  keys: [
    apiKey('k-basic', BASIC_KEY, 'basic'),
    apiKey('k-premium', PREMIUM_KEY, 'premium'),
    apiKey('k-router', ROUTER_KEY, 'router'),
    apiKey('k-revoked', REVOKED_KEY, 'basic', { revoked: true }),
    apiKey('k-expiring', EXPIRING_KEY, 'basic', { expiresAt: new Date(EXPIRES_AT).toISOString() }),
    apiKey('k-other', OTHER_NS_KEY, 'basic', { namespace: 'team-b' }),
  ],
  compiledAtMs: EXPIRES_AT - 60_000,
  ...over,
});

let dp: DataPlane | undefined;
let clock = EXPIRES_AT - 1_000;
const logLines: string[] = [];
afterEach(async () => {
  await dp?.close();
  dp = undefined;
  clock = EXPIRES_AT - 1_000;
  logLines.length = 0;
});

/** A new one per proxy: closing a proxy shuts its exporter down. */
let spans = new InMemorySpanExporter();
async function start(identity: ProxyIdentity, over: Partial<TestIdentity> = {}) {
  spans = new InMemorySpanExporter();
  dp = await startDataPlane(backends, routes(), {
    identity,
    tracing: createTracing({ serviceName: 'identity-test', exporter: spans }),
    now: () => clock,
    logger: createLogger({ level: 'debug', write: (l) => logLines.push(l) }),
    tableIdentity: tableIdentity(over),
  });
  return dp;
}
const gateway: ProxyIdentity = { mode: 'gateway', tokenReviewer: reviewer };

function client(key: string, headers: Record<string, string> = {}): OpenAI {
  return new OpenAI({
    baseURL: `${dp!.proxy.dataUrl}/v1`,
    apiKey: key,
    maxRetries: 0,
    defaultHeaders: headers,
  });
}

const hello = (model = 'chat') => ({
  model,
  messages: [{ role: 'user' as const, content: 'hello' }],
});

async function served(key: string, headers: Record<string, string> = {}, model = 'chat') {
  const { response } = await client(key, headers)
    .chat.completions.create(hello(model))
    .withResponse();
  return {
    tenant: response.headers.get('x-modelroute-tenant'),
    backend: response.headers.get('x-modelroute-backend'),
    ignored: response.headers.get('x-modelroute-ignored-headers'),
  };
}

async function refusal(key: string, model = 'chat'): Promise<APIError> {
  try {
    await client(key).chat.completions.create(hello(model));
  } catch (err) {
    if (err instanceof APIError) return err;
    throw err;
  }
  throw new Error('the request was served');
}

function expectNothingAboutOthers(err: APIError, ownTenant?: string): void {
  const text = JSON.stringify(err.error);
  for (const name of SECRETS_OF_OTHERS.filter((n) => n !== ownTenant))
    expect(text).not.toContain(name);
}

describe('header spoofing', () => {
  test('a sidecar caller sending x-modelroute-tenant: premium stays its own tenant and gets its own backend', async () => {
    await start({
      mode: 'sidecar',
      workload: { kind: 'workload', namespace: 'default', serviceAccount: 'billing', labels: {} },
    });
    expect(
      await served('sk-dummy', {
        'x-modelroute-tenant': 'premium',
        'x-modelroute-priority': 'high',
      }),
    ).toEqual({
      tenant: 'basic',
      backend: 'default/small',
      ignored: 'x-modelroute-tenant,x-modelroute-priority',
    });
    // The Authorization header means nothing to a sidecar: even premium's key is not premium here.
    expect((await served(PREMIUM_KEY)).tenant).toBe('basic');
  });

  test('at a gateway, the key decides: a spoofed header does not, a trusted one does only for the tenant that trusts it', async () => {
    await start(gateway);
    expect(await served(BASIC_KEY, { 'x-modelroute-tenant': 'premium' })).toMatchObject({
      tenant: 'basic',
      backend: 'default/small',
      ignored: 'x-modelroute-tenant',
    });
    expect(await served(PREMIUM_KEY)).toMatchObject({ tenant: 'premium', backend: 'default/big' });
    expect(await served(ROUTER_KEY, { 'x-modelroute-tenant': 'premium' })).toEqual({
      tenant: 'premium',
      backend: 'default/big',
      ignored: null,
    });
    expect(await served(ROUTER_KEY)).toMatchObject({ tenant: 'router', backend: 'default/small' });
    // A rule matching on the header sees it only when the tenant trusts it.
    const header = { 'x-modelroute-tenant': 'premium' };
    expect((await served(BASIC_KEY, header, 'by-header')).backend).toBe('default/small');
    expect((await served(ROUTER_KEY, header, 'by-header')).backend).toBe('default/big');
  });

  test('spans record the tenant and a secret-free caller', async () => {
    await start(gateway);
    await served(BASIC_KEY);
    await served(TOKENS.billing);
    const attributes = spans
      .getFinishedSpans()
      .filter((s) => s.attributes['modelroute.tenant'] !== undefined)
      .map((s) => [s.attributes['modelroute.tenant'], s.attributes['modelroute.caller']]);
    expect(attributes).toEqual([
      ['basic', 'apiKey default/k-basic'],
      ['basic', 'serviceAccount default/billing'],
    ]);
    const all = JSON.stringify(spans.getFinishedSpans().map((s) => s.attributes));
    for (const credential of [BASIC_KEY, TOKENS.billing]) expect(all).not.toContain(credential);
  });
});

describe('virtual keys at a gateway', () => {
  test.each<[string, string]>([
    ['an unknown key', generateApiKey(() => Buffer.alloc(32, 9))],
    ['a revoked key (absent from the table)', REVOKED_KEY],
    ['a key of another namespace (its hash is only in that namespace’s table)', OTHER_NS_KEY],
  ])('%s is 401 invalid_api_key, naming nothing of others', async (_name, key) => {
    await start(gateway);
    const err = await refusal(key);
    expect(err.status).toBe(401);
    expect(err.error).toMatchObject({
      type: 'invalid_request_error',
      code: 'invalid_api_key',
      param: null,
    });
    expectNothingAboutOthers(err);
    expect(JSON.stringify(err.error)).not.toContain(key);
  });

  test('no credential at all is 401 saying what to send', async () => {
    await start(gateway);
    const res = await post(`${dp!.proxy.dataUrl}/v1/chat/completions`, hello());
    expect(res.status).toBe(401);
    expect(res.json).toEqual({
      error: {
        message: expect.stringContaining('send "Authorization: Bearer <key>"') as string,
        type: 'invalid_request_error',
        code: 'invalid_api_key',
        param: null,
      },
    });
  });

  test('an expiring key works until the instant it expires, then is 401', async () => {
    await start(gateway);
    clock = EXPIRES_AT - 1;
    expect((await served(EXPIRING_KEY)).tenant).toBe('basic');
    clock = EXPIRES_AT;
    expect((await refusal(EXPIRING_KEY)).status).toBe(401);
  });

  test('every routing endpoint and /v1/models need the credential', async () => {
    await start(gateway);
    for (const [path, body] of [
      ['/v1/completions', { model: 'chat', prompt: 'hi' }],
      ['/v1/embeddings', { model: 'embed', input: 'hi' }],
    ] as const) {
      expect((await post(`${dp!.proxy.dataUrl}${path}`, body)).status).toBe(401);
      const ok = await post(`${dp!.proxy.dataUrl}${path}`, body, {
        authorization: `Bearer ${BASIC_KEY}`,
      });
      expect([ok.status, ok.headers.get('x-modelroute-tenant')]).toEqual([200, 'basic']);
    }
    expect((await fetch(`${dp!.proxy.dataUrl}/v1/models`)).status).toBe(401);
  });
});

describe('ServiceAccount tokens at a gateway', () => {
  test('a token TokenReview accepts for the audience calls as the tenant binding its ServiceAccount', async () => {
    await start(gateway);
    expect(await served(TOKENS.billing)).toMatchObject({
      tenant: 'basic',
      backend: 'default/small',
    });
  });

  test.each<[string, string]>([
    ['a forged token', `${TOKENS.billing.slice(0, -3)}xyz`],
    ['an unknown token', 'eyJhbGciOiJSUzI1NiJ9.e30.unknown'],
    ['a token for another audience', TOKENS.otherAudience],
  ])('%s is 401, naming nothing of others', async (_name, token) => {
    await start(gateway);
    const err = await refusal(token);
    expect([err.status, err.code]).toEqual([401, 'invalid_api_key']);
    expectNothingAboutOthers(err);
    expect(JSON.stringify(err.error)).not.toContain(token);
  });

  test('a caller no tenant covers: the default tenant, or 403 tenant_not_found under deny', async () => {
    await start(gateway);
    expect(await served(TOKENS.stranger)).toMatchObject({
      tenant: 'default',
      backend: 'default/small',
    });
    await dp!.close();
    await start(gateway, { unmatched: 'deny' });
    const err = await refusal(TOKENS.stranger);
    expect([err.status, err.code]).toEqual([403, 'tenant_not_found']);
    expectNothingAboutOthers(err);
  });
});

describe('what a tenant may use', () => {
  test('a route the tenant may not use is 403 model_not_allowed, and /v1/models lists only its own', async () => {
    await start(gateway);
    const err = await refusal(BASIC_KEY, 'big-chat');
    expect(err).toMatchObject({ status: 403, code: 'model_not_allowed', param: 'model' });
    expect(err.message).toContain('tenant basic may not use model "big-chat"');
    expectNothingAboutOthers(err);
    const listed = await client(BASIC_KEY).models.list();
    expect(listed.data.map((m) => m.id)).toEqual(['by-header', 'chat', 'embed']);
    const all = await client(PREMIUM_KEY).models.list();
    expect(all.data.map((m) => m.id)).toEqual(['big-chat', 'by-header', 'chat', 'embed']);
  });
});

test('local mode: --tenant, or a key from the table; the tenant header is ignored', async () => {
  await start({ mode: 'local', tenant: 'premium' });
  expect(await served('sk-anything', { 'x-modelroute-tenant': 'basic' })).toMatchObject({
    tenant: 'premium',
    backend: 'default/big',
    ignored: 'x-modelroute-tenant',
  });
  expect(await served(BASIC_KEY)).toMatchObject({ tenant: 'basic', backend: 'default/small' });
});

test('property: no response or log line ever contains the presented credential (seeded)', async () => {
  await start(gateway, { unmatched: 'deny' });
  const rng = seededRandom(4242);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.';
  const credentials = Array.from({ length: 200 }, (_, i) => {
    const n = 12 + Math.floor(rng() * 100);
    const body = Array.from(
      { length: n },
      () => alphabet[Math.floor(rng() * alphabet.length)],
    ).join('');
    return i % 3 === 0 ? `mr-${body}` : body;
  });
  const answers: string[] = [];
  for (const credential of credentials) {
    const res = await post(`${dp!.proxy.dataUrl}/v1/chat/completions`, hello(), {
      authorization: `Bearer ${credential}`,
    });
    expect(res.status).toBe(401);
    answers.push(res.text + JSON.stringify([...res.headers]));
  }
  expect(logLines.length).toBeGreaterThanOrEqual(credentials.length);
  for (const credential of credentials) {
    for (const text of [...answers, ...logLines])
      if (text.includes(credential)) throw new Error(`credential found in ${text.slice(0, 200)}`);
  }
});

test('a sidecar proxy on a non-loopback host refuses to start', async () => {
  await expect(
    startProxy({
      host: '0.0.0.0',
      identity: {
        mode: 'sidecar',
        workload: { kind: 'workload', namespace: 'default', serviceAccount: 'a', labels: {} },
      },
      logger: createLogger({ level: 'error', write: () => {} }),
    }),
  ).rejects.toThrow(/must listen only inside the pod: use --host 127.0.0.1, not 0.0.0.0/);
});
