// Records failovers in route status: when a backend a route uses goes
// Unhealthy, traffic shifts to the next usable one; when it recovers, say so.
import type { HealthState, ModelRoute, ModelRouteStatus } from '../api/v1alpha1/index.js';
import type { HealthTransition } from '../routing/health-tracker.js';
import { objectId } from '../routing/semantics.js';
import { kubeTime } from './status/conditions.js';
import { backendIdOfKey, referencedBackends } from './status/route-status.js';

export type Failover = NonNullable<ModelRouteStatus['lastFailover']>;

/**
 * Updates `failovers` (route id → last failover) for one health transition.
 * Returns the ids of routes whose failover record changed.
 */
export function recordFailover(
  failovers: Map<string, Failover>,
  routes: readonly ModelRoute[],
  transition: HealthTransition,
  health: ReadonlyMap<string, HealthState>,
  nowMs: number,
): string[] {
  const changed: string[] = [];
  for (const route of routes) {
    // A route of another namespace may use the backend through a grant: it names it `namespace/name`.
    const namespace = route.metadata.namespace ?? 'default';
    const names = referencedBackends(route);
    const backendName = names.find((n) => backendIdOfKey(namespace, n) === transition.backendId);
    if (backendName === undefined) continue;
    const id = objectId(route);
    const current = failovers.get(id) ?? route.status?.lastFailover;
    if (transition.to === 'Unhealthy') {
      const next = names.find(
        (n) => n !== backendName && health.get(backendIdOfKey(namespace, n)) !== 'Unhealthy',
      );
      const record: Failover = {
        time: kubeTime(nowMs),
        from: backendName,
        reason: `ModelBackend ${backendName} became Unhealthy: ${transition.record.message ?? 'health checks failed'}`,
      };
      if (next) record.to = next;
      failovers.set(id, record);
      changed.push(id);
    } else if (
      transition.to === 'Healthy' &&
      current &&
      current.from === backendName &&
      current.recoveredTime === undefined
    ) {
      failovers.set(id, { ...current, recoveredTime: kubeTime(nowMs) });
      changed.push(id);
    }
  }
  return changed;
}
