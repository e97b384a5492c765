// Cross-object checks of the identity kinds in a set of manifest files (local
// mode and `modelroute validate`): what a key, tenant or grant names must be
// among the objects of its namespace, or it would fail quietly at run time
// (a key of a missing tenant is refused with 401).
import type {
  ModelAPIKey,
  ModelBackend,
  ModelBackendGrant,
  ModelRoute,
  ModelTenant,
} from './v1alpha1/index.js';

export interface ReferenceProblem {
  code: 'TenantNotFound' | 'RouteNotFound' | 'BackendNotFound';
  object: { kind: string; namespace: string; name: string };
  path: string;
  message: string;
}

export interface IdentityObjects {
  routes: readonly ModelRoute[];
  backends: readonly ModelBackend[];
  tenants: readonly ModelTenant[];
  apiKeys: readonly ModelAPIKey[];
  grants: readonly ModelBackendGrant[];
}

const ns = (o: { metadata: { namespace?: string | undefined } }) =>
  o.metadata.namespace ?? 'default';
const names = (items: readonly { metadata: { name: string; namespace?: string | undefined } }[]) =>
  new Set(items.map((o) => `${ns(o)}/${o.metadata.name}`));

export function checkIdentityReferences(objects: IdentityObjects): ReferenceProblem[] {
  const problems: ReferenceProblem[] = [];
  const tenants = names(objects.tenants);
  const routes = names(objects.routes);
  const backends = names(objects.backends);
  const at = (kind: string, o: { metadata: { name: string; namespace?: string | undefined } }) => ({
    kind,
    namespace: ns(o),
    name: o.metadata.name,
  });
  for (const key of objects.apiKeys) {
    if (!tenants.has(`${ns(key)}/${key.spec.tenant}`))
      problems.push({
        code: 'TenantNotFound',
        object: at('ModelAPIKey', key),
        path: 'spec.tenant',
        message: `ModelTenant "${key.spec.tenant}" is not among the objects of namespace ${ns(key)}; a key of a missing tenant is refused (401)`,
      });
  }
  for (const tenant of objects.tenants) {
    (tenant.spec.routes ?? []).forEach((route, i) => {
      if (!routes.has(`${ns(tenant)}/${route}`))
        problems.push({
          code: 'RouteNotFound',
          object: at('ModelTenant', tenant),
          path: `spec.routes[${i}]`,
          message: `ModelRoute "${route}" is not among the objects of namespace ${ns(tenant)}`,
        });
    });
  }
  for (const grant of objects.grants) {
    (grant.spec.backends ?? []).forEach((backend, i) => {
      if (!backends.has(`${ns(grant)}/${backend}`))
        problems.push({
          code: 'BackendNotFound',
          object: at('ModelBackendGrant', grant),
          path: `spec.backends[${i}]`,
          message: `ModelBackend "${backend}" is not among the objects of namespace ${ns(grant)}; a grant can only share backends of its own namespace`,
        });
    });
  }
  return problems;
}
