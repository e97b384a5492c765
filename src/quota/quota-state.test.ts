import type { QuotaAssignment } from './protocol.js';
import { QuotaState, UNASSIGNED_SHARE_DIVISOR } from './quota-state.js';

const KEY = 'backend:default/a' as const;
const LIMIT = { rpm: 600, tpm: 60_000, maxConcurrency: 40 };

function assignment(over: Partial<QuotaAssignment> = {}): QuotaAssignment {
  return {
    sequence: 1,
    term: 'leader-a/1',
    issuedAtMs: 0,
    validForMs: 30_000,
    limits: [
      {
        key: KEY,
        share: { rpm: 300, tpm: 30_000, maxConcurrency: 20 },
        safe: { rpm: 100, tpm: 10_000, maxConcurrency: 5 },
        limit: LIMIT,
      },
    ],
    budgets: [],
    ...over,
  };
}

function setup(mode: 'local' | 'fleet' = 'fleet') {
  let t = 1_000_000;
  const state = new QuotaState({ mode, now: () => t });
  return { state, advance: (ms: number) => (t += ms), now: () => t };
}

describe('before any assignment', () => {
  test('a controller-fed proxy enforces limit / UNASSIGNED_SHARE_DIVISOR', () => {
    const { state } = setup('fleet');
    expect(UNASSIGNED_SHARE_DIVISOR).toBe(20);
    expect(state.shareOf(KEY, LIMIT)).toEqual({
      amounts: { rpm: 30, tpm: 3000, maxConcurrency: 2 },
      source: 'unassigned',
    });
    expect(state.assignment()).toBeNull();
  });

  test('a local-mode proxy is the whole fleet: share = limit', () => {
    const { state } = setup('local');
    expect(state.shareOf(KEY, LIMIT)).toEqual({ amounts: LIMIT, source: 'whole-limit' });
  });
});

describe('apply', () => {
  test('the assigned share holds until validForMs passes, then the safe share', () => {
    const { state, advance } = setup();
    expect(state.apply(assignment())).toEqual({ ok: true });
    expect(state.shareOf(KEY, LIMIT)).toEqual({
      amounts: { rpm: 300, tpm: 30_000, maxConcurrency: 20 },
      source: 'assigned',
    });
    const before = state.epoch();
    advance(29_999);
    expect(state.shareOf(KEY, LIMIT).source).toBe('assigned');
    advance(1);
    expect(state.epoch()).not.toBe(before);
    expect(state.shareOf(KEY, LIMIT)).toEqual({
      amounts: { rpm: 100, tpm: 10_000, maxConcurrency: 5 },
      source: 'safe',
    });
    // A newer assignment brings the share back.
    expect(state.apply(assignment({ sequence: 2 }))).toEqual({ ok: true });
    expect(state.shareOf(KEY, LIMIT).source).toBe('assigned');
  });

  test('an older sequence of the same term is refused with 409 and changes nothing', () => {
    const { state } = setup();
    state.apply(assignment({ sequence: 5 }));
    const result = state.apply(assignment({ sequence: 4, limits: [] }));
    expect(result).toEqual({
      ok: false,
      status: 409,
      error: expect.stringMatching(/assignment 4 of term leader-a\/1 is older than assignment 5/),
    });
    expect(state.assignment()).toEqual({ term: 'leader-a/1', sequence: 5 });
    expect(state.shareOf(KEY, LIMIT).source).toBe('assigned');
  });

  test('the same sequence renews; a new term may restart the sequence', () => {
    const { state, advance } = setup();
    state.apply(assignment({ sequence: 5 }));
    advance(20_000);
    expect(state.apply(assignment({ sequence: 5 }))).toEqual({ ok: true });
    advance(20_000);
    expect(state.shareOf(KEY, LIMIT).source).toBe('assigned'); // renewed 20 s ago
    expect(state.apply(assignment({ term: 'leader-b/2', sequence: 0 }))).toEqual({ ok: true });
    expect(state.assignment()).toEqual({ term: 'leader-b/2', sequence: 0 });
  });

  test.each([
    ['not an object', 'nope', /\(body\)/],
    ['a missing field', { ...assignment(), term: undefined }, /term/],
    [
      'a bad key',
      assignment({ limits: [{ ...assignment().limits[0]!, key: 'pod:x' as never }] }),
      /limits\.0\.key/,
    ],
    [
      'a negative share',
      assignment({ limits: [{ ...assignment().limits[0]!, share: { rpm: -1 } }] }),
      /limits\.0\.share\.rpm/,
    ],
    ['an unknown field', { ...assignment(), extra: 1 }, /extra/],
  ])('a bad body (%s) is refused with 400 naming the field', (_name, body, pattern) => {
    const { state } = setup();
    const result = state.apply(body);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.status).toBe(400);
    expect(result.error).toMatch(/not a quota assignment/);
    expect(result.error).toMatch(pattern);
    expect(state.assignment()).toBeNull();
  });

  test('a share is never above the table limit, and a key the assignment lacks is unassigned', () => {
    const { state } = setup();
    state.apply(assignment());
    expect(state.shareOf(KEY, { rpm: 200 }).amounts).toEqual({ rpm: 200 });
    expect(state.shareOf('backend:default/other', { rpm: 600 })).toEqual({
      amounts: { rpm: 30 },
      source: 'unassigned',
    });
  });
});

describe('budgets', () => {
  const tenantKey = 'tenant:team-a/batch' as const;
  const budget = {
    key: tenantKey,
    window: 'day' as const,
    budgetUSD: 50,
    spentUSD: 40,
    resetAtMs: 2_000_000,
    state: 'ok' as const,
    onExceeded: 'refuse' as const,
    allowanceUSD: 1,
  };

  test('exceeded when the controller says so', () => {
    const { state } = setup();
    state.apply(assignment({ budgets: [{ ...budget, state: 'exceeded', spentUSD: 50.12 }] }));
    expect(state.exceededBudget(tenantKey)).toMatchObject({ spentUSD: 50.12 });
  });

  test('exceeded once this proxy alone spent more than its allowance since the assignment', () => {
    const { state } = setup();
    state.apply(assignment({ budgets: [budget] }));
    state.recordSpend([tenantKey], 0.6);
    expect(state.exceededBudget(tenantKey)).toBeUndefined();
    state.recordSpend([tenantKey], 0.6);
    expect(state.exceededBudget(tenantKey)).toMatchObject({ spentUSD: 41.2 });
    // A new assignment starts the allowance afresh.
    state.apply(assignment({ sequence: 2, budgets: [budget] }));
    expect(state.exceededBudget(tenantKey)).toBeUndefined();
  });

  test('once the assignment expires (controller gone) the safe allowance holds, counted from the same assignment', () => {
    const { state, advance } = setup();
    state.apply(assignment({ budgets: [{ ...budget, allowanceUSD: 10, safeAllowanceUSD: 0.5 }] }));
    state.recordSpend([tenantKey], 0.8);
    expect(state.exceededBudget(tenantKey)).toBeUndefined();
    advance(30_000);
    expect(state.exceededBudget(tenantKey)).toMatchObject({ spentUSD: 40.8 });
  });

  test('an expired assignment without a safe allowance (older controller) holds what is left / 20', () => {
    const { state, advance } = setup();
    state.apply(assignment({ budgets: [{ ...budget, allowanceUSD: 10 }] }));
    state.recordSpend([tenantKey], 0.4); // $10 left: 0.5 once expired
    advance(30_000);
    expect(state.exceededBudget(tenantKey)).toBeUndefined();
    state.recordSpend([tenantKey], 0.2);
    expect(state.exceededBudget(tenantKey)).toMatchObject({ spentUSD: 40.6 });
  });

  test('a window past its reset time no longer holds', () => {
    const { state, advance } = setup();
    state.apply(assignment({ budgets: [{ ...budget, state: 'exceeded' }] }));
    advance(1_000_000);
    expect(state.exceededBudget(tenantKey)).toBeUndefined();
  });
});
