// Exact-mode backend limits (issue 14): with a quota store configured, every
// attempt on a backend whose limits say `enforcement: exact` is checked and
// counted atomically in the store, so the whole fleet stays within the limit.
// A refusal never reaches the backend and says nothing about its health: the
// attempt ends as `not-usable` (capacity_shed) and the next one is tried.
import { backendQuotaKey, type LimitAmounts } from '../../quota/protocol.js';
import type { CompiledBackend } from '../../routing/table.js';
import type { ProxyRuntime } from '../runtime.js';
import type { Failure } from './failure.js';

/** Releases the store's lease with the tokens the attempt really used. */
export type ExactLease = (actualTokens?: number) => void;

const NO_LEASE: ExactLease = () => undefined;

/**
 * A lease to attempt `backend` now, or the failure that refuses the attempt.
 * Call only for backends whose limits say `enforcement: exact`.
 */
export async function admitExactBackend(
  runtime: ProxyRuntime,
  backend: CompiledBackend,
  estimatedTokens: number,
): Promise<ExactLease | Failure> {
  const { rpm, tpm, maxConcurrency, onStoreUnavailable } = backend.limits;
  const limits: LimitAmounts = {};
  if (rpm !== undefined) limits.rpm = rpm;
  if (tpm !== undefined) limits.tpm = tpm;
  if (maxConcurrency !== undefined) limits.maxConcurrency = maxConcurrency;
  const store = runtime.quotas.store;
  // Without a store, available() already held the backend to its fleet share.
  if (!store) {
    runtime.quotas.warnNoStore();
    return NO_LEASE;
  }
  const key = backendQuotaKey(backend.id);
  const result = await store.acquire(key, limits, estimatedTokens, backend.timeouts.totalMs);
  if (result.admitted) return result.release;
  if (result.reason === 'limit') {
    runtime.live.refused(backend.id);
    return {
      kind: 'not-usable',
      backendId: backend.id,
      message: `${backend.id} is at its fleet limit (exact, counted in the shared store)`,
      retryAfterMs: result.retryAfterMs,
      code: 'capacity_shed',
    };
  }
  runtime.quotas.storeUnavailable(key, result.error);
  if (onStoreUnavailable !== 'deny' && runtime.live.shareAdmits(backend.id, estimatedTokens))
    return NO_LEASE;
  runtime.live.refused(backend.id);
  return {
    kind: 'not-usable',
    backendId: backend.id,
    message:
      onStoreUnavailable === 'deny'
        ? `${backend.id} has an exact limit, the shared quota store cannot be reached and its onStoreUnavailable is deny`
        : `${backend.id} is at this proxy's fleet share (the shared quota store cannot be reached)`,
    retryAfterMs: 1000,
    code: 'capacity_shed',
  };
}
