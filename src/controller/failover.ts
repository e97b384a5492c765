// Records failovers in route status: when a backend a route uses goes
// Unhealthy, traffic shifts to the next usable one; when it recovers, say so.
import type { HealthState, ModelRoute, ModelRouteStatus } from '../api/v1alpha1/index.js';
import type { HealthTransition } from '../routing/health-tracker.js';
import type { EventToRecord } from './event-recorder.js';
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

/** The reasons of the Events a failover writes on each ModelRoute it moves. */
export const FailoverEventReason = {
  failover: 'Failover',
  recovered: 'FailoverRecovered',
} as const;

/**
 * The Event for a route whose failover record just changed: a Warning when
 * traffic moved off a backend (or had nowhere to go), Normal when it came back.
 * The message names the backends only, so a backend flapping between the same
 * two states repeats the same two Events, which the recorder counts rather
 * than writes again (the probe's own text stays on the ModelBackend's Events).
 */
export function failoverEvent(route: ModelRoute, failover: Failover): EventToRecord {
  const involved = {
    kind: 'ModelRoute',
    apiVersion: 'modelroute.io/v1alpha1',
    namespace: route.metadata.namespace ?? 'default',
    name: route.metadata.name,
    uid: route.metadata.uid,
  };
  if (failover.recoveredTime !== undefined)
    return {
      involved,
      type: 'Normal',
      reason: FailoverEventReason.recovered,
      message: `ModelBackend ${failover.from} is Healthy again; traffic returns to it`,
    };
  return {
    involved,
    type: 'Warning',
    reason: FailoverEventReason.failover,
    message:
      failover.to !== undefined
        ? `ModelBackend ${failover.from} became Unhealthy: traffic moved to ${failover.to}`
        : `ModelBackend ${failover.from} became Unhealthy and no other backend of this route is usable`,
  };
}
