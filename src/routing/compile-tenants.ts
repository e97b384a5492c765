// Compiles a namespace's ModelTenants and ModelAPIKeys into the parts of a
// routing table proxies resolve callers with. Pure: the same objects and
// clock give the same table. Revoked and expired keys are left out, so a
// proxy refuses them without knowing they ever existed.
import type { ModelAPIKey, ModelTenant } from '../api/v1alpha1/index.js';
import { namespaceOf, objectId } from './semantics.js';
import type { CompiledApiKey, CompiledTenant, IdentityPolicy } from './table.js';

export interface CompiledIdentity {
  tenants: CompiledTenant[];
  apiKeys: CompiledApiKey[];
  identity: IdentityPolicy;
}

export function compileTenant(tenant: ModelTenant): CompiledTenant {
  const ns = namespaceOf(tenant);
  const { spec } = tenant;
  const ids = spec.identities;
  const compiled: CompiledTenant = {
    id: objectId(tenant),
    namespace: ns,
    name: tenant.metadata.name,
    priority: spec.priority,
    identities: {
      serviceAccounts: (ids.serviceAccounts ?? [])
        .map((sa) => ({ namespace: sa.namespace ?? ns, name: sa.name }))
        .sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`)),
      namespaces: [...(ids.namespaces ?? [])].sort(),
    },
    compliance: [...(spec.compliance ?? [])].sort(),
    capabilities: [...(spec.capabilities ?? [])].sort(),
    trustedHeaders: [...(spec.trustedHeaders ?? [])].sort(),
    limits: { ...(spec.limits ?? {}) },
  };
  if (ids.workloads !== undefined) compiled.identities.workloads = ids.workloads;
  if (spec.routes !== undefined) compiled.routeIds = spec.routes.map((r) => `${ns}/${r}`).sort();
  if (spec.models !== undefined) compiled.models = [...spec.models].sort();
  if (spec.task !== undefined) compiled.task = spec.task;
  if (spec.budget !== undefined) compiled.budget = { ...spec.budget };
  return compiled;
}

/** The key as proxies check it, or undefined when it is revoked, expired or its expiry unreadable. */
export function compileApiKey(key: ModelAPIKey, nowMs: number): CompiledApiKey | undefined {
  if (key.spec.revoked) return undefined;
  const compiled: CompiledApiKey = {
    id: objectId(key),
    hash: key.spec.hash,
    tenantId: `${namespaceOf(key)}/${key.spec.tenant}`,
  };
  if (key.spec.expiresAt !== undefined) {
    const at = Date.parse(key.spec.expiresAt);
    if (!Number.isFinite(at) || at <= nowMs) return undefined;
    compiled.expiresAtMs = at;
  }
  return compiled;
}

/**
 * The identity part of the table for the proxies of `namespace`: that
 * namespace's tenants and valid keys (a key of another namespace is never
 * valid here).
 */
export function compileIdentity(
  namespace: string,
  tenants: readonly ModelTenant[],
  keys: readonly ModelAPIKey[],
  policy: IdentityPolicy,
  nowMs: number,
): CompiledIdentity {
  const own = <T extends { metadata: { namespace?: string | undefined } }>(items: readonly T[]) =>
    items.filter((o) => (o.metadata.namespace ?? 'default') === namespace);
  return {
    tenants: own(tenants)
      .map(compileTenant)
      .sort((a, b) => a.id.localeCompare(b.id)),
    apiKeys: own(keys)
      .flatMap((k) => compileApiKey(k, nowMs) ?? [])
      .sort((a, b) => a.id.localeCompare(b.id)),
    identity: policy,
  };
}
