// Tenants' fleet-wide limits on this proxy, and what each tenant spent (issue
// 14). Only tenants whose table entry names an amount get a limiter: a
// request of any other tenant costs one map miss, no allocation.
import type { CompiledTenant } from '../routing/table.js';
import type { LimitUsage, TenantSpend } from './protocol.js';
import { tenantQuotaKey } from './protocol.js';
import type { QuotaState, ShareSource } from './quota-state.js';
import { ShareLimiter, hasAmounts } from './share-limiter.js';
import type { LimitAmounts } from './protocol.js';

interface TenantEntry {
  readonly limiter: ShareLimiter;
  /** The table's fleet-wide amounts. */
  limit: LimitAmounts;
  exact: boolean;
  denyWithoutStore: boolean;
}

export interface TenantLimitInEffect {
  key: string;
  limit: LimitAmounts;
  share: LimitAmounts;
  source: ShareSource;
  enforcement: 'fleet' | 'exact';
}

export class TenantQuotas {
  private entries = new Map<string, TenantEntry>();
  private readonly spent = new Map<string, { requests: number; costUsd: number }>();

  constructor(
    private readonly state: QuotaState,
    private readonly now: () => number,
  ) {}

  /** A new table: tenants that stay keep their window, new ones start empty, others go. */
  configure(tenants: readonly CompiledTenant[]): void {
    const next = new Map<string, TenantEntry>();
    for (const tenant of tenants) {
      const { rpm, tpm, maxConcurrency, enforcement, onStoreUnavailable } = tenant.limits;
      const limit: LimitAmounts = {};
      if (rpm !== undefined) limit.rpm = rpm;
      if (tpm !== undefined) limit.tpm = tpm;
      if (maxConcurrency !== undefined) limit.maxConcurrency = maxConcurrency;
      if (!hasAmounts(limit)) continue;
      const entry = this.entries.get(tenant.id) ?? {
        limiter: new ShareLimiter(tenantQuotaKey(tenant.id), this.now),
        limit,
        exact: false,
        denyWithoutStore: false,
      };
      entry.limit = limit;
      entry.exact = enforcement === 'exact';
      entry.denyWithoutStore = onStoreUnavailable === 'deny';
      entry.limiter.invalidate();
      next.set(tenant.id, entry);
    }
    this.entries = next;
  }

  /** The tenant's limit as the table gives it and how it is enforced; undefined: not limited. */
  entry(tenantId: string): TenantEntry | undefined {
    const entry = this.entries.get(tenantId);
    entry?.limiter.sync(this.state, entry.limit);
    return entry;
  }

  /** Counts a request served as `tenantId` (for its cumulative spend row). */
  requested(tenantId: string): void {
    this.spendOf(tenantId).requests++;
  }

  /** Counts what a served request cost. */
  cost(tenantId: string, usd: number): void {
    if (Number.isFinite(usd) && usd > 0) this.spendOf(tenantId).costUsd += usd;
  }

  limitUsage(): LimitUsage[] {
    return [...this.entries.values()].map((e) => e.limiter.usage());
  }

  spend(): TenantSpend[] {
    return [...this.spent.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([tenantId, s]) => ({ tenantId, requests: s.requests, costUsd: s.costUsd }));
  }

  limitsInEffect(): TenantLimitInEffect[] {
    return [...this.entries.keys()].map((id) => {
      const entry = this.entry(id) as TenantEntry;
      return {
        key: entry.limiter.key,
        limit: entry.limit,
        share: entry.limiter.share,
        source: entry.limiter.source,
        enforcement: entry.exact ? 'exact' : 'fleet',
      };
    });
  }

  private spendOf(tenantId: string): { requests: number; costUsd: number } {
    let s = this.spent.get(tenantId);
    if (!s) {
      s = { requests: 0, costUsd: 0 };
      this.spent.set(tenantId, s);
    }
    return s;
  }
}

export type { TenantEntry };
