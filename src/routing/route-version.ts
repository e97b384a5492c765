// A route's version: the content hash of the route as a table carries it,
// with the compiled backends it may send to. Two tables give a route the same
// version exactly when a proxy would route its requests the same way under
// either, so a proxy that runs an older table still serves an unchanged route
// as declared — and a change to one route (or one backend) is news only for
// the routes it touches.
import { createHash } from 'node:crypto';
import { canonicalJson, type RoutingTable } from './table.js';

const versionsOf = new WeakMap<RoutingTable, ReadonlyMap<string, string>>();

/** Route id → version for every route in the table (computed once per table object). */
export function routeVersions(table: RoutingTable): ReadonlyMap<string, string> {
  let versions = versionsOf.get(table);
  if (versions) return versions;
  const backends = new Map(table.backends.map((b) => [b.id, b]));
  const out = new Map<string, string>();
  for (const route of table.routes) {
    const ids = new Set([
      ...route.rules.flatMap((rule) => rule.backends.map((b) => b.backendId)),
      ...route.fallback.backendIds,
    ]);
    const used = [...ids].sort().map((id) => backends.get(id));
    const digest = createHash('sha256')
      .update(canonicalJson({ route, backends: used }))
      .digest('hex');
    out.set(route.id, `sha256:${digest.slice(0, 20)}`);
  }
  versions = out;
  versionsOf.set(table, versions);
  return versions;
}
