// Events the controller writes on ModelRoutes (and ModelBackends) about what
// it did with them: a table it could not push to a proxy, a spec it refused.
// Failovers are in failover.ts, next to the record they come from. Messages
// carry no table versions or timestamps, so repeats are counted on one Event
// by the recorder rather than written again.
import type { ModelRoute } from '../api/v1alpha1/index.js';
import type { EventToRecord } from './event-recorder.js';
import type { InvalidObject } from './invalid-objects.js';
import type { ProxyPod } from './proxy-fleet.js';

export const RouteEventReason = {
  pushFailed: 'PushFailed',
  invalidSpec: 'InvalidSpec',
} as const;

const API_VERSION = 'modelroute.io/v1alpha1';

/**
 * One Warning per route of the table the pod should serve: the route's
 * `kubectl describe` says which proxy does not get its changes, and why.
 * Routes the controller no longer knows are skipped.
 */
export function pushFailedEvents(
  pod: Pick<ProxyPod, 'key'>,
  table: { routes: readonly { id: string }[] },
  error: string,
  routeOf: (id: string) => ModelRoute | undefined,
): EventToRecord[] {
  const events: EventToRecord[] = [];
  for (const { id } of table.routes) {
    const route = routeOf(id);
    if (!route) continue;
    events.push({
      involved: {
        kind: 'ModelRoute',
        apiVersion: API_VERSION,
        namespace: route.metadata.namespace ?? 'default',
        name: route.metadata.name,
        uid: route.metadata.uid,
      },
      type: 'Warning',
      reason: RouteEventReason.pushFailed,
      message: `the routing table cannot be pushed to proxy pod ${pod.key}, which keeps serving its previous table (retrying): ${error}`,
    });
  }
  return events;
}

/** The spec the controller refused, with the schema's field paths and reasons. */
export function invalidSpecEvent(
  entry: Pick<InvalidObject, 'kind' | 'namespace' | 'name' | 'uid' | 'message'>,
): EventToRecord {
  return {
    involved: {
      kind: entry.kind,
      apiVersion: API_VERSION,
      namespace: entry.namespace,
      name: entry.name,
      uid: entry.uid,
    },
    type: 'Warning',
    reason: RouteEventReason.invalidSpec,
    message: `the controller cannot use this object: ${entry.message}; fix the spec (modelroute validate FILE shows the same)`,
  };
}
