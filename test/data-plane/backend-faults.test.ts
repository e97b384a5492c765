// A backend that refuses what the proxy sends it (its URL 404s, its key is
// revoked, its Secret key is missing) is the backend's problem: the request
// fails over to the next backend, the refusal counts against the refusing
// backend's health, and the client is never told its own key was wrong.
import type { BackendStats } from '../../src/proxy/backend-live-state.js';
import { createCredentialResolver } from '../../src/proxy/credentials.js';
import {
  ADMIN_TOKEN,
  post,
  route,
  startDataPlane,
  type DataPlane,
  type TestBackend,
} from '../support/data-plane.js';

let dp: DataPlane | undefined;

afterEach(async () => {
  await dp?.close();
  dp = undefined;
});

const REVOKED_KEY = 'sk-proj-revokedREVOKEDrevokedREVOKED0123';

async function stats(name: string): Promise<BackendStats> {
  const res = await fetch(`${dp!.proxy.adminUrl}/admin/v1/stats`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const body = (await res.json()) as { backends: BackendStats[] };
  return body.backends.find((b) => b.backendId === `default/${name}`)!;
}

/** `bad` first (priority), `good` second. */
async function failoverPlane(bad: TestBackend, env: NodeJS.ProcessEnv = {}): Promise<DataPlane> {
  return startDataPlane(
    [bad, { name: 'good', simulator: { outputTokens: 4 } }],
    [
      route('chat', {
        rules: [
          {
            name: 'r',
            strategy: 'priority',
            backendRefs: [
              { name: 'bad', priority: 0 },
              { name: 'good', priority: 1 },
            ],
          },
        ],
      }),
    ],
    { credentials: createCredentialResolver({ env }) },
  );
}

const chat = { model: 'chat', messages: [{ role: 'user', content: 'hi' }] };

// The outcome each is recorded as: the controller names the cause from it.
const BAD_BACKENDS: [string, TestBackend, NodeJS.ProcessEnv, string][] = [
  [
    'whose path 404s',
    { name: 'bad', simulator: { errorRate: 1, errorStatus: 404 } },
    {},
    'endpoint-not-found',
  ],
  [
    'whose key is revoked (401)',
    {
      name: 'bad',
      spec: { secretRef: { name: 'creds', key: 'apiKey' } },
      simulator: { requireApiKey: 'the-new-key', echoApiKey: true },
    },
    { MODELROUTE_SECRET_CREDS_APIKEY: REVOKED_KEY },
    'auth-refused',
  ],
  [
    'that answers 403',
    { name: 'bad', simulator: { errorRate: 1, errorStatus: 403 } },
    {},
    'auth-refused',
  ],
  [
    'whose secretRef key is missing',
    { name: 'bad', spec: { secretRef: { name: 'creds', key: 'apiKey' } } },
    {},
    'backend-rejected',
  ],
];

describe.each(BAD_BACKENDS)('a backend %s', (_name, bad, env, outcome) => {
  test('fails over to the next backend and counts against its own health', async () => {
    dp = await failoverPlane(bad, env);
    for (let i = 0; i < 6; i++) {
      const res = await post(`${dp.proxy.dataUrl}/v1/chat/completions`, chat);
      expect(res.status).toBe(200);
      expect(res.headers.get('x-modelroute-backend')).toBe('default/good');
    }
    const badStats = await stats('bad');
    expect(badStats.failures[outcome as keyof typeof badStats.failures]).toBeGreaterThanOrEqual(5);
    expect(badStats.failures['client-error']).toBe(0);
    // Five refusals in a row open its circuit, as any backend failure does.
    expect(badStats.circuit).toBe('open');
    expect((await stats('good')).circuit).toBe('closed');
  });
});

test('every backend refusing its key: 502 in OpenAI shape naming the upstream credential, never 401, never the key', async () => {
  dp = await startDataPlane(
    [
      {
        name: 'only',
        spec: { secretRef: { name: 'creds', key: 'apiKey' } },
        simulator: { requireApiKey: 'the-new-key', echoApiKey: true },
      },
    ],
    [route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'only' }] }] })],
    {
      credentials: createCredentialResolver({
        env: { MODELROUTE_SECRET_CREDS_APIKEY: REVOKED_KEY },
      }),
    },
  );
  const res = await post(`${dp.proxy.dataUrl}/v1/chat/completions`, chat);
  expect(res.status).toBe(502);
  expect(res.json).toMatchObject({
    error: { type: 'upstream_error', code: 'upstream_credential_refused', param: null },
  });
  expect((res.json as { error: { message: string } }).error.message).toMatch(
    /refused .*not your request/,
  );
  expect(res.text).not.toContain(REVOKED_KEY);
  // The backend was tried once, not retried: a refused key stays refused.
  expect(dp.sims.only!.requests).toHaveLength(1);
});

test('a 400 about the client body stays the client’s: passed on, not held against the backend', async () => {
  dp = await startDataPlane(
    [{ name: 'a', simulator: { errorRate: 1, errorStatus: 400 } }],
    [route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] })],
  );
  for (let i = 0; i < 6; i++) {
    const res = await post(`${dp.proxy.dataUrl}/v1/chat/completions`, chat);
    expect(res.status).toBe(400);
  }
  const a = await stats('a');
  expect(a.failures['client-error']).toBe(6);
  expect(a.circuit).toBe('closed');
});
