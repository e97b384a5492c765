// The backends of the routing table one proxy pod gets, for the credential
// endpoint: it delivers a key only for a backend in that table. Computed the
// way the fleet compiles a pod's table (the routes of its namespace whose
// proxySelector selects it), on every replica, from the informer caches.
//
// The one place to swap when cross-namespace compile lands: today
// compileRoutingTable resolves a backendRef only in the route's namespace, so
// a platform-namespace backend enters a table once compile honours
// ModelBackendGrants; the backends of the credential namespaces are already
// handed to it here, so that change needs nothing else in this file.
import type { ModelBackend, ModelRoute } from '../api/v1alpha1/index.js';
import { compileRoutingTable } from '../routing/compile.js';
import type { CompiledBackend } from '../routing/table.js';
import { selects } from './label-selector.js';

export interface PodTableInput {
  pod: { namespace: string; labels: Readonly<Record<string, string>> };
  /** The routes of the pod's namespace. */
  routes: readonly ModelRoute[];
  /** The backends of the pod's namespace and of every namespace its routes may reference. */
  backends: readonly ModelBackend[];
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
  }).backends;
}
