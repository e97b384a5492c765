// The credential endpoint's decisions, with a fake TokenReview and fake
// cluster reads: who gets which keys, and what everyone else is told.
import { compileRoutingTable } from '../routing/compile.js';
import { seededRandom } from '../routing/random.js';
import { backend, route } from '../routing/__fixtures__/objects.js';
import type { CompiledBackend } from '../routing/table.js';
import type { TokenReviewResult } from '../k8s/token-review.js';
import { podAdminToken } from '../proxy/admin/admin-token.js';
import { createLogger } from '../telemetry/logger.js';
import {
  createCredentialServer,
  POD_NAME_EXTRA,
  POD_UID_EXTRA,
  type CredentialServerDeps,
  type ProxyPodFacts,
  type SecretRead,
} from './credential-server.js';

const PLATFORM = 'platform';
const OTHER = 'other-platform';
const KEY_VALUE = 'sk-platform-secret-value-0123456789';

/** Backends compiled in their own namespaces: what a granted cross-namespace table holds. */
function compiled(namespace: string, names: string[]): CompiledBackend[] {
  const backends = names.map((n) =>
    backend(n, { secretRef: { name: 'provider-keys', key: 'openai' } }, namespace),
  );
  const r = route(
    `r-${namespace}`,
    {
      model: `m-${namespace}`,
      rules: [{ name: 'main', strategy: 'priority', backendRefs: names.map((name) => ({ name })) }],
    },
    { namespace },
  );
  return compileRoutingTable([r], backends).backends;
}

const platformBackends = compiled(PLATFORM, ['gpt', 'claude']);
const otherBackends = compiled(OTHER, ['llama']);

interface Setup {
  tokens: Record<string, TokenReviewResult>;
  pods: Record<string, ProxyPodFacts>;
  secrets: Record<string, SecretRead>;
  table: CompiledBackend[];
  now: { ms: number };
  reviews: string[];
  secretReads: string[];
  logs: string[];
}

function setup(
  overrides: Partial<CredentialServerDeps> = {},
): Setup & { serve: ReturnType<typeof createCredentialServer> } {
  const s: Setup = {
    tokens: {
      'token-a': {
        authenticated: true,
        username: 'system:serviceaccount:app-a:default',
        extra: { [POD_NAME_EXTRA]: ['proxy-a'] },
        audiences: ['modelroute-controller'],
      },
      'token-plain': {
        authenticated: true,
        username: 'system:serviceaccount:app-a:default',
        extra: { [POD_NAME_EXTRA]: ['app-without-proxy'] },
        audiences: ['modelroute-controller'],
      },
      'token-unbound': {
        authenticated: true,
        username: 'system:serviceaccount:app-a:default',
        extra: {},
        audiences: ['modelroute-controller'],
      },
    },
    pods: {
      'app-a/proxy-a': {
        namespace: 'app-a',
        name: 'proxy-a',
        labels: { app: 'web', 'modelroute.io/proxy': 'true' },
      },
      'app-a/app-without-proxy': { namespace: 'app-a', name: 'app-without-proxy', labels: {} },
    },
    secrets: {
      [`${PLATFORM}/provider-keys`]: { ok: true, values: new Map([['openai', KEY_VALUE]]) },
      [`${OTHER}/provider-keys`]: {
        ok: true,
        values: new Map([['openai', 'sk-other-9876543210']]),
      },
    },
    table: [...platformBackends, ...otherBackends],
    now: { ms: 1_000_000 },
    reviews: [],
    secretReads: [],
    logs: [],
  };
  const deps: CredentialServerDeps = {
    reviewer: {
      review: (token, audiences) => {
        s.reviews.push(audiences.join(','));
        return Promise.resolve(s.tokens[token] ?? { authenticated: false });
      },
    },
    getPod: (ns, name) => Promise.resolve(s.pods[`${ns}/${name}`]),
    readSecret: (ns, name) => {
      s.secretReads.push(`${ns}/${name}`);
      return Promise.resolve(s.secrets[`${ns}/${name}`] ?? { ok: false, reason: 'not-found' });
    },
    tableBackends: () => Promise.resolve(s.table),
    credentialNamespaces: new Set([PLATFORM]),
    logger: createLogger({ level: 'debug', write: (line) => s.logs.push(line) }),
    now: () => s.now.ms,
  };
  return Object.assign(s, { serve: createCredentialServer({ ...deps, ...overrides }) });
}

const ask = (ids: string[]) => JSON.stringify({ backendIds: ids });

describe('POST /v1/credentials', () => {
  test("a proxy pod gets the keys of its table's platform backends, bound to their origins", async () => {
    const s = setup();
    const answer = await s.serve({ authorization: 'Bearer token-a', body: ask(['platform/gpt']) });
    expect(answer).toEqual({
      status: 200,
      body: {
        credentials: [
          {
            backendId: 'platform/gpt',
            origin: 'http://gpt.example:8000',
            secretName: 'provider-keys',
            key: 'openai',
            apiKey: KEY_VALUE,
          },
        ],
        refused: [],
        refreshAfterSeconds: 300,
      },
    });
    expect(s.reviews).toEqual(['modelroute-controller']);
  });

  test('a backend in a namespace not in --credential-namespaces is refused with the fix', async () => {
    const s = setup();
    const answer = await s.serve({
      authorization: 'Bearer token-a',
      body: ask(['platform/gpt', 'other-platform/llama']),
    });
    expect(answer.status).toBe(200);
    const body = answer.body as { credentials: { backendId: string }[]; refused: unknown[] };
    expect(body.credentials.map((c) => c.backendId)).toEqual(['platform/gpt']);
    expect(body.refused).toEqual([
      {
        backendId: 'other-platform/llama',
        reason: expect.stringContaining(
          'namespace other-platform is not a credential namespace',
        ) as string,
      },
    ]);
    expect(JSON.stringify(body.refused)).toContain('platformNamespaces');
    // Never even read.
    expect(s.secretReads).not.toContain('other-platform/provider-keys');
  });

  test("a backend that is not in the pod's table is refused (403)", async () => {
    const s = setup();
    s.table = otherBackends;
    const answer = await s.serve({ authorization: 'Bearer token-a', body: ask(['platform/gpt']) });
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({
      error: expect.stringContaining(
        'platform/gpt are not in the routing table of pod app-a/proxy-a',
      ) as string,
    });
    expect(s.secretReads).toEqual([]);
  });

  test('a pod that is not a proxy gets 403, and so does a token bound to no pod', async () => {
    const s = setup();
    const notProxy = await s.serve({
      authorization: 'Bearer token-plain',
      body: ask(['platform/gpt']),
    });
    expect(notProxy.status).toBe(403);
    expect(JSON.stringify(notProxy.body)).toContain('is not a modelroute proxy');
    const unbound = await s.serve({
      authorization: 'Bearer token-unbound',
      body: ask(['platform/gpt']),
    });
    expect(unbound.status).toBe(403);
    expect(JSON.stringify(unbound.body)).toContain('not bound to a pod');
  });

  test('a bad, missing or wrong-audience token gets 401 that never echoes it', async () => {
    const s = setup();
    s.tokens['token-other-audience'] = {
      ...s.tokens['token-a']!,
      audiences: ['api'],
    } as TokenReviewResult;
    for (const authorization of [
      undefined,
      'Basic dXNlcjpwYXNz',
      'Bearer forged-token-value',
      'Bearer token-other-audience',
    ]) {
      const answer = await s.serve({ authorization, body: ask(['platform/gpt']) });
      expect(answer.status).toBe(401);
      const text = JSON.stringify(answer.body);
      expect(text).not.toContain('forged-token-value');
      expect(text).not.toContain('token-other-audience');
      expect(text).toContain('modelroute-controller');
    }
    expect(s.logs.join('\n')).not.toContain('forged-token-value');
  });

  test('a body that is not JSON or not the request shape gets 400 saying what to send', async () => {
    const s = setup();
    for (const body of ['not json', '{}', '{"backendIds":["no-slash"]}', '[]']) {
      const answer = await s.serve({ authorization: 'Bearer token-a', body });
      expect(answer.status).toBe(400);
      expect(JSON.stringify(answer.body)).toContain('backendIds');
    }
  });

  test('missing, unreadable or keyless Secrets are refused with their fix, never as an error', async () => {
    const s = setup();
    const cases: [SecretRead | undefined, string][] = [
      [undefined, 'Secret "provider-keys" not found in namespace platform'],
      [{ ok: false, reason: 'forbidden' }, 'may not read Secret "provider-keys"'],
      [{ ok: true, values: new Map([['other', 'x']]) }, 'has no key "openai"'],
    ];
    for (const [read, reason] of cases) {
      s.now.ms += 60_000; // past the Secret cache
      if (read) s.secrets['platform/provider-keys'] = read;
      else delete s.secrets['platform/provider-keys'];
      const answer = await s.serve({
        authorization: 'Bearer token-a',
        body: ask(['platform/gpt']),
      });
      expect(answer.status).toBe(200);
      const { refused } = answer.body as { refused: { reason: string }[] };
      expect(refused[0]?.reason).toContain(reason);
    }
  });

  test('Secret values are cached under 30 s, so a rotation is delivered after that', async () => {
    const s = setup();
    const key = async () => {
      const answer = await s.serve({
        authorization: 'Bearer token-a',
        body: ask(['platform/gpt']),
      });
      return (answer.body as { credentials: { apiKey: string }[] }).credentials[0]?.apiKey;
    };
    expect(await key()).toBe(KEY_VALUE);
    s.secrets['platform/provider-keys'] = { ok: true, values: new Map([['openai', 'sk-rotated']]) };
    s.now.ms += 5_000;
    expect(await key()).toBe(KEY_VALUE);
    s.now.ms += 30_000;
    expect(await key()).toBe('sk-rotated');
  });

  test('TokenReview results are reused for a bounded time, rejections for less', async () => {
    const s = setup();
    const call = (token: string) =>
      s.serve({ authorization: `Bearer ${token}`, body: ask(['platform/gpt']) });
    await call('token-a');
    await call('token-a');
    expect(s.reviews).toHaveLength(1);
    s.now.ms += 61_000;
    await call('token-a');
    expect(s.reviews).toHaveLength(2);
    await call('nope');
    await call('nope');
    expect(s.reviews).toHaveLength(3);
    s.now.ms += 11_000;
    await call('nope');
    expect(s.reviews).toHaveLength(4);
  });

  test('logs name pods and backends, never a key or a token', async () => {
    const s = setup();
    await s.serve({ authorization: 'Bearer token-a', body: ask(['platform/gpt']) });
    const logs = s.logs.join('\n');
    expect(logs).toContain('credentials delivered');
    expect(logs).not.toContain(KEY_VALUE);
    expect(logs).not.toContain('token-a');
  });
});

describe("a marked proxy pod's own admin token", () => {
  const FLEET = 'fleet-admin-token-0123456789abcdef';
  const MARK = { 'modelroute.io/admin-token': 'delivered' };

  /** A TokenReview of a token bound to pod `name` in app-a (and to `uid`, when given). */
  const boundTo = (name: string, uid?: string): TokenReviewResult => ({
    authenticated: true,
    username: 'system:serviceaccount:app-a:default',
    extra: { [POD_NAME_EXTRA]: [name], ...(uid === undefined ? {} : { [POD_UID_EXTRA]: [uid] }) },
    audiences: ['modelroute-controller'],
  });

  /** Pods p1 and p2 in app-a, each with a token naming its name and UID, as the API server does. */
  function marked(annotations: Record<string, string> = MARK) {
    const s = setup({ adminToken: FLEET });
    for (const name of ['p1', 'p2']) {
      s.pods[`app-a/${name}`] = {
        namespace: 'app-a',
        name,
        uid: `uid-${name}`,
        labels: { 'modelroute.io/proxy': 'true' },
        annotations,
      };
      s.tokens[`token-${name}`] = boundTo(name, `uid-${name}`);
    }
    return s;
  }
  const adminTokenOf = (answer: { body: unknown }) =>
    (answer.body as { adminToken?: string }).adminToken;

  test('is delivered to the calling pod only, on a request that asks for no backend', async () => {
    const s = marked();
    s.table = [];
    const p1 = await s.serve({ authorization: 'Bearer token-p1', body: ask([]) });
    const p2 = await s.serve({ authorization: 'Bearer token-p2', body: ask([]) });
    expect(p1).toEqual({
      status: 200,
      body: {
        credentials: [],
        refused: [],
        refreshAfterSeconds: 300,
        adminToken: podAdminToken(FLEET, 'app-a', 'p1', 'uid-p1'),
      },
    });
    expect(adminTokenOf(p2)).toBe(podAdminToken(FLEET, 'app-a', 'p2', 'uid-p2'));
    expect(adminTokenOf(p2)).not.toBe(adminTokenOf(p1));
    // Never the fleet token or the namespace's, and never in a log line.
    expect(JSON.stringify([p1, p2])).not.toContain(FLEET);
    const logs = s.logs.join('\n');
    expect(logs).not.toContain(adminTokenOf(p1));
    expect(logs).not.toContain(adminTokenOf(p2));
    expect(logs).toContain('"adminAccessDelivered":true');
  });

  test('comes with the keys on an ordinary request', async () => {
    const s = marked();
    const answer = await s.serve({ authorization: 'Bearer token-p1', body: ask(['platform/gpt']) });
    expect(answer.status).toBe(200);
    expect(adminTokenOf(answer)).toBe(podAdminToken(FLEET, 'app-a', 'p1', 'uid-p1'));
  });

  test('is not given to an unmarked pod (it holds the Secret) nor by a controller without a token', async () => {
    const unmarked = marked({});
    const answer = await unmarked.serve({ authorization: 'Bearer token-p1', body: ask([]) });
    expect(answer.status).toBe(200);
    expect(answer.body).not.toHaveProperty('adminToken');

    const s = setup();
    s.pods['app-a/proxy-a']!.annotations = MARK;
    s.pods['app-a/proxy-a']!.uid = 'uid-a';
    s.tokens['token-a'] = boundTo('proxy-a', 'uid-a');
    const tokenless = await s.serve({ authorization: 'Bearer token-a', body: ask([]) });
    expect(tokenless.body).not.toHaveProperty('adminToken');
    expect(s.logs.join('\n')).toContain('this controller has no admin token configured');
  });

  test("needs the UID the API server put in the token, equal to the Pod's", async () => {
    const s = marked();
    // A token naming the pod but not its UID: no token, and a warning with the fix.
    s.tokens['token-p1'] = boundTo('p1');
    const noUid = await s.serve({ authorization: 'Bearer token-p1', body: ask([]) });
    expect(noUid.status).toBe(200);
    expect(noUid.body).not.toHaveProperty('adminToken');
    expect(s.logs.join('\n')).toContain('projected ServiceAccount token');
    // A token of an earlier pod of the same name (another UID): refused outright.
    s.tokens['token-p2'] = boundTo('p2', 'uid-of-a-deleted-pod');
    const stale = await s.serve({ authorization: 'Bearer token-p2', body: ask([]) });
    expect(stale.status).toBe(403);
    expect(stale.body).not.toHaveProperty('adminToken');
  });
});

test('fuzz: any body and any Authorization get 200/400/401/403, never an exception or an echoed token', async () => {
  const s = setup();
  const rng = seededRandom(13);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
  const junk = (n: number) =>
    Array.from({ length: n }, () => String.fromCharCode(32 + Math.floor(rng() * 95))).join('');
  const ids = [
    'platform/gpt',
    'platform/claude',
    'other-platform/llama',
    'app-a/x',
    '',
    'a/b/c',
    junk(8),
  ];
  const statuses = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const secretToken = `tok-${junk(12)}`;
    const authorization = pick([
      undefined,
      'Bearer token-a',
      'Bearer token-plain',
      `Bearer ${secretToken}`,
      `bearer   token-a  `,
      junk(20),
    ]);
    const body = pick([
      () => junk(Math.floor(rng() * 40)),
      () =>
        JSON.stringify({
          backendIds: Array.from({ length: Math.floor(rng() * 4) }, () => pick(ids)),
        }),
      () => JSON.stringify({ backendIds: pick(ids), extra: 1 }),
      () => JSON.stringify(pick([null, 1, 'x', [], {}, { backendIds: null }])),
    ])();
    const answer = await s.serve({ authorization, body });
    statuses.add(answer.status);
    expect([200, 400, 401, 403]).toContain(answer.status);
    expect(JSON.stringify(answer.body)).not.toContain(secretToken);
    if (answer.status === 200) {
      const delivered = (answer.body as { credentials: { backendId: string }[] }).credentials;
      for (const c of delivered) expect(c.backendId.startsWith('platform/')).toBe(true);
    }
  }
  expect([...statuses].sort()).toEqual([200, 400, 401, 403]);
  expect(s.logs.join('\n')).not.toContain('tok-');
});
