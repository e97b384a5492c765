import type { CompiledBackend } from '../routing/table.js';
import { BackendLiveState, type AttemptOutcome } from './backend-live-state.js';
import type { CircuitState } from './resilience/circuit-breaker.js';
import { QuotaState } from '../quota/quota-state.js';

function backend(name: string, limits: CompiledBackend['limits'] = {}): CompiledBackend {
  return {
    id: `default/${name}`,
    namespace: 'default',
    name,
    provider: 'openai',
    baseUrl: 'https://api.example.com/v1',
    model: 'gpt-4o-mini',
    pricing: { inputPerMillion: 0.15, outputPerMillion: 0.6, cachedInputPerMillion: 0.075 },
    limits,
    capabilities: ['chat'],
    compliance: [],
    timeouts: { connectMs: 1000, firstTokenMs: 10_000, totalMs: 60_000 },
    health: 'Healthy',
  };
}

const A = 'default/a';
const B = 'default/b';
const C = 'default/c';

function setup(backends: CompiledBackend[] = [backend('a'), backend('b')]) {
  let t = 0;
  const changes: Array<[string, CircuitState]> = [];
  const live = new BackendLiveState({
    now: () => t,
    breaker: { failureThreshold: 2, openMs: 1_000, maxOpenMs: 8_000 },
    onCircuitChange: (id, state) => changes.push([id, state]),
  });
  live.configure(backends);
  const attempt = (
    id: string,
    outcome: AttemptOutcome,
    details: { latencyMs?: number; ttftMs?: number; tokens?: number } = {},
  ) => live.begin(id, 10).finish(outcome, { latencyMs: 100, ...details });
  return {
    live,
    changes,
    attempt,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('outcomes and the circuit', () => {
  test.each<[AttemptOutcome, CircuitState]>([
    ['connect-failure', 'open'],
    ['timeout', 'open'],
    ['server-error', 'open'],
    ['stream-broken', 'open'],
    ['rate-limited', 'open'],
    ['client-error', 'closed'],
  ])('%s twice → circuit %s', (outcome, circuit) => {
    const { live, attempt } = setup();
    attempt(A, outcome);
    attempt(A, outcome);
    const stats = live.stats().find((s) => s.backendId === A);
    expect(stats?.circuit).toBe(circuit);
    expect(stats?.failures[outcome as Exclude<AttemptOutcome, 'success'>]).toBe(2);
    expect(live.available(A)).toBe(circuit === 'closed');
    expect(live.available(B)).toBe(true);
  });

  test('an open circuit recovers through one probe, and onCircuitChange reports each step', () => {
    const { live, attempt, advance, changes } = setup();
    attempt(A, 'server-error');
    attempt(A, 'server-error');
    expect(live.available(A)).toBe(false);
    advance(1_000);
    expect(live.available(A)).toBe(true); // half-open
    const probe = live.begin(A, 10);
    expect(live.available(A)).toBe(false); // only one probe
    probe.finish('success', { latencyMs: 50 });
    expect(live.available(A)).toBe(true);
    expect(changes).toEqual([
      [A, 'open'],
      [A, 'half-open'],
      [A, 'closed'],
    ]);
  });

  test('a client error on the probe gives the probe slot back without closing or opening', () => {
    const { live, attempt, advance } = setup();
    attempt(A, 'timeout');
    attempt(A, 'timeout');
    advance(1_000);
    live.begin(A, 10).finish('client-error', { latencyMs: 5 });
    expect(live.stats()[0]?.circuit).toBe('half-open');
    expect(live.available(A)).toBe(true);
  });

  test('client errors do not break a run of failures either', () => {
    const { live, attempt } = setup();
    attempt(A, 'server-error');
    attempt(A, 'client-error');
    expect(live.stats()[0]?.consecutiveFailures).toBe(1);
    attempt(A, 'server-error');
    expect(live.available(A)).toBe(false);
  });
});

describe('latency', () => {
  test('successes feed the latency and TTFT averages; failures and client errors do not', () => {
    const { live, attempt } = setup();
    expect(live.latencyMs(A)).toBeUndefined();
    attempt(A, 'success', { latencyMs: 100, ttftMs: 40 });
    attempt(A, 'success', { latencyMs: 200 });
    attempt(A, 'client-error', { latencyMs: 5 });
    attempt(A, 'timeout', { latencyMs: 60_000 });
    expect(live.latencyMs(A)).toBeCloseTo(120, 10); // alpha 0.2
    const stats = live.stats()[0];
    expect(stats?.latencyEwmaMs).toBeCloseTo(120, 10);
    expect(stats?.ttftEwmaMs).toBe(40);
    expect(live.latencyMs(C)).toBeUndefined();
  });
});

describe('concurrency', () => {
  test('maxConcurrency via begin/finish', () => {
    const { live } = setup([backend('a', { maxConcurrency: 2 })]);
    const first = live.begin(A, 10);
    expect(live.available(A)).toBe(true);
    const second = live.begin(A, 10);
    expect(live.inFlight(A)).toBe(2);
    expect(live.available(A)).toBe(false);
    first.finish('success', { latencyMs: 10 });
    expect(live.inFlight(A)).toBe(1);
    expect(live.available(A)).toBe(true);
    second.finish('success', { latencyMs: 10 });
    expect(live.inFlight(A)).toBe(0);
  });

  test('finish is idempotent', () => {
    const { live } = setup();
    live.begin(A, 10); // still in flight
    const ticket = live.begin(A, 10);
    ticket.finish('server-error', { latencyMs: 10 });
    ticket.finish('server-error', { latencyMs: 10 });
    ticket.finish('success', { latencyMs: 10 });
    const stats = live.stats()[0];
    expect(stats?.inFlight).toBe(1);
    expect(stats?.failures['server-error']).toBe(1);
    expect(stats?.successes).toBe(0);
    expect(stats?.consecutiveFailures).toBe(1);
  });
});

describe('rate limits', () => {
  test('rpm makes a backend unavailable until the window slides', () => {
    const { live, attempt, advance } = setup([backend('a', { rpm: 2 })]);
    attempt(A, 'success');
    attempt(A, 'success');
    expect(live.available(A)).toBe(false);
    advance(60_000);
    expect(live.available(A)).toBe(true);
  });

  test('tpm counts estimates, corrected by real usage', () => {
    const { live, advance } = setup([backend('a', { tpm: 1000 })]);
    const ticket = live.begin(A, 1200);
    expect(live.available(A)).toBe(false); // the estimate overfills the window
    advance(500);
    ticket.finish('success', { latencyMs: 500, tokens: 400 });
    expect(live.available(A)).toBe(true);
  });
});

describe('configure', () => {
  test('keeps the state of backends that stay, starts new ones fresh, drops removed ones', () => {
    const { live, attempt, changes } = setup();
    attempt(A, 'success', { latencyMs: 300 });
    attempt(A, 'timeout');
    attempt(A, 'timeout'); // a open
    attempt(B, 'success', { latencyMs: 100 });

    live.configure([backend('a', { maxConcurrency: 1 }), backend('c')]);

    expect(live.available(A)).toBe(false); // still open: a table push does not reset a circuit
    expect(live.latencyMs(A)).toBe(300);
    expect(live.stats().map((s) => s.backendId)).toEqual([A, C]);
    expect(live.available(B)).toBe(false); // unknown now
    expect(live.latencyMs(B)).toBeUndefined();
    expect(live.available(C)).toBe(true);
    expect(changes).toEqual([[A, 'open']]);
  });

  test('applies new limits to backends that stay', () => {
    const { live } = setup([backend('a')]);
    live.begin(A, 10);
    expect(live.available(A)).toBe(true);
    live.configure([backend('a', { maxConcurrency: 1 })]);
    expect(live.available(A)).toBe(false);
    live.configure([backend('a', { maxConcurrency: 2 })]);
    expect(live.available(A)).toBe(true);
  });

  test('a ticket of a backend removed meanwhile finishes harmlessly', () => {
    const { live } = setup();
    const ticket = live.begin(B, 10);
    live.configure([backend('a')]);
    expect(() => ticket.finish('success', { latencyMs: 1 })).not.toThrow();
    expect(live.stats().map((s) => s.backendId)).toEqual([A]);
  });

  test('unknown ids: unavailable, nothing in flight, a no-op ticket', () => {
    const { live } = setup();
    expect(live.available('default/nope')).toBe(false);
    expect(live.inFlight('default/nope')).toBe(0);
    const ticket = live.begin('default/nope', 10);
    expect(() => ticket.finish('timeout', { latencyMs: 1 })).not.toThrow();
    expect(live.stats()).toHaveLength(2);
  });
});

test('stats shape, sorted by backend id', () => {
  const { live, attempt, advance } = setup([backend('b'), backend('a')]);
  advance(1234);
  attempt(B, 'success', { latencyMs: 80, ttftMs: 20 });
  attempt(B, 'rate-limited');
  live.begin(B, 10);
  expect(live.stats()).toEqual([
    {
      backendId: A,
      requests: 0,
      successes: 0,
      failures: {
        'connect-failure': 0,
        timeout: 0,
        'rate-limited': 0,
        'server-error': 0,
        'client-error': 0,
        'stream-broken': 0,
        'backend-rejected': 0,
        'auth-refused': 0,
        'endpoint-not-found': 0,
      },
      inFlight: 0,
      circuit: 'closed',
      consecutiveFailures: 0,
    },
    {
      backendId: B,
      requests: 3,
      successes: 1,
      failures: {
        'connect-failure': 0,
        timeout: 0,
        'rate-limited': 1,
        'server-error': 0,
        'client-error': 0,
        'stream-broken': 0,
        'backend-rejected': 0,
        'auth-refused': 0,
        'endpoint-not-found': 0,
      },
      inFlight: 1,
      latencyEwmaMs: 80,
      ttftEwmaMs: 20,
      circuit: 'closed',
      consecutiveFailures: 1,
      lastOutcome: 'rate-limited',
      lastOutcomeAt: 1234,
    },
  ]);
});

test('breaker defaults apply when options leave them out', () => {
  const live = new BackendLiveState({ now: () => 0 });
  live.configure([backend('a')]);
  for (let i = 0; i < 4; i++) live.begin(A, 0).finish('server-error', { latencyMs: 1 });
  expect(live.available(A)).toBe(true);
  live.begin(A, 0).finish('server-error', { latencyMs: 1 });
  expect(live.available(A)).toBe(false); // default threshold 5
});

describe('fleet shares and priority under scarcity (issue 14)', () => {
  function fleet(limits: CompiledBackend['limits']) {
    let t = 1_000_000;
    const quotas = new QuotaState({ mode: 'fleet', now: () => t });
    const live = new BackendLiveState({ now: () => t, quotas });
    live.configure([backend('a', limits)]);
    const push = (sequence: number, share: number, safe = share) =>
      quotas.apply({
        sequence,
        term: 'term',
        issuedAtMs: t,
        validForMs: 30_000,
        limits: [
          {
            key: 'backend:default/a',
            share: { rpm: share },
            safe: { rpm: safe },
            limit: { rpm: 100 },
          },
        ],
        budgets: [],
      });
    return { live, push, advance: (ms: number) => (t += ms) };
  }

  test('enforces limit / 20 before the first assignment, then the assigned share, then safe', () => {
    const { live, push, advance } = fleet({ rpm: 100 });
    for (let i = 0; i < 5; i++) live.begin(A, 0).finish('success', { latencyMs: 1 });
    expect(live.available(A)).toBe(false); // 100 / 20 = 5
    live.countRefusal(A);
    push(1, 8);
    expect(live.available(A)).toBe(true); // the window's 5 still count
    live.countRefusal(A); // not refused: nothing counted
    for (let i = 0; i < 3; i++) live.begin(A, 0).finish('success', { latencyMs: 1 });
    expect(live.available(A)).toBe(false);
    live.countRefusal(A);
    expect(live.limitUsage()).toEqual([
      expect.objectContaining({
        key: 'backend:default/a',
        admitted: 8,
        refused: 2,
        windowRequests: 8,
      }),
    ]);
    advance(61_000); // window empty; the assignment expired: safe 8
    push(2, 20, 2);
    advance(30_000);
    live.begin(A, 0).finish('success', { latencyMs: 1 });
    live.begin(A, 0).finish('success', { latencyMs: 1 });
    expect(live.available(A)).toBe(false);
    expect(live.limitsInEffect()).toEqual([
      expect.objectContaining({ share: { rpm: 2 }, source: 'safe' }),
    ]);
  });

  test('low leaves at 80% of the share, normal at 90%, high only at the share', () => {
    const { live, push } = fleet({ rpm: 100 });
    push(1, 10);
    // Requests without a priority are served as high: their wanting the backend holds the ceilings.
    const send = (n: number) => {
      for (let i = 0; i < n; i++) live.begin(A, 0).finish('success', { latencyMs: 1 });
    };
    send(7);
    expect(live.load(A)).toBeCloseTo(0.7);
    expect(['low', 'normal', 'high', undefined].map((p) => live.available(A, p))).toEqual([
      true,
      true,
      true,
      true,
    ]);
    send(1);
    expect(['low', 'normal', 'high'].map((p) => live.available(A, p))).toEqual([false, true, true]);
    send(1);
    expect(['low', 'normal', 'high'].map((p) => live.available(A, p))).toEqual([
      false,
      false,
      true,
    ]);
    send(1);
    expect(['low', 'normal', 'high'].map((p) => live.available(A, p))).toEqual([
      false,
      false,
      false,
    ]);
  });

  test('a ceiling holds only while a higher class wanted the backend within the last minute', () => {
    const { live, push, advance } = fleet({ rpm: 1_000 });
    push(1, 100);
    const send = (n: number, priority: string | undefined) => {
      for (let i = 0; i < n; i++) live.begin(A, 0, priority).finish('success', { latencyMs: 1 });
    };
    // Only normal and low traffic: normal may fill the whole share, low stops at 80%.
    send(95, 'normal');
    expect(live.available(A, 'normal')).toBe(true);
    expect(live.available(A, 'low')).toBe(false);
    // A high-priority request wants it: normal now leaves the last 10% to high.
    live.countRefusal(A, 'high');
    expect(live.available(A, 'normal')).toBe(false);
    expect(live.available(A, 'high')).toBe(true);
    // A minute with no high-priority request: the headroom is not held back any more
    // (the window slid too, so fill it again first).
    advance(61_000);
    send(95, 'normal');
    expect(live.available(A, 'normal')).toBe(true);
    // Low traffic alone holds nothing back from anyone, and low itself may use the whole share then.
    advance(61_000);
    send(95, 'low');
    expect(live.available(A, 'low')).toBe(true);
  });

  test('custom ceilings and a latency objective: low moves while latency is over the objective', () => {
    const { live } = fleet({
      rpm: 100_000,
      priorityCeilings: { low: 0.5, normal: 0.95 },
      latencyObjectiveMs: 1000,
    });
    live.begin(A, 0).finish('success', { latencyMs: 600 });
    expect(live.load(A)).toBeCloseTo(0.6);
    expect(live.available(A, 'low')).toBe(false);
    expect(live.available(A, 'normal')).toBe(true);
    for (let i = 0; i < 20; i++) live.begin(A, 0).finish('success', { latencyMs: 3000 });
    expect(live.load(A)).toBeGreaterThan(1);
    expect(live.available(A, 'low')).toBe(false);
    expect(live.available(A, 'high')).toBe(true);
  });

  test('local mode enforces the whole limit', () => {
    const { live, attempt } = setup([backend('a', { rpm: 3 })]);
    attempt(A, 'success');
    attempt(A, 'success');
    expect(live.available(A)).toBe(true);
    attempt(A, 'success');
    expect(live.available(A)).toBe(false);
  });

  test('a backend without limits has no load and no usage row', () => {
    const { live } = setup([backend('a')]);
    expect(live.load(A)).toBe(0);
    expect(live.available(A, 'low')).toBe(true);
    expect(live.limitUsage()).toEqual([]);
  });
});
