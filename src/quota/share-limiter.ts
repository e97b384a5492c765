// One key's share of a fleet-wide limit on this proxy (issue 14): its
// sliding-minute requests and tokens, its requests in flight, and the
// cumulative counters the controller divides the limit by. Shares change
// under it (a new assignment, expiry to safe) without losing what the window
// counted, so moving capacity between proxies cannot double-admit in a minute.
import { RateLimiter } from '../proxy/resilience/rate-limiter.js';
import type { LimitAmounts, LimitUsage, QuotaKey } from './protocol.js';
import type { QuotaState, ShareSource } from './quota-state.js';

export class ShareLimiter {
  private readonly window: RateLimiter;
  private amounts: LimitAmounts = {};
  private inFlightNow = 0;
  private admitted = 0;
  private refused = 0;
  private tokens = 0;
  /** The QuotaState epoch the share was read at (-1: read it again). */
  private epoch = -1;
  private shareSource: ShareSource = 'whole-limit';

  constructor(
    readonly key: QuotaKey,
    private readonly now: () => number,
  ) {
    this.window = new RateLimiter({}, now);
  }

  /** The amounts enforced now. */
  get share(): LimitAmounts {
    return this.amounts;
  }

  get inFlight(): number {
    return this.inFlightNow;
  }

  /** Where the share in force came from. */
  get source(): ShareSource {
    return this.shareSource;
  }

  /**
   * Re-reads the share for the fleet-wide `limit` when the quota state moved
   * on (a new assignment, expiry): one clock read otherwise.
   */
  sync(state: QuotaState, limit: LimitAmounts): this {
    const epoch = state.epoch();
    if (epoch !== this.epoch) {
      const { amounts, source } = state.shareOf(this.key, limit);
      this.setShare(amounts);
      this.shareSource = source;
      this.epoch = epoch;
    }
    return this;
  }

  /** The limit itself changed (a new table): read the share again at the next sync. */
  invalidate(): void {
    this.epoch = -1;
  }

  /** Replaces the share, keeping the window's counts and what is in flight. */
  setShare(share: LimitAmounts): void {
    this.amounts = share;
    this.window.setLimits({ rpm: share.rpm, tpm: share.tpm });
  }

  /** Whether one more request of `tokens` (estimated) stays within the share. */
  canAdmit(tokens: number): boolean {
    const max = this.amounts.maxConcurrency;
    if (max !== undefined && this.inFlightNow + 1 > max) return false;
    return this.window.canAccept(tokens);
  }

  /** Which amount one more request of `tokens` would exceed (concurrency first), if any. */
  blockingLimit(tokens: number): 'maxConcurrency' | 'rpm' | 'tpm' | undefined {
    if (this.canAdmit(tokens)) return undefined;
    const max = this.amounts.maxConcurrency;
    if (max !== undefined && this.inFlightNow + 1 > max) return 'maxConcurrency';
    const { rpm } = this.amounts;
    return rpm !== undefined && this.window.totals().requests + 1 > rpm ? 'rpm' : 'tpm';
  }

  /**
   * How full the share is: the largest of window requests / rpm, window
   * tokens / tpm and in flight / maxConcurrency (0 with no amounts; a share of
   * 0 is full).
   */
  load(): number {
    const { rpm, tpm, maxConcurrency } = this.amounts;
    let load = ratio(this.inFlightNow, maxConcurrency);
    if (rpm === undefined && tpm === undefined) return load;
    const totals = this.window.totals();
    load = Math.max(load, ratio(totals.requests, rpm), ratio(totals.tokens, tpm));
    return load;
  }

  /** Counts an admitted request now; returns when (for finish). */
  admit(tokens: number): number {
    const estimate = Number.isFinite(tokens) ? Math.max(0, tokens) : 0;
    this.window.record(estimate);
    this.inFlightNow++;
    this.admitted++;
    this.tokens += estimate;
    return this.now();
  }

  /** The request admitted at `recordedAt` ended; real usage replaces its estimate. */
  finish(estimate: number, actualTokens: number | undefined, recordedAt: number): void {
    this.inFlightNow = Math.max(0, this.inFlightNow - 1);
    if (actualTokens === undefined || !Number.isFinite(actualTokens)) return;
    const delta = actualTokens - Math.max(0, estimate);
    this.window.adjust(delta, recordedAt);
    this.tokens = Math.max(0, this.tokens + delta);
  }

  /** A request wanted this share and found it full. */
  refuse(): void {
    this.refused++;
  }

  /** Ms until the share frees a slot: the oldest counted second leaving the window, at least 1 s. */
  retryAfterMs(): number {
    return Math.max(1000, this.window.msUntilOldestLeaves());
  }

  usage(): LimitUsage {
    const totals = this.window.totals();
    return {
      key: this.key,
      admitted: this.admitted,
      refused: this.refused,
      tokens: this.tokens,
      windowRequests: totals.requests,
      windowTokens: totals.tokens,
      inFlight: this.inFlightNow,
    };
  }
}

function ratio(count: number, share: number | undefined): number {
  if (share === undefined) return 0;
  if (share <= 0) return Infinity;
  return count / share;
}

/** True when a table's limits name at least one amount. */
export function hasAmounts(limits: LimitAmounts): boolean {
  return (
    limits.rpm !== undefined || limits.tpm !== undefined || limits.maxConcurrency !== undefined
  );
}
