// The routing decision alone, in-process: selectBackends over 100 rules x 50 backends, matching late.
import { modelBackend, modelRoute, routeRule, type RouteRule } from '../api/v1alpha1/index.js';
import { compileRoutingTable } from '../routing/compile.js';
import { factsFromHeaders } from '../routing/facts.js';
import type { BackendLiveView } from '../routing/live-state.js';
import { prepareTable } from '../routing/prepared-table.js';
import { seededRandom } from '../routing/random.js';
import { selectBackends } from '../routing/select.js';
import { parseRoutingTable } from '../routing/table.js';
import { LatencySamples, percentile, round } from './histogram.js';

const RULES = 100;
const BACKENDS = 50;
/** 0-based index of the rule the request matches (the 93rd of 100). */
const MATCHED_RULE = 92;
const WARMUP = 20_000;

export interface DecisionResult {
  decisions: number;
  rules: number;
  backends: number;
  matched_rule: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  p999_us: number;
  max_us: number;
  what: string;
}

function backends() {
  return Array.from({ length: BACKENDS }, (_, i) =>
    modelBackend.parse({
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelBackend',
      metadata: { name: `b${i}`, namespace: 'default' },
      spec: {
        provider: 'openai',
        endpoint: `https://b${i}.example/v1`,
        model: `model-${i}`,
        pricing: { inputPerMillion: 0.1 * (1 + (i % 10)), outputPerMillion: 0.4 * (1 + (i % 10)) },
        quality: ((i % 9) + 1) / 10,
        contextWindow: 128_000,
        capabilities: ['chat', 'streaming', 'tools'],
        compliance: i % 5 === 0 ? ['hipaa'] : ['gdpr', 'soc2'],
      },
    }),
  );
}

/** Rule i: one of four match kinds, each missed by the benchmark request unless i is MATCHED_RULE. */
function rule(i: number): RouteRule {
  const refs = Array.from({ length: 8 }, (_, k) => ({
    name: `b${(i * 7 + k * 3) % BACKENDS}`,
    weight: k + 1,
    priority: k < 6 ? 0 : 1,
  }));
  const kind = i % 4;
  const matches =
    kind === 0
      ? [{ tenants: [`tenant-${i}`, `tenant-${i}-eu`] }]
      : kind === 1
        ? [{ headers: [{ name: 'x-team', type: 'Exact' as const, value: `team-${i}` }] }]
        : kind === 2
          ? [
              {
                headers: [
                  {
                    name: 'x-channel',
                    type: 'RegularExpression' as const,
                    value: `beta-${i}-[0-9]+`,
                  },
                ],
              },
            ]
          : [{ tasks: [`task-${i}`], priorities: ['high'] }];
  return routeRule.parse({ name: `rule-${i}`, matches, strategy: 'weighted', backendRefs: refs });
}

function table() {
  const rules = Array.from({ length: RULES }, (_, i) => rule(i));
  // The CRD allows 16 rules per route; the compiled table has no limit, and 100 is the stress case.
  const route = modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'big', namespace: 'default' },
    spec: {
      model: 'big',
      rules: rules.slice(0, 16),
      fallback: { backendRefs: [{ name: 'b1' }, { name: 'b2' }] },
      budget: { maxCostPerRequest: 1 },
    },
  });
  route.spec.rules = rules;
  const parsed = parseRoutingTable(compileRoutingTable([route], backends()));
  if (!parsed.ok) throw new Error(`decision benchmark table rejected: ${parsed.error}`);
  return prepareTable(parsed.table);
}

export function benchDecision(count: number, seed: number): DecisionResult {
  const prepared = table();
  const rng = seededRandom(seed);
  const live: BackendLiveView = {
    available: () => true,
    latencyMs: (id) => (id.length * 37) % 500,
    inFlight: (id) => id.charCodeAt(id.length - 1) % 5,
  };
  const headers: Record<string, string> = {
    'x-modelroute-tenant': `tenant-${MATCHED_RULE}`,
    'x-modelroute-task': 'chat',
    'x-modelroute-priority': 'normal',
    'x-modelroute-compliance': 'gdpr',
    'x-team': 'team-none',
    'x-channel': 'stable',
  };
  const samples = new LatencySamples(count);
  const expected = `rule-${MATCHED_RULE}`;
  for (let i = -WARMUP; i < count; i++) {
    const facts = factsFromHeaders({
      model: 'big',
      headers,
      promptTokens: () => 900,
      promptTokensAtMost: 1200,
      difficulty: () => 0.3,
      maxOutputTokens: 256,
    });
    const start = process.hrtime.bigint();
    const decision = selectBackends(prepared, facts, { rng, live });
    const end = process.hrtime.bigint();
    if (!decision.ok) throw new Error(decision.error.message);
    if (decision.ruleName !== expected)
      throw new Error(`decision benchmark matched ${decision.ruleName}, expected ${expected}`);
    if (i >= 0) samples.addSpan(start, end);
  }
  const s = samples.sorted();
  return {
    decisions: count,
    rules: RULES,
    backends: BACKENDS,
    matched_rule: MATCHED_RULE + 1,
    p50_us: round(percentile(s, 0.5), 2),
    p90_us: round(percentile(s, 0.9), 2),
    p99_us: round(percentile(s, 0.99), 2),
    p999_us: round(percentile(s, 0.999), 2),
    max_us: round(s[s.length - 1] ?? NaN, 2),
    what: `selectBackends: 1 route of ${RULES} rules (tenant, exact header, regex header, task+priority matches), ${BACKENDS} backends, the request matches rule ${MATCHED_RULE + 1}; 8 weighted backends in 2 tiers, compliance filter, budget, 2 fallbacks; facts built outside the timed span; ~0.05 us of each sample is the timer`,
  };
}
