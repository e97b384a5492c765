// A compiled backend for adapter tests: the fields every provider's backend
// has, with the provider, endpoint and model (and its settings) given.
import type { CompiledBackend } from '../../routing/table.js';

export function testBackend(
  fields: Pick<CompiledBackend, 'provider' | 'baseUrl' | 'model'> & Partial<CompiledBackend>,
): CompiledBackend {
  const name = fields.name ?? fields.provider;
  return {
    id: `default/${name}`,
    namespace: 'default',
    name,
    pricing: { inputPerMillion: 1, outputPerMillion: 2, cachedInputPerMillion: 0.1 },
    limits: {},
    capabilities: [],
    compliance: [],
    timeouts: { connectMs: 1000, firstTokenMs: 10000, totalMs: 60000 },
    health: 'Healthy',
    ...fields,
  };
}
