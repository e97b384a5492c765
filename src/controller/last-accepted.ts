// Which version of each route the proxies should serve. A route that is not
// Accepted (a conflict, a fallback cycle, a cost-quality backend without
// quality) is not programmed; if an earlier version of it was accepted, that
// version keeps serving and status says so, the way Envoy Gateway keeps the
// last good configuration instead of dropping live traffic for a bad edit.
// Memory only: after a controller restart a refused route is simply left out.
import type { ModelBackend, ModelBackendGrant, ModelRoute } from '../api/v1alpha1/index.js';
import type { GrantIndex } from '../routing/grants.js';
import { checkSemantics, objectId, refusedRouteIds } from '../routing/semantics.js';

export interface Admission {
  /** What to compile: accepted routes, and the last accepted version of refused ones that had one. */
  routes: ModelRoute[];
  /** Refused routes served at an earlier generation: route id → that generation (undefined if unknown). */
  servingLastAccepted: Map<string, number | undefined>;
}

export class LastAcceptedRoutes {
  private readonly accepted = new Map<string, ModelRoute>();

  /** The routes of one namespace as they should be compiled. */
  admit(
    namespace: string,
    routes: readonly ModelRoute[],
    backends: readonly ModelBackend[],
    grants: readonly ModelBackendGrant[] | GrantIndex = [],
  ): Admission {
    const refused = refusedRouteIds(checkSemantics(routes, backends, grants));
    const out: Admission = { routes: [], servingLastAccepted: new Map() };
    const present = new Set<string>();
    for (const route of routes) {
      const id = objectId(route);
      present.add(id);
      if (!refused.has(id)) {
        this.accepted.set(id, route);
        out.routes.push(route);
        continue;
      }
      const last = this.accepted.get(id);
      // A route deleted and created again under the same name starts afresh.
      if (last && last.metadata.uid === route.metadata.uid) {
        out.routes.push(last);
        out.servingLastAccepted.set(id, last.metadata.generation);
      }
    }
    for (const id of [...this.accepted.keys()])
      if (id.startsWith(`${namespace}/`) && !present.has(id)) this.accepted.delete(id);
    return out;
  }
}
