import { compileIdentity } from '../routing/compile-tenants.js';
import { seededRandom } from '../routing/random.js';
import type { RoutingTable } from '../routing/table.js';
import { apiKeyPrefix, generateApiKey, hashApiKey } from './api-key.js';
import {
  bearerCredential,
  findApiKey,
  gatewayAuthenticator,
  localAuthenticator,
  sidecarAuthenticator,
  sidecarHostProblem,
  type Authenticator,
} from './authenticate.js';
import { RequestIdentifier } from './request-identity.js';
import { TokenVerifier, type TokenReviewer } from './token-review.js';

const KEY = 'mr-' + 'k'.repeat(43);
const EXPIRING = 'mr-' + 'e'.repeat(43);
const EXPIRES_AT = Date.parse('2026-12-03T05:00:00Z');

function table(unmatched: 'deny' | 'default-tenant' = 'default-tenant'): RoutingTable {
  const identity = compileIdentity(
    'team-a',
    [
      {
        apiVersion: 'modelroute.io/v1alpha1',
        kind: 'ModelTenant',
        metadata: { name: 'acme', namespace: 'team-a' },
        spec: {
          priority: 'high',
          identities: { serviceAccounts: [{ name: 'billing' }] },
          compliance: [],
          trustedHeaders: [],
        },
      },
    ],
    [
      ['k1', KEY, undefined],
      ['k2', EXPIRING, new Date(EXPIRES_AT).toISOString()],
    ].map(([name, key, expiresAt]) => ({
      apiVersion: 'modelroute.io/v1alpha1' as const,
      kind: 'ModelAPIKey' as const,
      metadata: { name: name as string, namespace: 'team-a' },
      spec: {
        tenant: 'acme',
        hash: hashApiKey(key as string),
        prefix: apiKeyPrefix(key as string),
        revoked: false,
        ...(expiresAt ? { expiresAt } : {}),
      },
    })),
    { unmatched },
    EXPIRES_AT - 60_000,
  );
  return {
    formatVersion: 1,
    version: 'sha256:00000000000000000000',
    routes: [],
    backends: [],
    ...identity,
  };
}

const reviewer = (answer: 'billing' | 'stranger' | 'reject' | 'throw'): TokenReviewer => ({
  review(token) {
    if (answer === 'throw') return Promise.reject(new Error(`TokenReview of ${token} failed`));
    if (answer === 'reject') return Promise.resolve({ authenticated: false });
    return Promise.resolve({
      authenticated: true,
      username: `system:serviceaccount:team-a:${answer}`,
      audiences: ['modelroute'],
    });
  },
});

const gateway = (
  answer: Parameters<typeof reviewer>[0] = 'billing',
  now: () => number = () => EXPIRES_AT - 1,
) => gatewayAuthenticator(new TokenVerifier({ reviewer: reviewer(answer), now }), now);

test('the bearer credential is read from Authorization only in the Bearer form', () => {
  expect(bearerCredential('Bearer abc')).toBe('abc');
  expect(bearerCredential('bearer  abc ')).toBe('abc');
  expect(bearerCredential('Basic abc')).toBeUndefined();
  expect(bearerCredential('Bearer a b')).toBeUndefined();
  expect(bearerCredential(undefined)).toBeUndefined();
});

test('a key is valid until the instant it expires, by the injected clock', () => {
  const t = table();
  expect(findApiKey(KEY, t, 0)?.id).toBe('team-a/k1');
  expect(findApiKey(EXPIRING, t, EXPIRES_AT - 1)?.id).toBe('team-a/k2');
  expect(findApiKey(EXPIRING, t, EXPIRES_AT)).toBeUndefined();
  expect(findApiKey(generateApiKey(), t, 0)).toBeUndefined();
});

describe('gateway', () => {
  test.each<[string, string | undefined, RegExp]>([
    ['no Authorization', undefined, /needs a credential/],
    ['a Basic credential', 'Basic dXNlcjpwdw==', /needs a credential/],
    ['an unknown key', `Bearer ${generateApiKey()}`, /API key is not valid/],
  ])('%s is 401', async (_name, authorization, message) => {
    expect(await gateway().authenticate(authorization, table())).toEqual({
      ok: false,
      status: 401,
      message: expect.stringMatching(message) as string,
    });
  });

  test('an expiring key works until its instant, then is 401', async () => {
    let now = EXPIRES_AT - 1;
    const auth = gateway('billing', () => now);
    expect(await auth.authenticate(`Bearer ${EXPIRING}`, table())).toMatchObject({ ok: true });
    now = EXPIRES_AT;
    expect(await auth.authenticate(`Bearer ${EXPIRING}`, table())).toMatchObject({
      ok: false,
      status: 401,
    });
  });

  test('a key is the caller its record says; a ServiceAccount token is the account TokenReview names', async () => {
    expect(await gateway().authenticate(`Bearer ${KEY}`, table())).toEqual({
      ok: true,
      caller: { kind: 'api-key', keyId: 'team-a/k1', tenantId: 'team-a/acme' },
    });
    expect(await gateway('billing').authenticate('Bearer some.jwt.token', table())).toEqual({
      ok: true,
      caller: { kind: 'service-account', namespace: 'team-a', name: 'billing' },
    });
  });

  test('a TokenReview that fails is 503, a refused token 401', async () => {
    expect(await gateway('throw').authenticate('Bearer a.b.c', table())).toMatchObject({
      status: 503,
    });
    expect(await gateway('reject').authenticate('Bearer a.b.c', table())).toMatchObject({
      status: 401,
    });
  });
});

test('local: --tenant, unless a key in the table says otherwise; other bearers are ignored', () => {
  const auth = localAuthenticator('globex', () => 0);
  const local = { ok: true, caller: { kind: 'local', tenant: 'globex' } };
  expect(auth.authenticate(undefined, table())).toEqual(local);
  expect(auth.authenticate('Bearer sk-whatever', table())).toEqual(local);
  expect(auth.authenticate(`Bearer ${generateApiKey()}`, table())).toEqual(local);
  expect(auth.authenticate(`Bearer ${KEY}`, table())).toMatchObject({
    caller: { kind: 'api-key', tenantId: 'team-a/acme' },
  });
});

test('sidecar: the pod, whatever the Authorization header says', () => {
  const pod = {
    kind: 'workload' as const,
    namespace: 'team-a',
    serviceAccount: 'billing',
    labels: {},
    pod: 'p-1',
  };
  const auth = sidecarAuthenticator(pod);
  expect(auth.authenticate(`Bearer ${KEY}`, table())).toEqual({ ok: true, caller: pod });
  expect(auth.authenticate(undefined, table())).toEqual({ ok: true, caller: pod });
});

test('a sidecar must listen on loopback, and says why otherwise', () => {
  for (const host of ['127.0.0.1', '127.0.0.9', '::1', 'localhost'])
    expect(sidecarHostProblem(host)).toBeUndefined();
  expect(sidecarHostProblem('0.0.0.0')).toMatch(
    /data port must listen only inside the pod: use --host 127.0.0.1, not 0.0.0.0/,
  );
});

describe('the request identity', () => {
  test('a verified caller no tenant covers: the default tenant, or 403 under deny', async () => {
    const stranger = new RequestIdentifier(gateway('stranger'), 'team-a');
    const auth = { authorization: 'Bearer a.b.c' };
    expect(await stranger.identify(auth, table())).toMatchObject({
      ok: true,
      tenant: { name: 'default' },
    });
    expect(await stranger.identify(auth, table('deny'))).toEqual({
      ok: false,
      status: 403,
      code: 'tenant_not_found',
      message: expect.not.stringMatching(/acme|billing/) as string,
    });
  });

  test('401s are invalid_api_key and 503s identity_unavailable', async () => {
    expect(await new RequestIdentifier(gateway(), 'team-a').identify({}, table())).toMatchObject({
      status: 401,
      code: 'invalid_api_key',
    });
    expect(
      await new RequestIdentifier(gateway('throw'), 'team-a').identify(
        { authorization: 'Bearer x.y.z' },
        table(),
      ),
    ).toMatchObject({ status: 503, code: 'identity_unavailable' });
  });
});

/** A random credential of one of the shapes clients send. */
function randomCredential(rng: () => number): string {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rng() * xs.length)] as T;
  const chars = (alphabet: string, n: number) =>
    Array.from({ length: n }, () => pick([...alphabet])).join('');
  const b64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  switch (pick(['key', 'badkey', 'jwt', 'opaque'] as const)) {
    case 'key':
      return `mr-${chars(b64, 43)}`;
    case 'badkey':
      return `mr-${chars(b64 + '.~+/', 8 + Math.floor(rng() * 80))}`;
    case 'jwt':
      return `${chars(b64, 36)}.${chars(b64, 20 + Math.floor(rng() * 200))}.${chars(b64, 43)}`;
    case 'opaque':
      return chars(b64 + '.~+/=', 8 + Math.floor(rng() * 120));
  }
}

test('property: no answer, message or refusal ever contains the presented credential (seeded)', async () => {
  const rng = seededRandom(1313);
  const authenticators: Authenticator[] = [
    gateway('billing'),
    gateway('stranger'),
    gateway('reject'),
    gateway('throw'),
    localAuthenticator(undefined, () => 0),
    sidecarAuthenticator({
      kind: 'workload',
      namespace: 'team-a',
      serviceAccount: 'x',
      labels: {},
    }),
  ];
  for (let i = 0; i < 600; i++) {
    const credential = randomCredential(rng);
    const identifier = new RequestIdentifier(
      authenticators[i % authenticators.length] as Authenticator,
      'team-a',
    );
    const headers = {
      authorization: `Bearer ${credential}`,
      'x-modelroute-tenant': credential,
      'x-modelroute-task': credential,
    };
    const result = await identifier.identify(
      headers,
      table(i % 2 === 0 ? 'deny' : 'default-tenant'),
    );
    const shown = JSON.stringify(result.ok ? { ...result, visible: undefined } : result);
    if (shown.includes(credential))
      throw new Error(`case ${i}: the credential appears in ${shown.slice(0, 300)}`);
  }
});
