// The backends of the routing table one proxy pod gets, for the credential
// endpoint: it delivers a key only for a backend in that table. Computed the
// way the fleet compiles a pod's table (the routes of its namespace whose
// proxySelector selects it), on every replica, from the informer caches.
//
// A platform-namespace backend is in the table only when a ModelBackendGrant
// in its namespace allows the pod's namespace, exactly as the fleet compiles.
import type { ModelBackend, ModelBackendGrant, ModelRoute } from '../api/v1alpha1/index.js';
import { compileRoutingTable } from '../routing/compile.js';
import type { CompiledBackend } from '../routing/table.js';
import { selects } from './label-selector.js';

export interface PodTableInput {
  pod: { namespace: string; labels: Readonly<Record<string, string>> };
  /** The routes of the pod's namespace. */
  routes: readonly ModelRoute[];
  /** The backends of the pod's namespace and of every namespace its routes may reference. */
  backends: readonly ModelBackend[];
  /** The grants of the namespaces those backends live in. */
  grants?: readonly ModelBackendGrant[] | undefined;
  clusterDomain?: string | undefined;
}

export function podTableBackends(input: PodTableInput): CompiledBackend[] {
  const { pod } = input;
  const selected = input.routes.filter(
    (r) =>
      (r.metadata.namespace ?? 'default') === pod.namespace &&
      selects(r.spec.proxySelector, pod.labels),
  );
  if (selected.length === 0) return [];
  return compileRoutingTable(selected, input.backends, new Map(), {
    clusterDomain: input.clusterDomain,
    grants: input.grants ?? [],
  }).backends;
}
