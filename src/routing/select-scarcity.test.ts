// Routing under scarcity (issue 14): matches on a backend's load, on time
// windows and on an exceeded budget, and priority classes moving off a
// backend near its limits, with a live view that behaves as the contract says.
import type { ModelRoute } from '../api/v1alpha1/index.js';
import { backend, facts, route, type FactsInput } from './__fixtures__/objects.js';
import { compileRoutingTable } from './compile.js';
import type { BackendLiveView } from './live-state.js';
import { prepareTable } from './prepared-table.js';
import { seededRandom } from './random.js';
import { selectBackends, type RoutingDecision } from './select.js';

/**
 * The contract's live view over fixed loads: unavailable with an open circuit
 * or a full share (load 1); low from load 0.8, normal from 0.9, where load
 * also counts latency over the objective. Like the proxy's, it counts each
 * refusal by a share or ceiling (what the controller sees as refused).
 */
class FakeLive implements BackendLiveView {
  readonly shareLoads = new Map<string, number>();
  readonly open = new Set<string>();
  readonly latency = new Map<string, number>();
  readonly calls: { backendId: string; priority: string | undefined }[] = [];
  refusals = 0;
  constructor(private readonly objectiveMs: number | undefined = undefined) {}

  available(backendId: string, priority?: string): boolean {
    this.calls.push({ backendId, priority });
    if (this.open.has(backendId)) return false;
    const ceiling = priority === 'low' ? 0.8 : priority === 'normal' ? 0.9 : undefined;
    const fits = (this.shareLoads.get(backendId) ?? 0) < 1;
    if (fits && (ceiling === undefined || this.load(backendId) < ceiling)) return true;
    this.refusals++;
    return false;
  }
  load(backendId: string): number {
    const latency = this.latency.get(backendId);
    const slow =
      this.objectiveMs !== undefined && latency !== undefined ? latency / this.objectiveMs : 0;
    return Math.max(this.shareLoads.get(backendId) ?? 0, slow);
  }
  latencyMs(backendId: string): number | undefined {
    return this.latency.get(backendId);
  }
  inFlight(): number {
    return 0;
  }
}

const strong = backend('strong', { limits: { rpm: 100, latencyObjectiveMs: 2000 } });
const cheap = backend('cheap');

function decide(
  routes: ModelRoute[],
  live: BackendLiveView,
  input: FactsInput & { nowMs?: number; budgetExceeded?: boolean; priority?: string },
  backends = [strong, cheap],
): RoutingDecision {
  const table = prepareTable(compileRoutingTable(routes, backends));
  const headers = { ...input.headers };
  if (input.priority !== undefined) headers['x-modelroute-priority'] = input.priority;
  const f = Object.assign(facts({ ...input, headers }), {
    nowMs: input.nowMs,
    budgetExceeded: input.budgetExceeded,
  });
  return selectBackends(table, f, { rng: seededRandom(1), live });
}

const ruleOf = (d: RoutingDecision) => (d.ok ? d.ruleName : `error ${d.error.cause}`);
const namesOf = (d: RoutingDecision) => (d.ok ? d.attempts.map((a) => a.backend.name) : []);

/** Rule "special" (the match under test) → cheap; rule "rest" → strong. */
const withMatch = (match: object) =>
  route('chat', {
    rules: [
      { name: 'special', matches: [match], backendRefs: [{ name: 'cheap' }] },
      { name: 'rest', backendRefs: [{ name: 'strong' }] },
    ],
  });

describe('matches.load', () => {
  test.each([
    ['idle', 0, 'rest'],
    ['at the threshold (strictly above is needed)', 0.7, 'rest'],
    ['above the threshold', 0.71, 'special'],
    ['over its share', 1.3, 'special'],
  ])('%s', (_name, load, expected) => {
    const live = new FakeLive();
    live.shareLoads.set('default/strong', load);
    const r = withMatch({ load: { backend: 'strong', above: 0.7 } });
    expect(ruleOf(decide([r], live, { model: 'chat' }))).toBe(expected);
  });

  test("the backend is looked up in the route's namespace unless the condition names one", () => {
    const shared = backend('strong', {}, 'models');
    const r = route(
      'chat',
      {
        rules: [
          {
            name: 'special',
            matches: [{ load: { backend: 'strong', namespace: 'models', above: 0.5 } }],
            backendRefs: [{ name: 'cheap', namespace: 'team' }],
          },
          { name: 'rest', backendRefs: [{ name: 'strong', namespace: 'models' }] },
        ],
      },
      { namespace: 'team' },
    );
    const table = prepareTable(
      compileRoutingTable([r], [shared, backend('cheap', {}, 'team')], new Map(), {
        grants: [
          {
            apiVersion: 'modelroute.io/v1alpha1',
            kind: 'ModelBackendGrant',
            metadata: { name: 'team', namespace: 'models' },
            spec: { from: [{ namespace: 'team' }] },
          },
        ] as never,
      }),
    );
    const live = new FakeLive();
    live.shareLoads.set('models/strong', 0.6);
    live.shareLoads.set('team/strong', 0); // a same-named backend elsewhere must not count
    const d = selectBackends(table, facts({ model: 'chat' }), { rng: seededRandom(1), live });
    expect(ruleOf(d)).toBe('special');
  });

  test('a live view without load never satisfies a load condition', () => {
    const live: BackendLiveView = {
      available: () => true,
      latencyMs: () => undefined,
      inFlight: () => 0,
    };
    expect(
      ruleOf(
        decide([withMatch({ load: { backend: 'strong', above: 0 } })], live, { model: 'chat' }),
      ),
    ).toBe('rest');
  });
});

describe('matches.timeWindows', () => {
  const peak = withMatch({
    timeWindows: [
      {
        days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri'],
        start: '09:00',
        end: '17:00',
        timeZone: 'America/New_York',
      },
      { days: ['Sat'], start: '20:00', end: '02:00', timeZone: 'Europe/Berlin' },
    ],
  });
  test.each([
    ['Thursday 10:00 New York', '2026-12-03T15:00:00Z', 'special'],
    ['Thursday 08:59 New York', '2026-12-03T13:59:00Z', 'rest'],
    ['Saturday 23:00 Berlin (the other window)', '2026-12-05T22:00:00Z', 'special'],
    ['Sunday 01:30 Berlin (Saturday night)', '2026-12-06T00:30:00Z', 'special'],
    ['Sunday 10:00 New York', '2026-12-06T15:00:00Z', 'rest'],
  ])('%s', (_name, iso, expected) => {
    expect(ruleOf(decide([peak], new FakeLive(), { model: 'chat', nowMs: Date.parse(iso) }))).toBe(
      expected,
    );
  });

  test('without an arrival time no window holds', () => {
    expect(ruleOf(decide([peak], new FakeLive(), { model: 'chat' }))).toBe('rest');
  });
});

describe('matches.budgetExceeded', () => {
  test.each([
    [true, true, 'special'],
    [true, false, 'rest'],
    [true, undefined, 'rest'],
    [false, true, 'rest'],
    [false, false, 'special'],
    [false, undefined, 'special'],
  ])('budgetExceeded: %s with the request exceeded=%s → %s', (want, exceeded, expected) => {
    const r = withMatch({ budgetExceeded: want });
    expect(ruleOf(decide([r], new FakeLive(), { model: 'chat', budgetExceeded: exceeded }))).toBe(
      expected,
    );
  });

  test('absent: either', () => {
    const r = withMatch({ tenants: ['acme'] });
    for (const budgetExceeded of [true, false, undefined])
      expect(
        ruleOf(
          decide([r], new FakeLive(), {
            model: 'chat',
            headers: { 'x-modelroute-tenant': 'acme' },
            budgetExceeded,
          }),
        ),
      ).toBe('special');
  });
});

describe('priority under scarcity', () => {
  // One rule: strong first, cheap as the alternate (priority strategy).
  const strongThenCheap = route('chat', {
    rules: [
      {
        name: 'main',
        strategy: 'priority',
        backendRefs: [{ name: 'strong' }, { name: 'cheap' }],
      },
    ],
  });
  const onlyStrong = route('chat', {
    rules: [{ name: 'main', backendRefs: [{ name: 'strong' }] }],
  });

  test("the request's priority class is what the live view is asked about", () => {
    const live = new FakeLive();
    decide([strongThenCheap], live, { model: 'chat', priority: 'Low' });
    expect(live.calls[0]).toEqual({ backendId: 'default/strong', priority: 'low' });
  });

  test.each([
    // load, class → order of attempts
    [0.5, 'low', ['strong', 'cheap']],
    [0.85, 'low', ['cheap']],
    [0.85, 'normal', ['strong', 'cheap']],
    [0.95, 'normal', ['cheap']],
    [0.95, 'high', ['strong', 'cheap']],
    [0.95, undefined, ['strong', 'cheap']],
    [1, 'high', ['cheap']],
  ])('strong at load %s, %s priority: %j', (load, priority, expected) => {
    const live = new FakeLive();
    live.shareLoads.set('default/strong', load);
    expect(namesOf(decide([strongThenCheap], live, { model: 'chat', priority }))).toEqual(expected);
  });

  test('a backend kept for higher classes is skipped as Scarce, naming the ceiling', () => {
    const live = new FakeLive();
    live.shareLoads.set('default/strong', 0.85);
    const d = decide([strongThenCheap], live, { model: 'chat', priority: 'low' });
    expect(d.skipped).toEqual([
      {
        backendId: 'default/strong',
        reason: 'Scarce',
        detail: expect.stringContaining(
          'load 0.85 reached the low-priority ceiling of 0.8',
        ) as unknown,
      },
    ]);
  });

  test('configured ceilings are the ones named', () => {
    const custom = backend('strong', {
      limits: { rpm: 100, priorityCeilings: { low: 0.5, normal: 0.7 } },
    });
    const live = new FakeLive(); // its own fixed ceilings: only the message is under test
    live.shareLoads.set('default/strong', 0.95);
    const d = decide([onlyStrong], live, { model: 'chat', priority: 'normal' }, [custom, cheap]);
    expect(d.skipped[0]?.detail).toContain('normal-priority ceiling of 0.7');
  });

  test('low priority moves off a backend over its latency objective, naming it', () => {
    const live = new FakeLive(2000);
    live.latency.set('default/strong', 3500);
    const low = decide([strongThenCheap], live, { model: 'chat', priority: 'low' });
    expect(namesOf(low)).toEqual(['cheap']);
    expect(low.skipped[0]).toMatchObject({ reason: 'Scarce' });
    expect(low.skipped[0]?.detail).toContain(
      'recent latency 3500 ms is 1.75 of its objective of 2000 ms, past the low-priority ceiling of 0.8',
    );
    expect(namesOf(decide([strongThenCheap], live, { model: 'chat', priority: 'high' }))).toEqual([
      'strong',
      'cheap',
    ]);
  });

  test('latency near the objective moves low before normal', () => {
    const live = new FakeLive(2000);
    live.latency.set('default/strong', 1700); // 0.85 of the objective
    expect(namesOf(decide([strongThenCheap], live, { model: 'chat', priority: 'low' }))).toEqual([
      'cheap',
    ]);
    expect(namesOf(decide([strongThenCheap], live, { model: 'chat', priority: 'normal' }))).toEqual(
      ['strong', 'cheap'],
    );
  });

  test.each([
    ['a full share', 1.2, 'high', 'AtLimit'],
    ['a full share', 1.2, 'low', 'AtLimit'],
    ['a ceiling', 0.85, 'low', 'Scarce'],
  ])('a refusal by %s is counted once (%s, %s)', (_what, load, priority, reason) => {
    const live = new FakeLive();
    live.shareLoads.set('default/strong', load);
    const d = decide([strongThenCheap], live, { model: 'chat', priority });
    expect(d.skipped.map((s) => s.reason)).toEqual([reason]);
    expect(live.refusals).toBe(1);
  });

  test('nothing left but for ceilings: a shed error with a retry time, not 503', () => {
    const live = new FakeLive();
    live.shareLoads.set('default/strong', 0.85);
    const d = decide([onlyStrong], live, { model: 'chat', priority: 'low' });
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.error).toMatchObject({
      code: 'NoEligibleBackend',
      cause: 'shed',
      retryAfterSeconds: 1,
    });
    expect(d.error.message).toContain('route default/chat is at capacity for this request');
    expect(d.error.message).toContain('default/strong (Scarce:');
  });

  test('at the share itself: AtLimit, shed for every class', () => {
    const live = new FakeLive();
    live.shareLoads.set('default/strong', 1);
    const d = decide([onlyStrong], live, { model: 'chat', priority: 'high' });
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.skipped[0]).toMatchObject({ reason: 'AtLimit' });
    expect(d.error.cause).toBe('shed');
  });

  test('an open circuit is not capacity held back: 503 as before, even beside a scarce backend', () => {
    const live = new FakeLive();
    live.open.add('default/cheap');
    live.shareLoads.set('default/strong', 0.85);
    const d = decide([strongThenCheap], live, { model: 'chat', priority: 'low' });
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.skipped.map((s) => s.reason)).toEqual(['Scarce', 'Unavailable']);
    expect(d.error.cause).toBe('capacity');
  });

  test('held back beside backends the request cannot use anyway: still shed', () => {
    const small = backend('cheap', { contextWindow: 100 });
    const live = new FakeLive();
    live.shareLoads.set('default/strong', 0.85);
    const d = decide(
      [strongThenCheap],
      live,
      { model: 'chat', priority: 'low', promptTokens: 500 },
      [strong, small],
    );
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.error.cause).toBe('shed');
  });

  test('load condition and priority together: low moves to a cheaper rule before the ceiling', () => {
    const r = route('chat', {
      rules: [
        {
          name: 'low-under-load',
          matches: [{ priorities: ['low'], load: { backend: 'strong', above: 0.6 } }],
          backendRefs: [{ name: 'cheap' }],
        },
        { name: 'main', backendRefs: [{ name: 'strong' }] },
      ],
    });
    const live = new FakeLive();
    live.shareLoads.set('default/strong', 0.7);
    expect(ruleOf(decide([r], live, { model: 'chat', priority: 'low' }))).toBe('low-under-load');
    expect(ruleOf(decide([r], live, { model: 'chat', priority: 'high' }))).toBe('main');
  });
});
