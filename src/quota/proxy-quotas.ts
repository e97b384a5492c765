// Everything a proxy holds for fleet-wide limits and budgets (issue 14): the
// controller's assignment, the tenants' limiters and spend, and the exact-mode
// store if one is configured. Backends' limiters live in BackendLiveState,
// which reads the same QuotaState.
import type { CompiledTenant } from '../routing/table.js';
import type { Logger } from '../telemetry/logger.js';
import type { ExactQuotaStore } from './exact-store.js';
import type { LimitUsage, ProxyQuotaStats, QuotaKey } from './protocol.js';
import { QuotaState, type QuotaMode } from './quota-state.js';
import { TenantQuotas } from './tenant-quotas.js';

/** At most one "store unreachable" log line per this long: an outage must not flood the log. */
const STORE_WARNING_INTERVAL_MS = 10_000;

export interface ProxyQuotasOptions {
  mode: QuotaMode;
  now: () => number;
  logger: Logger;
  store?: ExactQuotaStore | undefined;
}

export class ProxyQuotas {
  readonly state: QuotaState;
  readonly tenants: TenantQuotas;
  readonly store: ExactQuotaStore | undefined;
  private readonly now: () => number;
  private readonly logger: Logger;
  private warnedNoStore = false;
  private lastStoreWarningMs = -Infinity;

  constructor(options: ProxyQuotasOptions) {
    this.now = options.now;
    this.logger = options.logger;
    this.store = options.store;
    this.state = new QuotaState({ mode: options.mode, now: options.now });
    this.tenants = new TenantQuotas(this.state, options.now);
  }

  /** A new routing table. */
  configure(tenants: readonly CompiledTenant[]): void {
    this.tenants.configure(tenants);
  }

  /** An exact limit without a store: enforced as a fleet share, said once. */
  warnNoStore(): void {
    if (this.warnedNoStore) return;
    this.warnedNoStore = true;
    this.logger.error(
      'a limit has enforcement: exact but this proxy has no quota store (--quota-store or MODELROUTE_QUOTA_STORE); enforcing its fleet share instead',
    );
  }

  /** The store refused to answer; onStoreUnavailable decides what happens to the request. */
  storeUnavailable(key: QuotaKey, error: string): void {
    const nowMs = this.now();
    if (nowMs - this.lastStoreWarningMs < STORE_WARNING_INTERVAL_MS) return;
    this.lastStoreWarningMs = nowMs;
    this.logger.warn('quota store unreachable; applying onStoreUnavailable', { key, error });
  }

  /** The `quotas` field of GET /admin/v1/stats, with the backends' rows from BackendLiveState. */
  stats(backends: readonly LimitUsage[]): ProxyQuotaStats {
    return {
      assignment: this.state.assignment(),
      limits: [...backends, ...this.tenants.limitUsage()],
      tenants: this.tenants.spend(),
    };
  }
}
