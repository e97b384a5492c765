// Resolves a verified caller to a tenant of the proxy's namespace. The same
// function runs in the proxy (per request) and in the controller (for status:
// which identities resolve where, and which are claimed twice).
//
// Specificity decides when two tenants claim one caller: an API key names its
// tenant outright; then a ServiceAccount; then workload labels; then a whole
// namespace. Between equally specific claims the tenant name that sorts first
// wins, and both tenants report the conflict.
import { selects } from '../controller/label-selector.js';
import { DEFAULT_TENANT } from '../api/v1alpha1/index.js';
import type { CompiledTenant, IdentityPolicy } from '../routing/table.js';
import type { Caller } from './caller.js';

export type ResolvedVia =
  'api-key' | 'service-account' | 'workload' | 'namespace' | 'default' | 'local';

export type TenantResolution =
  | { ok: true; tenant: CompiledTenant; via: ResolvedVia }
  | {
      ok: false;
      /** Safe to show the caller: names nothing but the caller itself. */
      message: string;
    };

/** Specificity of each way to claim a caller; higher wins. */
const RANK: Record<Exclude<ResolvedVia, 'default' | 'local'>, number> = {
  'api-key': 4,
  'service-account': 3,
  workload: 2,
  namespace: 1,
};

/** The tenant unmatched callers get when there is no ModelTenant named `default`. */
export function implicitDefaultTenant(namespace: string, name = DEFAULT_TENANT): CompiledTenant {
  return {
    id: `${namespace}/${name}`,
    namespace,
    name,
    priority: 'normal',
    identities: { serviceAccounts: [], namespaces: [] },
    compliance: [],
    capabilities: [],
    trustedHeaders: [],
    limits: {},
  };
}

/** How a tenant claims this caller, if it does. */
export function claimOf(tenant: CompiledTenant, caller: Caller): ResolvedVia | undefined {
  switch (caller.kind) {
    case 'api-key':
      return caller.tenantId === tenant.id ? 'api-key' : undefined;
    case 'local':
      return caller.tenant === tenant.name ? 'local' : undefined;
    case 'workload':
    case 'service-account': {
      const namespace = caller.namespace;
      const account = caller.kind === 'workload' ? caller.serviceAccount : caller.name;
      if (
        tenant.identities.serviceAccounts.some(
          (sa) => sa.namespace === namespace && sa.name === account,
        )
      ) {
        return 'service-account';
      }
      if (
        caller.kind === 'workload' &&
        tenant.identities.workloads !== undefined &&
        namespace === tenant.namespace &&
        selects(tenant.identities.workloads, caller.labels)
      ) {
        return 'workload';
      }
      return tenant.identities.namespaces.includes(namespace) ? 'namespace' : undefined;
    }
  }
}

/** Every tenant that claims the caller, most specific first (ties by name). */
export function claimants(
  caller: Caller,
  tenants: readonly CompiledTenant[],
): { tenant: CompiledTenant; via: ResolvedVia }[] {
  const out: { tenant: CompiledTenant; via: ResolvedVia }[] = [];
  for (const tenant of tenants) {
    const via = claimOf(tenant, caller);
    if (via !== undefined) out.push({ tenant, via });
  }
  const rank = (via: ResolvedVia) => (via === 'default' || via === 'local' ? 5 : RANK[via]);
  return out.sort(
    (a, b) => rank(b.via) - rank(a.via) || a.tenant.name.localeCompare(b.tenant.name),
  );
}

/**
 * The caller's tenant, or why it has none. `namespace` is the proxy's: tenants
 * and the default tenant live there.
 */
export function resolveTenant(
  caller: Caller,
  tenants: readonly CompiledTenant[],
  policy: IdentityPolicy | undefined,
  namespace: string,
): TenantResolution {
  const best = claimants(caller, tenants)[0];
  if (best) return { ok: true, ...best };
  if (caller.kind === 'local' && caller.tenant !== undefined) {
    // Local mode with no ModelTenant of that name: an implicit one, so `--tenant acme` works on bare samples.
    return { ok: true, tenant: implicitDefaultTenant(namespace, caller.tenant), via: 'local' };
  }
  if (caller.kind === 'api-key') {
    // The key's tenant is gone: the key is as good as revoked.
    return { ok: false, message: 'this API key is not valid: its tenant no longer exists' };
  }
  if (caller.kind !== 'local' && policy?.unmatched === 'deny') {
    return {
      ok: false,
      message:
        'no ModelTenant of this namespace covers the caller; ask the platform team to add its identity to a tenant',
    };
  }
  const named = tenants.find((t) => t.name === DEFAULT_TENANT);
  return { ok: true, tenant: named ?? implicitDefaultTenant(namespace), via: 'default' };
}
