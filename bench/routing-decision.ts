// Routing decision cost: how long selectBackends takes per request, by
// strategy, with microsecond resolution. Prints JSON; never a pass/fail test.
// Run: npm run bench:routing (--quick: CI sizes)
import {
  modelBackend,
  modelRoute,
  type ModelBackendInput,
  type ModelRouteInput,
} from '../src/api/v1alpha1/index.js';
import {
  compileRoutingTable,
  factsFromHeaders,
  prepareTable,
  seededRandom,
  selectBackends,
  type BackendLiveView,
} from '../src/routing/index.js';
import { STRATEGIES } from '../src/api/v1alpha1/index.js';
import { benchFlags } from './flags.js';

const { quick } = benchFlags('bench/routing-decision.ts');
const ITERATIONS = quick ? 2_000 : Number(process.env.ITERATIONS ?? 200_000);
const WARMUP = quick ? 200 : 20_000;

function backend(name: string, spec: Partial<ModelBackendInput['spec']>) {
  return modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name },
    spec: { provider: 'openai', endpoint: `https://${name}.example/v1`, model: name, ...spec },
  });
}

const backends = Array.from({ length: 8 }, (_, i) =>
  backend(`b${i}`, {
    pricing: { inputPerMillion: 0.1 * (i + 1), outputPerMillion: 0.4 * (i + 1) },
    quality: (i + 1) / 9,
    contextWindow: 128_000,
    capabilities: ['chat', 'streaming', 'tools'],
    compliance: ['gdpr'],
  }),
);

function routeFor(strategy: (typeof STRATEGIES)[number]) {
  const spec: ModelRouteInput['spec'] = {
    model: strategy,
    rules: [
      // Three rules that do not match first, as a realistic policy would have.
      { name: 'vip', matches: [{ tenants: ['acme', 'globex'] }], backendRefs: [{ name: 'b7' }] },
      {
        name: 'beta',
        matches: [
          { headers: [{ name: 'x-channel', type: 'RegularExpression', value: 'beta-[0-9]+' }] },
        ],
        backendRefs: [{ name: 'b6' }],
      },
      {
        name: 'long',
        matches: [{ promptTokens: { min: 100_000 } }],
        backendRefs: [{ name: 'b5' }],
      },
      {
        name: 'main',
        strategy,
        backendRefs: backends.map((b, i) => ({
          name: b.metadata.name,
          weight: i + 1,
          priority: i < 6 ? 0 : 1,
        })),
      },
    ],
    fallback: { backendRefs: [{ name: 'b0' }] },
    budget: { maxCostPerRequest: 1 },
  };
  return modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: strategy },
    spec,
  });
}

const table = prepareTable(compileRoutingTable(STRATEGIES.map(routeFor), backends));
const rng = seededRandom(1);
const live: BackendLiveView = {
  available: () => true,
  latencyMs: (id) => (id.length * 37) % 500,
  inFlight: (id) => id.charCodeAt(id.length - 1) % 5,
};
const headers = {
  'x-modelroute-tenant': 'initech',
  'x-channel': 'stable',
  'x-modelroute-compliance': 'gdpr',
};

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
}

const results: Record<string, { p50_us: number; p90_us: number; p99_us: number; max_us: number }> =
  {};
for (const strategy of STRATEGIES) {
  const samples = new Float64Array(ITERATIONS);
  for (let i = -WARMUP; i < ITERATIONS; i++) {
    const facts = factsFromHeaders({
      model: strategy,
      headers,
      promptTokens: () => 900,
      difficulty: () => (i % 100) / 100,
    });
    const start = process.hrtime.bigint();
    const decision = selectBackends(table, facts, { rng, live });
    const end = process.hrtime.bigint();
    if (!decision.ok) throw new Error(decision.error.message);
    if (i >= 0) samples[i] = Number(end - start) / 1000;
  }
  samples.sort();
  results[strategy] = {
    p50_us: +percentile(samples, 0.5).toFixed(2),
    p90_us: +percentile(samples, 0.9).toFixed(2),
    p99_us: +percentile(samples, 0.99).toFixed(2),
    max_us: +percentile(samples, 1).toFixed(2),
  };
}

console.log(
  JSON.stringify(
    {
      benchmark: 'routing-decision',
      quick,
      what: 'selectBackends per request: 4 rules (3 miss), 8 backends in 2 tiers, fallback, budget, compliance filter',
      iterations: ITERATIONS,
      node: process.version,
      note: 'shared 2-core machine; the timer itself costs ~0.05 us',
      results,
    },
    null,
    2,
  ),
);
