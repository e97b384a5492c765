// What a request would have cost elsewhere: on the route's most expensive
// eligible backend, and on its strongest one. The difference from what it did
// cost is the saving a route's policy shows ("saved $X, Y%").
//
// Eligible: every backend the route's rules name that serves the request's
// endpoint (a chat request is never priced on an embeddings model); a backend
// that lists no capabilities serves any.
// Strongest: the highest spec.quality; without qualities, the most expensive.
import { blendedPrice, costUsd, type TokenCounts } from '../routing/cost.js';
import type { CompiledBackend, CompiledRoute } from '../routing/table.js';

export interface RouteBaselines {
  /** Backends the route could have sent the request to. */
  eligible: readonly CompiledBackend[];
  strongest: CompiledBackend | undefined;
}

/** The route's candidate backends for an endpoint (chat, completions, embeddings). */
export function routeBaselines(
  route: CompiledRoute,
  backendById: ReadonlyMap<string, CompiledBackend>,
  endpoint: string,
): RouteBaselines {
  const ids = new Set(route.rules.flatMap((r) => r.backends.map((b) => b.backendId)));
  const eligible = [...ids]
    .map((id) => backendById.get(id))
    .filter((b): b is CompiledBackend => b !== undefined)
    .filter((b) => b.capabilities.length === 0 || b.capabilities.includes(endpoint));
  let strongest: CompiledBackend | undefined;
  for (const b of eligible) {
    if (!strongest) strongest = b;
    else {
      const [q, best] = [b.quality ?? -1, strongest.quality ?? -1];
      if (q > best || (q === best && blendedPrice(b) > blendedPrice(strongest))) strongest = b;
    }
  }
  return { eligible, strongest };
}

/** The counterfactual costs of tokens that cost `actual` where they were served (never below it). */
export function counterfactualCosts(
  baselines: RouteBaselines,
  tokens: TokenCounts,
  actual: number,
): { mostExpensive: number; strongest: number } {
  let mostExpensive = actual;
  for (const b of baselines.eligible)
    mostExpensive = Math.max(mostExpensive, costUsd(b.pricing, tokens));
  const strongest = baselines.strongest ? costUsd(baselines.strongest.pricing, tokens) : actual;
  return { mostExpensive, strongest };
}

/** Remembers each route's baselines for the table they were computed from. */
export class BaselineCache {
  private table: object | undefined;
  private readonly byRoute = new Map<string, RouteBaselines>();

  get(
    table: object,
    route: CompiledRoute,
    backendById: ReadonlyMap<string, CompiledBackend>,
    endpoint: string,
  ): RouteBaselines {
    if (table !== this.table) {
      this.table = table;
      this.byRoute.clear();
    }
    const key = `${endpoint} ${route.id}`;
    let found = this.byRoute.get(key);
    if (!found) {
      found = routeBaselines(route, backendById, endpoint);
      this.byRoute.set(key, found);
    }
    return found;
  }
}
