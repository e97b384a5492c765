// Fleet-wide limits and budgets at one proxy (issue 14), against a real proxy,
// simulated backends and the official openai client: the controller's
// assignment (PUT /admin/v1/quotas) decides what the proxy admits, tenants
// over their share and budgets over 100% get 429s that say why and when to
// come back, and the proxy reports what it admitted, refused and spent.
import { APIError, type OpenAI } from 'openai';
import { proxyQuotaStats, type QuotaAssignment, type QuotaKey } from '../../src/quota/protocol.js';
import {
  ADMIN_TOKEN,
  route,
  startDataPlane,
  tenant,
  type DataPlane,
  type TestBackend,
} from '../support/data-plane.js';

let dp: DataPlane | undefined;
afterEach(async () => {
  await dp?.close();
  dp = undefined;
});

const chat = { model: 'chat', messages: [{ role: 'user' as const, content: 'hello there' }] };
const pricing = { inputPerMillion: 1000, outputPerMillion: 1000 };

/** `a` (limited, tried first) then `b` (no limits): who served says whether `a` admitted. */
const backends = (aLimits: Record<string, number>): TestBackend[] => [
  { name: 'a', spec: { limits: aLimits, pricing } },
  { name: 'b', spec: { pricing } },
];
const priorityRoute = () =>
  route('chat', {
    rules: [{ name: 'all', strategy: 'priority', backendRefs: [{ name: 'a' }, { name: 'b' }] }],
  });

async function admin(
  method: 'GET' | 'PUT',
  path: string,
  body?: unknown,
  token = ADMIN_TOKEN,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${dp!.proxy.adminUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

function assignment(over: Partial<QuotaAssignment>): QuotaAssignment {
  return {
    sequence: 1,
    term: 'controller-0/1',
    issuedAtMs: Date.now(),
    validForMs: 60_000,
    limits: [],
    budgets: [],
    ...over,
  };
}

/** Pushes one share of one key's limit, as the controller would. */
function pushShare(
  key: QuotaKey,
  share: number,
  safe: number,
  limit: number,
  over: Partial<QuotaAssignment> = {},
) {
  return admin(
    'PUT',
    '/admin/v1/quotas',
    assignment({
      limits: [{ key, share: { rpm: share }, safe: { rpm: safe }, limit: { rpm: limit } }],
      ...over,
    }),
  );
}

async function quotaStats() {
  return proxyQuotaStats.parse((await admin('GET', '/admin/v1/stats')).json.quotas);
}

/** Sends `n` requests one after another; the backend (or error code) each got. */
async function servedBy(n: number, client: OpenAI = dp!.client): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const { response } = await client.chat.completions.create(chat).withResponse();
      out.push(response.headers.get('x-modelroute-backend') ?? '?');
    } catch (err) {
      out.push(err instanceof APIError ? String(err.code) : String(err));
    }
  }
  return out;
}

describe('backend limits follow the assignment', () => {
  test('limit / 20 before the first assignment; a pushed share changes what is admitted; stats count it', async () => {
    dp = await startDataPlane(backends({ rpm: 100 }), [priorityRoute()], { quotaMode: 'fleet' });
    // 100 / 20 = 5 to `a`, the rest overflow to `b`.
    expect(await servedBy(7)).toEqual([...Array(5).fill('default/a'), 'default/b', 'default/b']);

    const pushed = await pushShare('backend:default/a', 8, 5, 100);
    expect(pushed).toEqual({
      status: 200,
      json: { assignment: { term: 'controller-0/1', sequence: 1 } },
    });
    // The 5 already in the window still count: 3 more to `a`.
    expect(await servedBy(4)).toEqual(['default/a', 'default/a', 'default/a', 'default/b']);

    const quotas = await admin('GET', '/admin/v1/quotas');
    expect(quotas.json).toMatchObject({
      mode: 'fleet',
      assignment: { term: 'controller-0/1', sequence: 1, expired: false },
      limits: [
        { key: 'backend:default/a', limit: { rpm: 100 }, share: { rpm: 8 }, source: 'assigned' },
      ],
    });

    const parsed = await quotaStats();
    expect(parsed.assignment).toEqual({ term: 'controller-0/1', sequence: 1 });
    expect(parsed.limits).toEqual([
      {
        key: 'backend:default/a',
        admitted: 8,
        refused: 3,
        tokens: expect.any(Number),
        windowRequests: 8,
        windowTokens: expect.any(Number),
        inFlight: 0,
      },
    ]);
    expect(parsed.tenants).toEqual([
      { tenantId: 'default/default', requests: 11, costUsd: expect.any(Number) },
    ]);
    expect(parsed.tenants[0]!.costUsd).toBeGreaterThan(0);
  });

  test('an attempt is checked against the tpm share with its own estimate (prompt + max_tokens)', async () => {
    dp = await startDataPlane(backends({ tpm: 100_000 }), [priorityRoute()], {
      quotaMode: 'fleet',
    });
    const share = { tpm: 1_000 };
    const pushed = await admin(
      'PUT',
      '/admin/v1/quotas',
      assignment({
        limits: [{ key: 'backend:default/a', share, safe: share, limit: { tpm: 100_000 } }],
      }),
    );
    expect(pushed.status).toBe(200);
    const ask = async (maxTokens: number) => {
      const { response } = await dp!.client.chat.completions
        .create({ ...chat, max_tokens: maxTokens })
        .withResponse();
      return response.headers.get('x-modelroute-backend');
    };
    // ~3 prompt tokens + 900 fits the empty share; real usage then replaces the estimate.
    expect(await ask(900)).toBe('default/a');
    const used = (await quotaStats()).limits.find((l) => l.key === 'backend:default/a')!;
    expect(used.windowTokens).toBeGreaterThan(3);
    // What is left is less than this request may cost: it goes to b, not over a's share.
    expect(await ask(1_000 - used.windowTokens)).toBe('default/b');
    // One that fits what is left is still admitted.
    expect(await ask(1)).toBe('default/a');
    const after = (await quotaStats()).limits.find((l) => l.key === 'backend:default/a')!;
    expect(after.windowTokens).toBeLessThanOrEqual(1_000);
    expect(after.refused).toBe(1);
  });

  test('a full fallback the primary made unnecessary is not counted as refused (it was not wanted)', async () => {
    dp = await startDataPlane(
      [{ name: 'a' }, { name: 'b', spec: { limits: { rpm: 100 } } }],
      [priorityRoute()],
      { quotaMode: 'fleet' },
    );
    await pushShare('backend:default/b', 0, 0, 100);
    expect(await servedBy(3)).toEqual(['default/a', 'default/a', 'default/a']);
    const stats = await quotaStats();
    expect(stats.limits).toEqual([
      expect.objectContaining({ key: 'backend:default/b', admitted: 0, refused: 0 }),
    ]);
  });

  test('an expired assignment falls back to the safe share, and GET /admin/v1/quotas says so', async () => {
    dp = await startDataPlane(backends({ rpm: 100 }), [priorityRoute()], { quotaMode: 'fleet' });
    await pushShare('backend:default/a', 50, 2, 100, { validForMs: 1 });
    await new Promise((r) => setTimeout(r, 20));
    expect(await servedBy(3)).toEqual(['default/a', 'default/a', 'default/b']);
    expect((await admin('GET', '/admin/v1/quotas')).json).toMatchObject({
      assignment: { expired: true },
      limits: [{ key: 'backend:default/a', share: { rpm: 2 }, source: 'safe' }],
    });
  });

  test('pushes need the admin token; a bad body is 400 and an older sequence 409, naming why', async () => {
    dp = await startDataPlane(backends({ rpm: 100 }), [priorityRoute()], { quotaMode: 'fleet' });
    expect((await admin('PUT', '/admin/v1/quotas', assignment({}), 'wrong')).status).toBe(401);
    const bad = await admin('PUT', '/admin/v1/quotas', { ...assignment({}), validForMs: 0 });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({
      error: {
        code: 'assignment_invalid',
        message: expect.stringMatching(/not a quota assignment.*validForMs/),
      },
    });
    expect((await admin('PUT', '/admin/v1/quotas', assignment({ sequence: 7 }))).status).toBe(200);
    const old = await admin('PUT', '/admin/v1/quotas', assignment({ sequence: 6 }));
    expect(old.status).toBe(409);
    expect(old.json).toMatchObject({
      error: {
        code: 'assignment_outdated',
        message: expect.stringMatching(/older than assignment 7/),
      },
      current: { sequence: 7 },
    });
  });
});

describe('tenant limits', () => {
  const tenants = [tenant('batch', { limits: { rpm: 3 } })];

  test('local mode is the whole fleet: the tenant gets its full limit, then 429 naming tenant and limit', async () => {
    dp = await startDataPlane(
      [{ name: 'b' }],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'b' }] }] })],
      {
        identity: { mode: 'local', tenant: 'batch' },
        tableIdentity: { tenants },
      },
    );
    expect(await servedBy(3)).toEqual(['default/b', 'default/b', 'default/b']);
    const refused = await dp.client.chat.completions.create(chat).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(APIError);
    const err = refused as APIError;
    expect(err.status).toBe(429);
    expect(err.code).toBe('tenant_rate_limited');
    expect(err.type).toBe('rate_limit_error');
    expect(err.message).toMatch(
      /^429 tenant default\/batch is over its fleet limit of 3 requests per minute; retry in \d+ s$/,
    );
    const retryAfter = Number(err.headers?.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const stats = await quotaStats();
    expect(stats.limits).toContainEqual(
      expect.objectContaining({
        key: 'tenant:default/batch',
        admitted: 3,
        refused: 1,
        windowRequests: 3,
      }),
    );
  });

  test('a controller-fed proxy holds the tenant to its share: none at limit / 20, then what is assigned', async () => {
    dp = await startDataPlane(
      [{ name: 'b' }],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'b' }] }] })],
      {
        identity: { mode: 'local', tenant: 'batch' },
        tableIdentity: { tenants },
        quotaMode: 'fleet',
      },
    );
    expect(await servedBy(1)).toEqual(['tenant_rate_limited']); // 3 / 20 admits nothing
    await pushShare('tenant:default/batch', 2, 1, 3);
    expect(await servedBy(3)).toEqual(['default/b', 'default/b', 'tenant_rate_limited']);
  });
});

describe('budgets', () => {
  const resetAtMs = Date.UTC(2030, 0, 1);
  const budget = (onExceeded: 'refuse' | 'downgrade') => ({
    key: 'tenant:default/batch' as const,
    window: 'day' as const,
    budgetUSD: 50,
    spentUSD: 50.12,
    resetAtMs,
    state: 'exceeded' as const,
    onExceeded,
    allowanceUSD: 0,
  });
  const tenants = [tenant('batch', { budget: { dailyUSD: 50 } })];
  const start = (
    routes = [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'b' }] }] })],
  ) =>
    startDataPlane([{ name: 'b', spec: { pricing } }, { name: 'cheap' }], routes, {
      identity: { mode: 'local', tenant: 'batch' },
      tableIdentity: { tenants },
    });

  test('exceeded with refuse: 429 budget_exceeded naming the budget and its reset, Retry-After to the reset', async () => {
    dp = await start();
    expect(await servedBy(1)).toEqual(['default/b']);
    await admin('PUT', '/admin/v1/quotas', assignment({ budgets: [budget('refuse')] }));
    const err = (await dp.client.chat.completions
      .create(chat)
      .catch((e: unknown) => e)) as APIError;
    expect(err.status).toBe(429);
    expect(err.code).toBe('budget_exceeded');
    expect(err.message).toBe(
      '429 tenant default/batch has spent its daily budget of $50.00 (spent $50.12); it resets at 2030-01-01T00:00:00Z',
    );
    const retryAfter = Number(err.headers?.get('retry-after'));
    expect(Math.abs(retryAfter - (resetAtMs - Date.now()) / 1000)).toBeLessThan(60);
  });

  test('this proxy alone spending its allowance makes the budget exceeded before the controller says so', async () => {
    dp = await start();
    await admin(
      'PUT',
      '/admin/v1/quotas',
      assignment({
        budgets: [{ ...budget('refuse'), state: 'warning', spentUSD: 45, allowanceUSD: 1e-9 }],
      }),
    );
    expect(await servedBy(2)).toEqual(['default/b', 'budget_exceeded']);
  });

  test('a generous allowance serves; once the assignment expires (controller gone) the safe allowance holds', async () => {
    dp = await start();
    // validForMs 5 s: the two requests before expiry take milliseconds; 5 s
    // keeps them inside it on a busy 2-core machine.
    const validForMs = 5_000;
    const pushedAt = Date.now();
    await admin(
      'PUT',
      '/admin/v1/quotas',
      assignment({
        validForMs,
        budgets: [
          {
            ...budget('refuse'),
            state: 'ok',
            spentUSD: 10,
            allowanceUSD: 40,
            safeAllowanceUSD: 1e-9,
          },
        ],
      }),
    );
    expect(await servedBy(2)).toEqual(['default/b', 'default/b']);
    expect(Date.now() - pushedAt).toBeLessThan(validForMs);
    await new Promise((r) => setTimeout(r, validForMs - (Date.now() - pushedAt) + 200));
    expect(await servedBy(1)).toEqual(['budget_exceeded']);
  });

  test('exceeded with downgrade: served only by a rule for exceeded budgets, else refused', async () => {
    dp = await start();
    await admin('PUT', '/admin/v1/quotas', assignment({ budgets: [budget('downgrade')] }));
    expect(await servedBy(1)).toEqual(['budget_exceeded']); // the route has no such rule
    await dp.close();
    dp = await start([
      route('chat', {
        rules: [
          {
            name: 'over-budget',
            matches: [{ budgetExceeded: true }],
            backendRefs: [{ name: 'cheap' }],
          },
          { name: 'all', backendRefs: [{ name: 'b' }] },
        ],
      }),
    ]);
    await admin('PUT', '/admin/v1/quotas', assignment({ budgets: [budget('downgrade')] }));
    const { response } = await dp.client.chat.completions.create(chat).withResponse();
    expect(response.headers.get('x-modelroute-rule')).toBe('over-budget');
    expect(response.headers.get('x-modelroute-backend')).toBe('default/cheap');
  });
});
