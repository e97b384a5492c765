// Exact mode (issue 14): a limit whose `enforcement` is `exact` is checked and
// counted atomically in a store every proxy shares (Redis/Valkey), instead of
// against this proxy's share. The proxy depends only on this interface; the
// Redis implementation lives in redis-store.ts, the in-memory one below serves
// tests and a single proxy.
import type { LimitAmounts, QuotaKey } from './protocol.js';

export type ExactAcquireResult =
  | { admitted: true; release: (actualTokens?: number) => void }
  | { admitted: false; reason: 'limit'; retryAfterMs: number }
  | { admitted: false; reason: 'unavailable'; error: string };

export interface ExactQuotaStore {
  /** Atomically admits one request of `tokens` under `limits` for `key`, or refuses. */
  acquire(
    key: QuotaKey,
    limits: LimitAmounts,
    tokens: number,
    leaseMs: number,
  ): Promise<ExactAcquireResult>;
  close(): Promise<void>;
}

const WINDOW_SECONDS = 60;

interface MemoryKeyState {
  /** Per second (floor(ms / 1000)): requests and tokens counted in it. */
  seconds: Map<number, { requests: number; tokens: number }>;
  /** Lease id → expiry (epoch ms). */
  leases: Map<number, number>;
}

/**
 * The same semantics as the Redis store (sliding 60 s window in 1 s buckets,
 * concurrency as leases that expire) in one process's memory: for tests and
 * for reasoning about what the shared store must do.
 */
export class MemoryQuotaStore implements ExactQuotaStore {
  private readonly keys = new Map<QuotaKey, MemoryKeyState>();
  private nextLease = 1;
  private closed = false;

  constructor(private readonly now: () => number) {}

  acquire(
    key: QuotaKey,
    limits: LimitAmounts,
    tokens: number,
    leaseMs: number,
  ): Promise<ExactAcquireResult> {
    if (this.closed) {
      return Promise.resolve({ admitted: false, reason: 'unavailable', error: 'store closed' });
    }
    const nowMs = this.now();
    const nowSecond = Math.floor(nowMs / 1000);
    const state = this.stateOf(key);
    for (const second of state.seconds.keys()) {
      if (second <= nowSecond - WINDOW_SECONDS) state.seconds.delete(second);
    }
    for (const [id, expiresAt] of state.leases) if (expiresAt <= nowMs) state.leases.delete(id);
    const estimate = Number.isFinite(tokens) ? Math.max(0, tokens) : 0;
    let requests = 0;
    let used = 0;
    for (const counts of state.seconds.values()) {
      requests += counts.requests;
      used += counts.tokens;
    }
    const overRpm = limits.rpm !== undefined && requests + 1 > limits.rpm;
    const overTpm = limits.tpm !== undefined && Math.max(0, used) + estimate > limits.tpm;
    const overConcurrency =
      limits.maxConcurrency !== undefined && state.leases.size + 1 > limits.maxConcurrency;
    if (overRpm || overTpm || overConcurrency) {
      const retryAfterMs =
        overConcurrency && !overRpm && !overTpm ? 1000 : this.windowFrees(state, nowMs);
      return Promise.resolve({ admitted: false, reason: 'limit', retryAfterMs });
    }
    const bucket = state.seconds.get(nowSecond) ?? { requests: 0, tokens: 0 };
    bucket.requests++;
    bucket.tokens += estimate;
    state.seconds.set(nowSecond, bucket);
    const leaseId = this.nextLease++;
    state.leases.set(leaseId, nowMs + Math.max(1, leaseMs));
    let released = false;
    return Promise.resolve({
      admitted: true,
      release: (actualTokens?: number) => {
        if (released) return;
        released = true;
        state.leases.delete(leaseId);
        if (actualTokens !== undefined && Number.isFinite(actualTokens)) {
          const own = state.seconds.get(nowSecond);
          if (own) own.tokens += actualTokens - estimate;
        }
      },
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private stateOf(key: QuotaKey): MemoryKeyState {
    let state = this.keys.get(key);
    if (!state) {
      state = { seconds: new Map(), leases: new Map() };
      this.keys.set(key, state);
    }
    return state;
  }

  /** Ms until the oldest counted second leaves the window (at least 1 s). */
  private windowFrees(state: MemoryKeyState, nowMs: number): number {
    let oldest = Infinity;
    for (const second of state.seconds.keys()) oldest = Math.min(oldest, second);
    if (!Number.isFinite(oldest)) return 1000;
    return Math.max(1000, (oldest + WINDOW_SECONDS) * 1000 - nowMs);
  }
}
