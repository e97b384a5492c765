import { describe, expect, it } from '@jest/globals';
import type { CompiledBackend, CompiledRoute } from '../routing/table.js';
import { BaselineCache, counterfactualCosts, routeBaselines } from './counterfactual.js';

const backend = (id: string, input: number, output: number, extra: Partial<CompiledBackend> = {}) =>
  ({
    id,
    capabilities: [],
    pricing: { inputPerMillion: input, outputPerMillion: output, cachedInputPerMillion: input },
    ...extra,
  }) as unknown as CompiledBackend;

const backends = new Map(
  [
    backend('ns/cheap', 0.1, 0.4),
    backend('ns/pricey', 10, 30, { quality: 0.7 }),
    backend('ns/strong', 3, 15, { quality: 0.9 }),
    backend('ns/embed', 0.02, 0, { capabilities: ['embeddings'] }),
  ].map((b) => [b.id, b]),
);
const route = {
  id: 'ns/r',
  rules: [
    { backends: [{ backendId: 'ns/cheap' }, { backendId: 'ns/strong' }] },
    { backends: [{ backendId: 'ns/pricey' }, { backendId: 'ns/embed' }] },
  ],
} as unknown as CompiledRoute;

describe('counterfactual costs', () => {
  it("prices the request on the route's most expensive and strongest eligible backends", () => {
    const baselines = routeBaselines(route, backends, 'chat');
    expect(baselines.eligible.map((b) => b.id).sort()).toEqual([
      'ns/cheap',
      'ns/pricey',
      'ns/strong',
    ]);
    expect(baselines.strongest?.id).toBe('ns/strong');
    const tokens = { input: 1_000_000, output: 100_000 };
    expect(counterfactualCosts(baselines, tokens, 0.14)).toEqual({
      mostExpensive: 13,
      strongest: 4.5,
    });
  });

  it('never reports a baseline below what was paid, and with no qualities the strongest is the priciest', () => {
    const plain = new Map([...backends].map(([id, b]) => [id, { ...b, quality: undefined }]));
    const baselines = routeBaselines(route, plain, 'embeddings');
    expect(baselines.eligible.map((b) => b.id).sort()).toEqual([
      'ns/cheap',
      'ns/embed',
      'ns/pricey',
      'ns/strong',
    ]);
    expect(baselines.strongest?.id).toBe('ns/pricey');
    expect(
      counterfactualCosts({ eligible: [], strongest: undefined }, { input: 1, output: 1 }, 2),
    ).toEqual({
      mostExpensive: 2,
      strongest: 2,
    });
  });

  it('recomputes when the table changes', () => {
    const cache = new BaselineCache();
    const t1 = {};
    const first = cache.get(t1, route, backends, 'chat');
    expect(cache.get(t1, route, backends, 'chat')).toBe(first);
    expect(cache.get({}, route, backends, 'chat')).not.toBe(first);
  });
});
