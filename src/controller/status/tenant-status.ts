// Computes ModelTenant and ModelAPIKey statuses: which identities resolve to
// each tenant, which are claimed by more than one (and who wins, by the same
// resolveTenant the proxies run), and whether each key is accepted now.
// Pure: the same objects and clock give the same statuses.
import {
  ConditionReason,
  ConditionType,
  type ModelAPIKey,
  type ModelTenant,
  type ModelTenantStatus,
} from '../../api/v1alpha1/index.js';
import type { Caller } from '../../identity/caller.js';
import { claimants, resolveTenant } from '../../identity/resolve-tenant.js';
import { compileApiKey, compileTenant } from '../../routing/compile-tenants.js';
import type { CompiledTenant, IdentityPolicy } from '../../routing/table.js';
import { budgetStatusParts, type BudgetStatusView } from './budget-status.js';
import { mergeConditions, type ConditionInput } from './conditions.js';

type WorkloadCaller = Extract<Caller, { kind: 'workload' }>;
type Conflict = NonNullable<ModelTenantStatus['conflicts']>[number];
type ApiKeyStatus = NonNullable<ModelAPIKey['status']>;

/** The schema's cap on listed conflicts; conflictCount keeps the full number. */
export const MAX_LISTED_CONFLICTS = 16;

export interface TenantStatusInput {
  namespace: string;
  tenants: readonly ModelTenant[];
  apiKeys: readonly ModelAPIKey[];
  /** The workloads recorded in this namespace's sidecar proxy pods. */
  workloads: readonly WorkloadCaller[];
  policy: IdentityPolicy;
  /** status.spend and the budget conditions of a tenant (budget ledger); undefined: kept as they are. */
  budget?: ((tenant: ModelTenant) => BudgetStatusView | undefined) | undefined;
  /** status.limits of a tenant (the quota coordinator's limitStatus); undefined: none. */
  limits?: ((tenant: ModelTenant) => ModelTenantStatus['limits']) | undefined;
  /** 24 h and 30 d cost (usage ledger); null: none (the field goes); undefined: kept as it is. */
  cost?: ((tenant: ModelTenant) => ModelTenantStatus['cost'] | null | undefined) | undefined;
  nowMs: number;
}

/**
 * Identities claimed by more than one tenant: each ServiceAccount and
 * namespace a tenant names, and each workload a label selector claims (a
 * pod claimed only through its ServiceAccount or namespace is already listed
 * under those).
 */
function findConflicts(
  compiled: readonly CompiledTenant[],
  workloads: readonly WorkloadCaller[],
): Conflict[] {
  const out = new Map<string, Conflict>();
  const add = (identity: string, claims: ReturnType<typeof claimants>) => {
    if (claims.length < 2 || out.has(identity)) return;
    out.set(identity, {
      identity,
      tenants: claims.map((c) => c.tenant.name).sort(),
      winner: claims[0]!.tenant.name,
    });
  };
  for (const tenant of compiled) {
    for (const sa of tenant.identities.serviceAccounts) {
      const caller: Caller = { kind: 'service-account', namespace: sa.namespace, name: sa.name };
      add(`serviceAccount ${sa.namespace}/${sa.name}`, claimants(caller, compiled));
    }
    for (const ns of tenant.identities.namespaces) {
      const claims = compiled
        .filter((t) => t.identities.namespaces.includes(ns))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((t) => ({ tenant: t, via: 'namespace' as const }));
      add(`namespace ${ns}`, claims);
    }
  }
  for (const w of workloads) {
    const claims = claimants(w, compiled);
    if (claims.some((c) => c.via === 'workload'))
      add(`workload ${w.namespace}/${w.pod ?? '?'}`, claims);
  }
  return [...out.values()].sort((a, b) => a.identity.localeCompare(b.identity));
}

/** Status of every tenant of the namespace, by tenant name. */
export function computeTenantStatuses(input: TenantStatusInput): Map<string, ModelTenantStatus> {
  const { namespace, tenants, apiKeys, workloads, policy, nowMs } = input;
  const compiled = tenants.map(compileTenant);
  const resolvedTo = new Map<string, number>();
  for (const w of workloads) {
    const r = resolveTenant(w, compiled, policy, namespace);
    if (r.ok) resolvedTo.set(r.tenant.name, (resolvedTo.get(r.tenant.name) ?? 0) + 1);
  }
  const validKeys = new Map<string, number>();
  for (const key of apiKeys) {
    if (compileApiKey(key, nowMs) !== undefined)
      validKeys.set(key.spec.tenant, (validKeys.get(key.spec.tenant) ?? 0) + 1);
  }
  const conflicts = findConflicts(compiled, workloads);

  const out = new Map<string, ModelTenantStatus>();
  for (const tenant of tenants) {
    const name = tenant.metadata.name;
    const ids = tenant.spec.identities;
    const identities = {
      serviceAccounts: ids.serviceAccounts?.length ?? 0,
      namespaces: ids.namespaces?.length ?? 0,
      workloads: resolvedTo.get(name) ?? 0,
      apiKeys: validKeys.get(name) ?? 0,
    };
    const own = conflicts.filter((c) => c.tenants.includes(name));
    const lost = own.filter((c) => c.winner !== name);
    const conflicted: ConditionInput =
      own.length === 0
        ? {
            type: ConditionType.Conflicted,
            status: 'False',
            reason: ConditionReason.NoConflicts,
            message: 'no other tenant of this namespace claims its identities',
          }
        : {
            type: ConditionType.Conflicted,
            status: 'True',
            reason: ConditionReason.IdentityConflict,
            message: `${own.length} identities are claimed by other tenants too (${own
              .slice(0, 3)
              .map((c) => `${c.identity}: ${c.winner} wins`)
              .join(
                '; ',
              )}${own.length > 3 ? '; ...' : ''}); the more specific claim wins, then the name that sorts first: remove the identity from all but one tenant`,
          };
    const lostNote = lost.length > 0 ? `; ${lost.length} claimed identities resolve elsewhere` : '';
    const conditions: ConditionInput[] = [
      {
        type: ConditionType.Accepted,
        status: 'True',
        reason: ConditionReason.Accepted,
        message: 'the tenant passed all checks',
      },
      conflicted,
      {
        type: ConditionType.Ready,
        status: 'True',
        reason: ConditionReason.Ready,
        message: `resolves ${identities.serviceAccounts} serviceAccounts, ${identities.namespaces} namespaces, ${identities.workloads} workloads and ${identities.apiKeys} valid apiKeys${lostNote}`,
      },
    ];
    const generation = tenant.metadata.generation;
    const budget = budgetStatusParts(input.budget?.(tenant), {
      spend: tenant.status?.spend,
      conditions: tenant.status?.conditions,
    });
    conditions.push(...budget.conditions);
    const status: ModelTenantStatus = {
      conditions: mergeConditions(tenant.status?.conditions, conditions, generation, nowMs),
      identities,
      conflictCount: own.length,
    };
    if (own.length > 0) status.conflicts = own.slice(0, MAX_LISTED_CONFLICTS);
    if (generation !== undefined) status.observedGeneration = generation;
    if (budget.spend) status.spend = budget.spend;
    const limits = input.limits?.(tenant);
    if (limits) status.limits = limits;
    const counted = input.cost?.(tenant);
    const cost = counted === undefined ? tenant.status?.cost : counted;
    if (cost) status.cost = cost;
    out.set(name, status);
  }
  return out;
}

/** Whether gateways accept the key now, and if not why. */
export function computeApiKeyStatus(
  key: ModelAPIKey,
  tenantNames: ReadonlySet<string>,
  nowMs: number,
): ApiKeyStatus {
  const ns = key.metadata.namespace ?? 'default';
  const expiresAt = key.spec.expiresAt;
  let valid: ConditionInput;
  if (key.spec.revoked) {
    valid = {
      type: ConditionType.Valid,
      status: 'False',
      reason: ConditionReason.Revoked,
      message: 'spec.revoked is true: gateways refuse the key (delete the object to forget it)',
    };
  } else if (compileApiKey(key, nowMs) === undefined) {
    valid = {
      type: ConditionType.Valid,
      status: 'False',
      reason: ConditionReason.Expired,
      message: `the key expired at ${expiresAt ?? '?'}; create a new one with modelroute keys create`,
    };
  } else if (!tenantNames.has(key.spec.tenant)) {
    valid = {
      type: ConditionType.Valid,
      status: 'False',
      reason: ConditionReason.TenantNotFound,
      message: `no ModelTenant "${key.spec.tenant}" in namespace ${ns}: gateways refuse the key until it exists`,
    };
  } else {
    valid = {
      type: ConditionType.Valid,
      status: 'True',
      reason: ConditionReason.Valid,
      message: `accepted by the gateways of namespace ${ns} as tenant ${key.spec.tenant}${expiresAt ? ` until ${expiresAt}` : ''}`,
    };
  }
  const generation = key.metadata.generation;
  const status: ApiKeyStatus = {
    conditions: mergeConditions(key.status?.conditions, [valid], generation, nowMs),
  };
  if (generation !== undefined) status.observedGeneration = generation;
  return status;
}

/** The earliest expiry still ahead among keys that are not revoked: when a table next changes on its own. */
export function nextKeyExpiry(keys: readonly ModelAPIKey[], nowMs: number): number | undefined {
  let next: number | undefined;
  for (const key of keys) {
    const at = compileApiKey(key, nowMs)?.expiresAtMs;
    if (at !== undefined && (next === undefined || at < next)) next = at;
  }
  return next;
}
