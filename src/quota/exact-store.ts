// The shared store behind exact mode (`enforcement: exact`): every admission
// of an exact key is an atomic check-and-count there, so the fleet together
// never passes the limit. The proxy depends on this interface only; the Redis
// or Valkey implementation is src/quota/redis-store.ts.
import type { LimitAmounts, QuotaKey } from './protocol.js';

export interface ExactQuotaStore {
  /** Atomically admits one request of `tokens` under `limits` for `key`, or refuses. */
  acquire(
    key: QuotaKey,
    limits: LimitAmounts,
    tokens: number,
    leaseMs: number,
  ): Promise<
    | { admitted: true; release: (actualTokens?: number) => void }
    | { admitted: false; reason: 'limit'; retryAfterMs: number }
    | { admitted: false; reason: 'unavailable'; error: string }
  >;
  close(): Promise<void>;
}
