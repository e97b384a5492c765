import type { HealthState, ModelBackend, ModelRoute } from '../api/v1alpha1/index.js';
import { priorQuantile } from './difficulty/calibration/prior.js';
import { backend, facts, route, type FactsInput } from './__fixtures__/objects.js';
import { compileRoutingTable } from './compile.js';
import type { BackendLiveView } from './live-state.js';
import { prepareTable } from './prepared-table.js';
import { seededRandom } from './random.js';
import { selectBackends, type RoutingDecision } from './select.js';
import { ruleKey } from './table.js';

interface Scenario {
  routes: ModelRoute[];
  backends: ModelBackend[];
  health?: Record<string, HealthState>;
  live?: Partial<BackendLiveView>;
  seed?: number;
}

function decide(s: Scenario, input: FactsInput): RoutingDecision {
  const health = new Map(Object.entries(s.health ?? {}).map(([name, h]) => [`default/${name}`, h]));
  const table = prepareTable(compileRoutingTable(s.routes, s.backends, health));
  const live: BackendLiveView = {
    available: () => true,
    latencyMs: () => undefined,
    inFlight: () => 0,
    ...s.live,
  };
  return selectBackends(table, facts(input), { rng: seededRandom(s.seed ?? 1), live });
}

function order(d: RoutingDecision): string[] {
  if (!d.ok) throw new Error(`expected a decision, got ${d.error.code}: ${d.error.message}`);
  return d.attempts.map((a) => a.backend.name);
}

const a = backend('a');
const b = backend('b');
const c = backend('c');
const single = (rules: ModelRoute['spec']['rules'] | Parameters<typeof route>[1]['rules']) =>
  route('chat', { rules: rules as Parameters<typeof route>[1]['rules'] });

describe('rule matching', () => {
  // Rule "special" (with the match under test) sends to a; rule "rest" to b.
  const withMatch = (match: object) =>
    single([
      { name: 'special', matches: [match], backendRefs: [{ name: 'a' }] },
      { name: 'rest', backendRefs: [{ name: 'b' }] },
    ]);

  test.each([
    [
      'Exact header equal',
      { headers: [{ name: 'X-Team', value: 'ml' }] },
      { 'x-team': 'ml' },
      'special',
    ],
    [
      'Exact header differs',
      { headers: [{ name: 'x-team', value: 'ml' }] },
      { 'x-team': 'ML' },
      'rest',
    ],
    ['Exact header absent', { headers: [{ name: 'x-team', value: 'ml' }] }, {}, 'rest'],
    [
      'Prefix header',
      { headers: [{ name: 'x-team', type: 'Prefix', value: 'ml-' }] },
      { 'x-team': 'ml-infra' },
      'special',
    ],
    [
      'Prefix header miss',
      { headers: [{ name: 'x-team', type: 'Prefix', value: 'ml-' }] },
      { 'x-team': 'web' },
      'rest',
    ],
    [
      'Regex matches whole value',
      { headers: [{ name: 'x-v', type: 'RegularExpression', value: 'v[0-9]+' }] },
      { 'x-v': 'v12' },
      'special',
    ],
    [
      'Regex is anchored',
      { headers: [{ name: 'x-v', type: 'RegularExpression', value: 'v[0-9]+' }] },
      { 'x-v': 'xv12' },
      'rest',
    ],
    [
      'Present header',
      { headers: [{ name: 'x-debug', type: 'Present' }] },
      { 'x-debug': '' },
      'special',
    ],
    ['Present header absent', { headers: [{ name: 'x-debug', type: 'Present' }] }, {}, 'rest'],
    [
      'tenant listed',
      { tenants: ['acme', 'globex'] },
      { 'x-modelroute-tenant': 'globex' },
      'special',
    ],
    ['tenant not listed', { tenants: ['acme'] }, { 'x-modelroute-tenant': 'initech' }, 'rest'],
    ['tenant missing', { tenants: ['acme'] }, {}, 'rest'],
    [
      'priority case-insensitive',
      { priorities: ['High'] },
      { 'x-modelroute-priority': 'HIGH' },
      'special',
    ],
    ['task listed', { tasks: ['summarize'] }, { 'x-modelroute-task': 'summarize' }, 'special'],
    ['task not listed', { tasks: ['summarize'] }, { 'x-modelroute-task': 'translate' }, 'rest'],
    [
      'capabilities all present',
      { capabilities: ['vision'] },
      { 'x-modelroute-capabilities': 'vision' },
      'special',
    ],
    [
      'compliance required by request',
      { compliance: ['hipaa'] },
      { 'x-modelroute-compliance': 'hipaa' },
      'special',
    ],
    ['compliance not required', { compliance: ['hipaa'] }, {}, 'rest'],
  ])('%s', (_name, match, headers, expectedRule) => {
    // Backends a and b carry every tag/capability so only matching decides.
    const all = { capabilities: ['chat', 'vision'] as const, compliance: ['hipaa'] };
    const d = decide(
      {
        routes: [withMatch(match)],
        backends: [
          backend('a', { ...all, capabilities: [...all.capabilities] }),
          backend('b', { ...all, capabilities: [...all.capabilities] }),
        ],
      },
      { model: 'chat', headers },
    );
    expect(d.ok && d.ruleName).toBe(expectedRule);
  });

  test.each([
    ['below range', { min: 100, max: 1000 }, 99, 'rest'],
    ['at min', { min: 100, max: 1000 }, 100, 'special'],
    ['at max', { min: 100, max: 1000 }, 1000, 'special'],
    ['above range', { min: 100, max: 1000 }, 1001, 'rest'],
    ['open-ended', { min: 100 }, 1_000_000, 'special'],
  ])('promptTokens %s', (_name, range, tokens, expectedRule) => {
    const d = decide(
      { routes: [withMatch({ promptTokens: range })], backends: [a, b] },
      { model: 'chat', promptTokens: tokens },
    );
    expect(d.ok && d.ruleName).toBe(expectedRule);
  });

  test.each([
    ['easy', 0.2, 'rest'],
    ['at threshold', 0.7, 'special'],
    ['hard', 0.95, 'special'],
  ])('difficulty %s', (_name, difficulty, expectedRule) => {
    const d = decide(
      { routes: [withMatch({ difficulty: { min: 0.7 } })], backends: [a, b] },
      { model: 'chat', difficulty },
    );
    expect(d.ok && d.ruleName).toBe(expectedRule);
  });

  test('all fields of one match must hold; any of several matches suffices', () => {
    const r = single([
      {
        name: 'special',
        matches: [
          { tenants: ['acme'], tasks: ['code'] },
          { headers: [{ name: 'x-vip', value: '1' }] },
        ],
        backendRefs: [{ name: 'a' }],
      },
      { name: 'rest', backendRefs: [{ name: 'b' }] },
    ]);
    const rule = (headers: Record<string, string>) => {
      const d = decide({ routes: [r], backends: [a, b] }, { model: 'chat', headers });
      return d.ok ? d.ruleName : undefined;
    };
    expect(rule({ 'x-modelroute-tenant': 'acme', 'x-modelroute-task': 'code' })).toBe('special');
    expect(rule({ 'x-modelroute-tenant': 'acme' })).toBe('rest');
    expect(rule({ 'x-vip': '1' })).toBe('special');
  });

  test('the first matching rule wins, in declaration order', () => {
    const r = single([
      { name: 'first', matches: [{ tenants: ['acme'] }], backendRefs: [{ name: 'a' }] },
      { name: 'second', matches: [{ tenants: ['acme'] }], backendRefs: [{ name: 'b' }] },
    ]);
    expect(
      order(
        decide(
          { routes: [r], backends: [a, b] },
          { model: 'chat', headers: { 'x-modelroute-tenant': 'acme' } },
        ),
      ),
    ).toEqual(['a']);
  });

  test('token count and difficulty are computed only when a rule or backend needs them', () => {
    const r = single([
      { name: 'r', matches: [{ tenants: ['acme'] }], backendRefs: [{ name: 'a' }] },
    ]);
    const table = prepareTable(compileRoutingTable([r], [a]));
    const f = facts({ model: 'chat', headers: { 'x-modelroute-tenant': 'acme' } });
    selectBackends(table, f, { rng: seededRandom(1) });
    expect(f.computed).toEqual({ tokens: 0, difficulty: 0 });

    const withWindow = prepareTable(
      compileRoutingTable(
        [single([{ name: 'r', backendRefs: [{ name: 'w' }] }])],
        [backend('w', { contextWindow: 8000 })],
      ),
    );
    const g = facts({ model: 'chat' });
    selectBackends(withWindow, g, { rng: seededRandom(1) });
    expect(g.computed).toEqual({ tokens: 1, difficulty: 0 }); // once, memoised
  });

  test('an unknown model is a RouteNotFound request error', () => {
    const d = decide(
      { routes: [single([{ name: 'r', backendRefs: [{ name: 'a' }] }])], backends: [a] },
      { model: 'gpt-5' },
    );
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.error).toMatchObject({ code: 'RouteNotFound', cause: 'request' });
      expect(d.error.message).toContain('"gpt-5"');
    }
  });

  test('aliases select the route', () => {
    const r = route('chat', {
      aliases: ['gpt-4o-auto'],
      rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }],
    });
    expect(order(decide({ routes: [r], backends: [a] }, { model: 'gpt-4o-auto' }))).toEqual(['a']);
  });
});

describe('strategies', () => {
  function firstPickShares(
    r: ModelRoute,
    backends: ModelBackend[],
    n: number,
    extra: Partial<Scenario> = {},
  ): Record<string, number> {
    const table = prepareTable(compileRoutingTable([r], backends));
    const rng = seededRandom(42);
    const counts: Record<string, number> = {};
    for (let i = 0; i < n; i++) {
      const d = selectBackends(table, facts({ model: 'chat' }), {
        rng,
        live: {
          available: () => true,
          latencyMs: () => undefined,
          inFlight: () => 0,
          ...extra.live,
        },
      });
      const first = d.ok ? (d.attempts[0]?.backend.name ?? '-') : '-';
      counts[first] = (counts[first] ?? 0) + 1;
    }
    return Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v / n]));
  }

  test('weighted: first picks follow the weights and every backend stays as an alternate', () => {
    const r = single([
      {
        name: 'r',
        strategy: 'weighted',
        backendRefs: [
          { name: 'a', weight: 3 },
          { name: 'b', weight: 1 },
        ],
      },
    ]);
    const shares = firstPickShares(r, [a, b], 20_000);
    expect(shares.a).toBeCloseTo(0.75, 1);
    expect(shares.b).toBeCloseTo(0.25, 1);
    expect(order(decide({ routes: [r], backends: [a, b] }, { model: 'chat' })).sort()).toEqual([
      'a',
      'b',
    ]);
  });

  test('weighted: the same seed gives the same order', () => {
    const r = single([{ name: 'r', backendRefs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }] }]);
    const s = { routes: [r], backends: [a, b, c], seed: 7 };
    expect(order(decide(s, { model: 'chat' }))).toEqual(order(decide(s, { model: 'chat' })));
  });

  test('priority: declaration order within a tier', () => {
    const r = single([
      {
        name: 'r',
        strategy: 'priority',
        backendRefs: [{ name: 'c' }, { name: 'a' }, { name: 'b' }],
      },
    ]);
    expect(order(decide({ routes: [r], backends: [a, b, c] }, { model: 'chat' }))).toEqual([
      'c',
      'a',
      'b',
    ]);
  });

  test('priority tiers: lower tiers first whatever the strategy, higher tiers only after', () => {
    const r = single([
      {
        name: 'r',
        strategy: 'weighted',
        backendRefs: [
          { name: 'a', priority: 1, weight: 100 },
          { name: 'b', priority: 0 },
          { name: 'c', priority: 2 },
        ],
      },
    ]);
    expect(order(decide({ routes: [r], backends: [a, b, c] }, { model: 'chat' }))).toEqual([
      'b',
      'a',
      'c',
    ]);
  });

  test('priority tiers: an unusable tier gives way to the next', () => {
    const r = single([
      {
        name: 'r',
        backendRefs: [
          { name: 'a', priority: 0 },
          { name: 'b', priority: 1 },
        ],
      },
    ]);
    const d = decide(
      { routes: [r], backends: [a, b], live: { available: (id) => id !== 'default/a' } },
      { model: 'chat' },
    );
    expect(order(d)).toEqual(['b']);
    expect(d.ok && d.skipped).toEqual([
      { backendId: 'default/a', reason: 'Unavailable', detail: expect.any(String) },
    ]);
  });

  test('least-latency: lowest EWMA first, unmeasured backends first of all', () => {
    const r = single([
      {
        name: 'r',
        strategy: 'least-latency',
        backendRefs: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
      },
    ]);
    const latency: Record<string, number> = { 'default/a': 900, 'default/b': 120 };
    const d = decide(
      { routes: [r], backends: [a, b, c], live: { latencyMs: (id) => latency[id] } },
      { model: 'chat' },
    );
    expect(order(d)).toEqual(['c', 'b', 'a']);
  });

  test('least-cost: cheapest estimated cost for this request first', () => {
    const pricey = backend('pricey', { pricing: { inputPerMillion: 10, outputPerMillion: 30 } });
    const cheap = backend('cheap', { pricing: { inputPerMillion: 0.1, outputPerMillion: 0.4 } });
    // Cheap input but very expensive output: loses when many output tokens are expected.
    const skewed = backend('skewed', { pricing: { inputPerMillion: 0.01, outputPerMillion: 100 } });
    const r = single([
      {
        name: 'r',
        strategy: 'least-cost',
        backendRefs: [{ name: 'pricey' }, { name: 'skewed' }, { name: 'cheap' }],
      },
    ]);
    const s = { routes: [r], backends: [pricey, cheap, skewed] };
    expect(order(decide(s, { model: 'chat', promptTokens: 100_000, maxOutputTokens: 1 }))).toEqual([
      'skewed',
      'cheap',
      'pricey',
    ]);
    expect(order(decide(s, { model: 'chat', promptTokens: 10, maxOutputTokens: 4000 }))).toEqual([
      'cheap',
      'pricey',
      'skewed',
    ]);
  });

  test('least-busy: fewest in flight per weight first', () => {
    const r = single([
      {
        name: 'r',
        strategy: 'least-busy',
        backendRefs: [{ name: 'a' }, { name: 'b', weight: 4 }, { name: 'c' }],
      },
    ]);
    const inFlight: Record<string, number> = { 'default/a': 3, 'default/b': 8, 'default/c': 1 };
    const d = decide(
      { routes: [r], backends: [a, b, c], live: { inFlight: (id) => inFlight[id] ?? 0 } },
      { model: 'chat' },
    );
    expect(order(d)).toEqual(['c', 'b', 'a']); // loads 1, 2, 3
  });

  test('least-busy: ties are broken at random', () => {
    const r = single([
      { name: 'r', strategy: 'least-busy', backendRefs: [{ name: 'a' }, { name: 'b' }] },
    ]);
    const shares = firstPickShares(r, [a, b], 4000);
    expect(shares.a).toBeGreaterThan(0.4);
    expect(shares.b).toBeGreaterThan(0.4);
  });

  describe('cost-quality', () => {
    const weak = backend('weak', {
      quality: 0.4,
      pricing: { inputPerMillion: 0.1, outputPerMillion: 0.4 },
    });
    const mid = backend('mid', {
      quality: 0.7,
      pricing: { inputPerMillion: 1, outputPerMillion: 4 },
    });
    const strong = backend('strong', {
      quality: 0.95,
      pricing: { inputPerMillion: 5, outputPerMillion: 15 },
    });
    const backends = [weak, mid, strong];
    const refs = [{ name: 'strong' }, { name: 'weak' }, { name: 'mid' }];

    test.each([
      [0.1, ['weak', 'mid', 'strong'], 'sufficient'],
      [0.4, ['weak', 'mid', 'strong'], 'sufficient'],
      [0.5, ['mid', 'strong', 'weak'], 'sufficient'],
      [0.9, ['strong', 'mid', 'weak'], 'sufficient'],
      [0.99, ['strong', 'mid', 'weak'], 'strong'],
    ])(
      'without threshold, difficulty %s → cheapest backend whose quality suffices',
      (difficulty, expected, tier) => {
        const r = single([{ name: 'r', strategy: 'cost-quality', backendRefs: refs }]);
        const d = decide({ routes: [r], backends }, { model: 'chat', difficulty });
        expect(order(d)).toEqual(expected);
        expect(d.ok && d.costQuality).toEqual({ difficulty, tier });
      },
    );

    test.each([
      [0.59, 'weak', 'cheap'],
      [0.6, 'strong', 'strong'],
    ])('with threshold 0.6, difficulty %s → %s first', (difficulty, first, tier) => {
      const r = single([
        { name: 'r', strategy: 'cost-quality', costQuality: { threshold: 0.6 }, backendRefs: refs },
      ]);
      const d = decide({ routes: [r], backends }, { model: 'chat', difficulty });
      expect(order(d)[0]).toBe(first);
      expect(d.ok && d.costQuality).toEqual({ difficulty, threshold: 0.6, tier });
    });

    test('a learning rule orders by its own difficulty (facts.learnedDifficulty); others by difficulty()', () => {
      const learns = single([
        {
          name: 'learns',
          matches: [{ tenants: ['t'] }],
          strategy: 'cost-quality',
          costQuality: { threshold: 0.6, learning: { sampleRate: 0 } },
          backendRefs: refs,
        },
        {
          name: 'plain',
          strategy: 'cost-quality',
          costQuality: { threshold: 0.6 },
          backendRefs: refs,
        },
      ]);
      const table = prepareTable(compileRoutingTable([learns], backends));
      const asked: string[] = [];
      const decideFor = (tenant: string) => {
        const f = facts({
          model: 'chat',
          difficulty: 0.2,
          headers: { 'x-modelroute-tenant': tenant },
        });
        f.learnedDifficulty = (rule) => {
          asked.push(rule.name);
          return 0.9;
        };
        return selectBackends(table, f, {
          rng: seededRandom(1),
          live: { available: () => true, latencyMs: () => undefined, inFlight: () => 0 },
        });
      };
      const learned = decideFor('t');
      expect(order(learned)[0]).toBe('strong');
      expect(learned.ok && learned.costQuality).toEqual({
        difficulty: 0.9,
        threshold: 0.6,
        tier: 'strong',
      });
      const plain = decideFor('other');
      expect(order(plain)[0]).toBe('weak');
      expect(asked.every((name) => name === 'learns')).toBe(true);
    });

    const byShare = single([
      {
        name: 'r',
        strategy: 'cost-quality',
        costQuality: { strongShare: 0.3 },
        backendRefs: refs,
      },
    ]);

    test('strongShare becomes the threshold at that quantile', () => {
      const r = byShare;
      const table = compileRoutingTable([r], backends);
      expect(table.routes[0]?.rules[0]?.threshold).toBeCloseTo(priorQuantile(0.7));
      const calibrated = compileRoutingTable([r], backends, new Map(), {
        difficultyQuantile: (q) => q / 2,
      });
      expect(calibrated.routes[0]?.rules[0]?.threshold).toBeCloseTo(0.35);
      expect(table.routes[0]?.rules[0]?.strongShare).toBe(0.3);
    });

    test('a strongShare rule decides with the live threshold it is given and names itself for the record', () => {
      const r = byShare;
      const table = compileRoutingTable([r], backends);
      const asked: string[] = [];
      const strongShareThreshold = (routeId: string, ruleName: string) => {
        asked.push(ruleKey(routeId, ruleName));
        return 0.42;
      };
      const d = selectBackends(prepareTable(table), facts({ model: 'chat', difficulty: 0.5 }), {
        rng: seededRandom(1),
        strongShareThreshold,
      });
      expect(d.ok && d.costQuality).toEqual({ difficulty: 0.5, threshold: 0.42, tier: 'strong' });
      expect(d.ok && d.strongShareRule).toEqual({ routeId: 'default/chat', ruleName: 'r' });
      expect(asked).toEqual(['default/chat#r']);

      // Without a live threshold: the table's (the fleet's), and nothing to record.
      const plain = decide({ routes: [r], backends }, { model: 'chat', difficulty: 0.5 });
      expect(plain.ok && plain.costQuality).toEqual({
        difficulty: 0.5,
        threshold: priorQuantile(0.7),
        tier: 'cheap',
      });
      expect(plain.ok && plain.strongShareRule).toBeUndefined();
    });

    test('a rule with an explicit threshold never asks for a live one', () => {
      const r = single([
        { name: 'r', strategy: 'cost-quality', costQuality: { threshold: 0.6 }, backendRefs: refs },
      ]);
      const d = selectBackends(
        prepareTable(compileRoutingTable([r], backends)),
        facts({ model: 'chat', difficulty: 0.5 }),
        {
          rng: seededRandom(1),
          strongShareThreshold: () => {
            throw new Error('asked');
          },
        },
      );
      expect(d.ok && d.costQuality).toEqual({ difficulty: 0.5, threshold: 0.6, tier: 'cheap' });
      expect(d.ok && d.strongShareRule).toBeUndefined();
    });
  });
});

describe('eligibility and edge cases', () => {
  test('compliance tag unmet: the backend is never used, not even as a fallback', () => {
    const hipaa = backend('hipaa', { compliance: ['hipaa'] });
    const r = route('chat', {
      rules: [{ name: 'r', backendRefs: [{ name: 'a' }, { name: 'hipaa' }] }],
      fallback: { backendRefs: [{ name: 'b' }] },
    });
    const d = decide(
      { routes: [r], backends: [a, b, hipaa] },
      { model: 'chat', headers: { 'x-modelroute-compliance': 'hipaa' } },
    );
    expect(order(d)).toEqual(['hipaa']);
    expect(d.ok && d.skipped.map((s) => [s.backendId, s.reason])).toEqual([
      ['default/a', 'ComplianceUnmet'],
      ['default/b', 'ComplianceUnmet'],
    ]);
  });

  test('compliance tag unmet by every backend: a request error naming each backend and why', () => {
    const r = single([{ name: 'r', backendRefs: [{ name: 'a' }, { name: 'b' }] }]);
    const d = decide(
      { routes: [r], backends: [a, b] },
      { model: 'chat', headers: { 'x-modelroute-compliance': 'hipaa,gdpr' } },
    );
    expect(d.ok).toBe(false);
    if (!d.ok) {
      expect(d.error.code).toBe('NoEligibleBackend');
      expect(d.error.cause).toBe('request');
      expect(d.error.message).toContain(
        'default/a (ComplianceUnmet: not approved for compliance tag "hipaa")',
      );
    }
  });

  test('capability missing: images need vision', () => {
    const eyes = backend('eyes', { capabilities: ['chat', 'vision'] });
    const r = single([
      { name: 'r', strategy: 'priority', backendRefs: [{ name: 'a' }, { name: 'eyes' }] },
    ]);
    const d = decide(
      { routes: [r], backends: [a, eyes] },
      { model: 'chat', impliedCapabilities: ['vision'] },
    );
    expect(order(d)).toEqual(['eyes']);
    expect(d.ok && d.skipped[0]?.reason).toBe('CapabilityMissing');
  });

  test('context window too small: the backend is skipped, counting requested output', () => {
    const small = backend('small', { contextWindow: 8192 });
    const big = backend('big', { contextWindow: 200_000 });
    const r = single([
      { name: 'r', strategy: 'priority', backendRefs: [{ name: 'small' }, { name: 'big' }] },
    ]);
    const s = { routes: [r], backends: [small, big] };
    expect(order(decide(s, { model: 'chat', promptTokens: 8000 }))).toEqual(['small', 'big']);
    const d = decide(s, { model: 'chat', promptTokens: 8000, maxOutputTokens: 500 });
    expect(order(d)).toEqual(['big']);
    expect(d.ok && d.skipped[0]).toMatchObject({
      reason: 'ContextWindowTooSmall',
      detail: 'needs 8500 tokens, context window is 8192',
    });
    const none = decide(s, { model: 'chat', promptTokens: 300_000 });
    expect(!none.ok && none.error.cause).toBe('request');
  });

  test('all weights zero in a rule: its backends are drained and fallback serves', () => {
    // The CRD refuses an all-zero rule, but a table may still meet one (e.g. built by hand).
    const r = route('chat', {
      rules: [{ name: 'r', backendRefs: [{ name: 'a', weight: 1 }] }],
      fallback: { backendRefs: [{ name: 'b' }] },
    });
    const table = compileRoutingTable([r], [a, b]);
    const rule = table.routes[0]?.rules[0];
    if (!rule) throw new Error('no rule');
    rule.backends = rule.backends.map((ref) => ({ ...ref, weight: 0 }));
    const d = selectBackends(prepareTable(table), facts({ model: 'chat' }), {
      rng: seededRandom(1),
    });
    expect(order(d)).toEqual(['b']);
    expect(d.ok && d.skipped).toEqual([
      { backendId: 'default/a', reason: 'Drained', detail: 'weight is 0' },
    ]);

    table.routes[0]?.fallback.backendIds.pop();
    const none = selectBackends(prepareTable(table), facts({ model: 'chat' }), {
      rng: seededRandom(1),
    });
    expect(none.ok).toBe(false);
    expect(!none.ok && none.error.cause).toBe('capacity');
  });

  test('unhealthy backends are skipped while a healthy one remains', () => {
    const r = single([
      { name: 'r', strategy: 'priority', backendRefs: [{ name: 'a' }, { name: 'b' }] },
    ]);
    const d = decide(
      { routes: [r], backends: [a, b], health: { a: 'Unhealthy', b: 'Unknown' } },
      { model: 'chat' },
    );
    expect(order(d)).toEqual(['b']);
    expect(d.ok && d.panic).toBe(false);
  });

  test('no healthy backend: panic mode tries the unhealthy ones rather than failing outright', () => {
    const r = single([
      { name: 'r', strategy: 'priority', backendRefs: [{ name: 'a' }, { name: 'b' }] },
    ]);
    const d = decide(
      { routes: [r], backends: [a, b], health: { a: 'Unhealthy', b: 'Unhealthy' } },
      { model: 'chat' },
    );
    expect(order(d)).toEqual(['a', 'b']);
    expect(d.ok && d.panic).toBe(true);
  });

  test('no available backend (circuits open, limits reached): a capacity error', () => {
    const r = single([{ name: 'r', backendRefs: [{ name: 'a' }] }]);
    const d = decide(
      { routes: [r], backends: [a], live: { available: () => false } },
      { model: 'chat' },
    );
    expect(!d.ok && d.error).toMatchObject({ code: 'NoEligibleBackend', cause: 'capacity' });
  });

  test('budget: backends whose estimated cost exceeds maxCostPerRequest are skipped', () => {
    const cheap = backend('cheap', { pricing: { inputPerMillion: 0.1, outputPerMillion: 0.4 } });
    const pricey = backend('pricey', { pricing: { inputPerMillion: 15, outputPerMillion: 75 } });
    const r = route('chat', {
      budget: { maxCostPerRequest: 0.01 },
      rules: [
        { name: 'r', strategy: 'priority', backendRefs: [{ name: 'pricey' }, { name: 'cheap' }] },
      ],
    });
    const d = decide(
      { routes: [r], backends: [cheap, pricey] },
      { model: 'chat', promptTokens: 1000, maxOutputTokens: 100 },
    );
    // pricey: 1000*15/1e6 + 100*75/1e6 = 0.0225 > 0.01
    expect(order(d)).toEqual(['cheap']);
    expect(d.ok && d.skipped[0]?.reason).toBe('OverBudget');
  });

  test('fallback: backends in order after the rule, then the fallback route, without repeats', () => {
    const chat = route('chat', {
      rules: [{ name: 'r', strategy: 'priority', backendRefs: [{ name: 'a' }] }],
      fallback: { backendRefs: [{ name: 'a' }, { name: 'b' }], model: 'backup' },
    });
    const backup = route('backup', {
      rules: [{ name: 'r', strategy: 'priority', backendRefs: [{ name: 'b' }, { name: 'c' }] }],
    });
    const d = decide({ routes: [chat, backup], backends: [a, b, c] }, { model: 'chat' });
    expect(d.ok && d.attempts.map((x) => [x.backend.name, x.source, x.routeId])).toEqual([
      ['a', 'rule', 'default/chat'],
      ['b', 'fallback', 'default/chat'],
      ['c', 'fallback-route', 'default/backup'],
    ]);
  });

  test('routes whose fallbacks loop are not Accepted, so no table serves them', () => {
    const x = route('x', {
      rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }],
      fallback: { model: 'y' },
    });
    const y = route('y', {
      rules: [{ name: 'r', backendRefs: [{ name: 'b' }] }],
      fallback: { model: 'x' },
    });
    const table = compileRoutingTable([x, y], [a, b]);
    expect(table.routes).toEqual([]);
    const d = decide({ routes: [x, y], backends: [a, b] }, { model: 'x' });
    expect(!d.ok && d.error.code).toBe('RouteNotFound');
  });

  test('a rule whose backends are all missing leaves the route to its fallback', () => {
    const r = route('chat', {
      rules: [{ name: 'r', backendRefs: [{ name: 'ghost' }] }],
      fallback: { backendRefs: [{ name: 'a' }] },
    });
    expect(order(decide({ routes: [r], backends: [a] }, { model: 'chat' }))).toEqual(['a']);
  });
});

test('a cheap upper bound on the prompt size spares the tokenizer when the prompt plainly fits', () => {
  const w = backend('w', { contextWindow: 8000 });
  const table = prepareTable(
    compileRoutingTable(
      [route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'w' }] }] })],
      [w],
    ),
  );
  const fits = Object.assign(facts({ model: 'chat', promptTokens: 100 }), {
    promptTokensAtMost: 400,
  });
  expect(selectBackends(table, fits, { rng: seededRandom(1) }).ok).toBe(true);
  expect(fits.computed.tokens).toBe(0);
  const unsure = Object.assign(facts({ model: 'chat', promptTokens: 7000 }), {
    promptTokensAtMost: 9000,
  });
  expect(selectBackends(table, unsure, { rng: seededRandom(1) }).ok).toBe(true);
  expect(unsure.computed.tokens).toBe(1);
});

describe('budget with a cheap upper bound on the prompt size', () => {
  // 0.1 + 0.4 per million; 100 output tokens cost $0.00004.
  const cheap = backend('cheap', { pricing: { inputPerMillion: 0.1, outputPerMillion: 0.4 } });
  const table = prepareTable(
    compileRoutingTable(
      [
        route('chat', {
          budget: { maxCostPerRequest: 0.001 },
          rules: [{ name: 'r', backendRefs: [{ name: 'cheap' }] }],
        }),
      ],
      [cheap],
    ),
  );
  const withBound = (promptTokens: number, atMost: number) =>
    Object.assign(facts({ model: 'chat', promptTokens, maxOutputTokens: 100 }), {
      promptTokensAtMost: atMost,
    });

  test('a bound within budget spares the tokenizer', () => {
    const f = withBound(100, 400);
    expect(selectBackends(table, f, { rng: seededRandom(1) }).ok).toBe(true);
    expect(f.computed.tokens).toBe(0);
  });

  test('a bound over budget counts the tokens, and a prompt that really fits is admitted', () => {
    // bound: 20,000 * 0.1e-6 + 0.00004 = 0.00204 > 0.001; real: 100 tokens.
    const f = withBound(100, 20_000);
    expect(selectBackends(table, f, { rng: seededRandom(1) }).ok).toBe(true);
    expect(f.computed.tokens).toBe(1);
  });

  test('a bound over budget counts the tokens, and a prompt really over budget is skipped', () => {
    const f = withBound(15_000, 20_000);
    const d = selectBackends(table, f, { rng: seededRandom(1) });
    expect(!d.ok && d.skipped[0]).toMatchObject({
      reason: 'OverBudget',
      detail: 'estimated $0.001540 exceeds the $0.001 budget',
    });
    expect(f.computed.tokens).toBe(1);
  });
});
