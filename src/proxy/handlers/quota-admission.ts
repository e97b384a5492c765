// The tenant's fleet-wide limits and the budgets of tenant and route, checked
// once identity has named the tenant and before anything is routed (issue 14).
// Refusals are 429s in OpenAI's error shape with Retry-After. Tenants without
// limits and proxies without budgets pay a map miss and a boolean.
import type { BudgetShare, LimitAmounts } from '../../quota/protocol.js';
import { routeQuotaKey, tenantQuotaKey } from '../../quota/protocol.js';
import type { ExceededBudget } from '../../quota/quota-state.js';
import type { TenantEntry } from '../../quota/tenant-quotas.js';
import type { PreparedRoute } from '../../routing/prepared-table.js';
import type { CompiledTenant } from '../../routing/table.js';
import { ProxyError } from '../errors.js';
import type { ProxyRuntime } from '../runtime.js';

/** How long a tenant's exact-mode lease outlives a proxy that died holding it, when its route sets no total timeout. */
const DEFAULT_LEASE_MS = 5 * 60_000;

/** A request admitted under its tenant's limits; `end` must be called once it is over. */
export interface TenantAdmission {
  /** Real tokens the request used (prompt + output), as backends report them. */
  used(tokens: number): void;
  end(): void;
}

const NOT_LIMITED: TenantAdmission = { used: () => undefined, end: () => undefined };

class LimitedAdmission implements TenantAdmission {
  private tokens: number | undefined;
  private ended = false;

  constructor(
    private readonly entry: TenantEntry,
    private readonly estimate: number,
    private readonly recordedAt: number,
    private readonly release: ((actualTokens?: number) => void) | undefined,
  ) {}

  used(tokens: number): void {
    if (Number.isFinite(tokens)) this.tokens = (this.tokens ?? 0) + tokens;
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.entry.limiter.finish(this.estimate, this.tokens, this.recordedAt);
    this.release?.(this.tokens);
  }
}

/**
 * Admits the request under its tenant's share (or, for an exact limit with a
 * store, under the fleet total in the store), or throws the 429. Synchronous
 * unless the store is asked.
 */
export function admitTenant(
  runtime: ProxyRuntime,
  tenant: CompiledTenant,
  estimatedTokens: number,
  route: PreparedRoute | undefined,
): TenantAdmission | Promise<TenantAdmission> {
  const entry = runtime.quotas.tenants.entry(tenant.id);
  if (!entry) return NOT_LIMITED;
  const store = runtime.quotas.store;
  if (!entry.exact || !store) {
    if (entry.exact) runtime.quotas.warnNoStore();
    return admitByShare(entry, tenant, estimatedTokens);
  }
  const leaseMs = route?.source.timeouts.totalMs ?? DEFAULT_LEASE_MS;
  return store.acquire(entry.limiter.key, entry.limit, estimatedTokens, leaseMs).then((result) => {
    if (result.admitted) {
      const recordedAt = entry.limiter.admit(estimatedTokens);
      return new LimitedAdmission(entry, estimatedTokens, recordedAt, result.release);
    }
    if (result.reason === 'limit') {
      entry.limiter.refuse();
      throw tenantLimited(tenant, entry.limit, bindingOf(entry.limit), result.retryAfterMs);
    }
    runtime.quotas.storeUnavailable(entry.limiter.key, result.error);
    if (!entry.denyWithoutStore) return admitByShare(entry, tenant, estimatedTokens);
    entry.limiter.refuse();
    throw new ProxyError(
      429,
      `tenant ${tenant.id} has an exact limit and the shared quota store cannot be reached; its onStoreUnavailable is deny, so nothing is admitted until the store is back; retry in 1 s`,
      'rate_limit_exceeded',
      'tenant_rate_limited',
      null,
      { 'retry-after': '1' },
    );
  });
}

function admitByShare(
  entry: TenantEntry,
  tenant: CompiledTenant,
  estimatedTokens: number,
): TenantAdmission {
  const blocking = entry.limiter.blockingLimit(estimatedTokens);
  if (blocking !== undefined) {
    entry.limiter.refuse();
    const retryAfterMs = blocking === 'maxConcurrency' ? 1000 : entry.limiter.retryAfterMs();
    throw tenantLimited(tenant, entry.limit, blocking, retryAfterMs);
  }
  const recordedAt = entry.limiter.admit(estimatedTokens);
  return new LimitedAdmission(entry, estimatedTokens, recordedAt, undefined);
}

const LIMIT_WORDS: Record<keyof LimitAmounts, string> = {
  rpm: 'requests per minute',
  tpm: 'tokens per minute',
  maxConcurrency: 'concurrent requests',
};

function bindingOf(limit: LimitAmounts): keyof LimitAmounts {
  return limit.rpm !== undefined ? 'rpm' : limit.tpm !== undefined ? 'tpm' : 'maxConcurrency';
}

function tenantLimited(
  tenant: CompiledTenant,
  limit: LimitAmounts,
  binding: keyof LimitAmounts,
  retryAfterMs: number,
): ProxyError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new ProxyError(
    429,
    `tenant ${tenant.id} is over its fleet limit of ${limit[binding] ?? 0} ${LIMIT_WORDS[binding]}; retry in ${seconds} s`,
    'rate_limit_exceeded',
    'tenant_rate_limited',
    null,
    { 'retry-after': String(seconds) },
  );
}

/**
 * The budget of the tenant or the route this request must respect, if one is
 * exceeded: refuse → throws the 429 now; downgrade → returned, and the caller
 * marks the facts and checks the rule it got (refuseDowngrade).
 */
export function exceededBudget(
  runtime: ProxyRuntime,
  tenant: CompiledTenant,
  route: PreparedRoute | undefined,
): ExceededBudget | undefined {
  const state = runtime.quotas.state;
  if (!state.hasBudgets()) return undefined;
  const exceeded =
    state.exceededBudget(tenantQuotaKey(tenant.id)) ??
    (route ? state.exceededBudget(routeQuotaKey(route.source.id)) : undefined);
  if (exceeded && exceeded.budget.onExceeded === 'refuse')
    throw budgetRefusal(exceeded, runtime.now());
  return exceeded;
}

/**
 * A downgraded request is served only by a rule that asks for it
 * (`matches.budgetExceeded: true`); any other rule means the route has no
 * cheaper rule for it, and the request is refused as for `refuse`.
 */
export function refuseUnlessDowngradeRule(
  exceeded: ExceededBudget,
  route: PreparedRoute | undefined,
  ruleName: string | undefined,
  nowMs: number,
): void {
  const rule = route?.rules.find((r) => r.source.name === ruleName);
  if (rule?.source.matches.some((m) => m.budgetExceeded === true)) return;
  throw budgetRefusal(exceeded, nowMs);
}

const WINDOW_WORDS: Record<BudgetShare['window'], string> = { day: 'daily', month: 'monthly' };

function budgetRefusal({ budget, spentUSD }: ExceededBudget, nowMs: number): ProxyError {
  const [kind, id] = splitKey(budget.key);
  const resetAt = new Date(budget.resetAtMs).toISOString().replace(/\.\d{3}Z$/, 'Z');
  const seconds = Math.max(1, Math.ceil((budget.resetAtMs - nowMs) / 1000));
  return new ProxyError(
    429,
    `${kind} ${id} has spent its ${WINDOW_WORDS[budget.window]} budget of $${budget.budgetUSD.toFixed(2)} (spent $${spentUSD.toFixed(2)}); it resets at ${resetAt}`,
    'rate_limit_exceeded',
    'budget_exceeded',
    null,
    { 'retry-after': String(seconds) },
  );
}

function splitKey(key: string): [string, string] {
  const colon = key.indexOf(':');
  return [key.slice(0, colon), key.slice(colon + 1)];
}
