// Random routing tables as a controller of this release compiles them, and
// the same tables as a later controller might send them (fields no release
// reads yet, at every level), for property tests of table formats.
import { STRATEGIES } from '../../api/v1alpha1/index.js';
import { compileRoutingTable } from '../compile.js';
import { tableContentVersion, type CompiledTenant, type RoutingTable } from '../table.js';
import { backend, route } from './objects.js';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const pick = <T>(rand: () => number, items: readonly T[]): T =>
  items[Math.floor(rand() * items.length)] as T;

const tenant: CompiledTenant = {
  id: 'default/team-a',
  namespace: 'default',
  name: 'team-a',
  priority: 'high',
  identities: {
    serviceAccounts: [{ namespace: 'default', name: 'app' }],
    namespaces: ['default'],
    workloads: { matchLabels: { app: 'chat' } },
  },
  routeIds: ['default/m0'],
  compliance: ['pii'],
  capabilities: ['chat'],
  trustedHeaders: ['task'],
  limits: { rpm: 60, enforcement: 'fleet' },
  budget: { dailyUSD: 5, onExceeded: 'refuse' },
};

/** A table compiled from random routes and backends: what a controller of this release sends. */
export function randomTable(rand: () => number): RoutingTable {
  const backends = Array.from({ length: 2 + Math.floor(rand() * 2) }, (_, i) =>
    backend(`b${i}`, {
      ...(rand() < 0.5 ? { pricing: { inputPerMillion: rand() * 5, outputPerMillion: 2 } } : {}),
      ...(rand() < 0.3 ? { contextWindow: 8192, maxOutputTokens: 1024 } : {}),
      ...(rand() < 0.3 ? { limits: { rpm: 100, tpm: 10_000 } } : {}),
      ...(rand() < 0.3 ? { secretRef: { name: 'creds' } } : {}),
    }),
  );
  const names = backends.map((b) => b.metadata.name);
  const routes = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, i) => {
    const strategy = pick(rand, STRATEGIES);
    return route(`m${i}`, {
      aliases: rand() < 0.3 ? [`alias-${i}`] : undefined,
      rules: [
        {
          name: 'main',
          strategy,
          matches:
            rand() < 0.5
              ? [
                  {
                    headers: [{ name: 'x-team', type: 'Prefix', value: 'a' }],
                    promptTokens: { min: 10, max: 4000 },
                    difficulty: { max: 0.9 },
                    priorities: ['high'],
                    tenants: ['team-a'],
                  },
                ]
              : undefined,
          backendRefs: names
            .filter(() => strategy === 'cost-quality' || rand() < 0.7)
            .concat(names[0] as string)
            .filter((n, k, all) => all.indexOf(n) === k)
            .map((name) => ({ name, weight: 1 + Math.floor(rand() * 5) })),
        },
      ],
      ...(rand() < 0.5 ? { retries: { attempts: 3, backoff: '100ms' } } : {}),
      ...(rand() < 0.3 ? { budget: { maxCostPerRequest: 0.25 } } : {}),
    });
  });
  const compiled = compileRoutingTable(routes, backends);
  if (rand() < 0.5) return compiled;
  const { version: _v, ...content } = compiled;
  const withTenants = {
    ...content,
    tenants: [tenant],
    apiKeys: [
      { id: 'default/k', hash: `sha256:${'ab'.repeat(32)}`, tenantId: tenant.id, expiresAtMs: 1 },
    ],
    identity: { unmatched: 'deny' as const },
  };
  return { ...withTenants, version: tableContentVersion(withTenants) };
}

/** Objects whose keys are data (label maps), not fields: a writer adds no fields there. */
const MAPS = new Set(['matchLabels']);

/** A copy with random keys of random JSON added to every object, at every level: a newer writer's fields. */
function withUnknownKeys(value: Json, rand: () => number, depth = 0, key = ''): Json {
  if (Array.isArray(value)) return value.map((v) => withUnknownKeys(v, rand, depth + 1, key));
  if (value === null || typeof value !== 'object') return value;
  const out: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) out[k] = withUnknownKeys(v, rand, depth + 1, k);
  const extra = MAPS.has(key) ? 0 : Math.floor(rand() * 3);
  for (let i = 0; i < extra; i++) {
    const futureValues: Json[] = [true, 7, 'later', [1, { deep: 'x' }], { nested: { more: [] } }];
    out[`future${depth}_${i}`] = pick(rand, futureValues);
  }
  return out;
}

/** A table as a newer controller would send it: unknown keys everywhere, the version over all of it. */
export function fromNewerWriter(table: RoutingTable, rand: () => number): Record<string, unknown> {
  const { version: _v, ...content } = table;
  // At least one unknown key, whatever the dice say.
  const grown = {
    ...(withUnknownKeys(content as unknown as Json, rand) as Record<string, unknown>),
    futureAlways: { since: 'a later release' },
  };
  return { ...grown, version: tableContentVersion(grown) };
}
