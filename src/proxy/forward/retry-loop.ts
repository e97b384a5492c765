// The order of attempts for one request: the decision's backends in turn,
// then back round them with backoff while the route's retries and deadline
// allow. Pure control flow; what an attempt does is the caller's.
import type { Attempt } from '../../routing/select.js';
import type { CompiledRoute } from '../../routing/table.js';
import { backoffDelayMs } from '../resilience/retry.js';
import { isRetryable, rulesOutBackend, type Failure } from './failure.js';

export interface RetryLoopDeps {
  now: () => number;
  rng: () => number;
  /** Whether the backend may take an attempt now (circuit, limits). */
  available(backendId: string): boolean;
  /** Waits `ms`, or less if the client leaves. */
  sleep(ms: number): Promise<void>;
  clientGone(): boolean;
  /** Called before each attempt that follows a failure. */
  onRetry(info: { backendId: string; previous: string | undefined; reason: Failure['kind'] }): void;
  /** One attempt: 'done' once the client has its answer, else why it failed. */
  attempt(attempt: Attempt, attemptNumber: number, remainingMs: number): Promise<'done' | Failure>;
}

export type LoopResult = { done: true } | { done: false; failures: Failure[] };

export async function runAttempts(
  route: CompiledRoute,
  attempts: readonly Attempt[],
  deps: RetryLoopDeps,
): Promise<LoopResult> {
  const deadline =
    route.timeouts.totalMs !== undefined ? deps.now() + route.timeouts.totalMs : Infinity;
  const maxTries = Math.max(attempts.length, 1 + route.retries.attempts);
  const failures: Failure[] = [];
  let previous: string | undefined;

  for (let i = 0; i < maxTries && !deps.clientGone(); i++) {
    const attempt = attempts[i % attempts.length] as Attempt;
    const backendId = attempt.backend.id;
    // A backend that could not express (or refused) this request will not serve it on a second try.
    if (failures.some((f) => f.backendId === backendId && rulesOutBackend(f))) continue;
    const last = failures[failures.length - 1];
    if (last) {
      if (!isRetryable(last, route)) break;
      if (i >= attempts.length) {
        // Back to a backend that already failed this request: wait first.
        const sameBackendFailure = failures.filter((f) => f.backendId === backendId).pop();
        const retryAfter = sameBackendFailure?.retryAfterMs ?? 0;
        if (retryAfter > route.retries.maxBackoffMs) break; // it asked for longer than we may wait
        const delay = Math.max(
          backoffDelayMs(
            i - attempts.length + 1,
            route.retries.backoffMs,
            route.retries.maxBackoffMs,
            deps.rng,
          ),
          retryAfter,
        );
        if (deps.now() + delay >= deadline) break;
        await deps.sleep(delay);
        if (deps.clientGone()) break;
      }
      if (!deps.available(backendId)) {
        failures.push({
          kind: 'not-usable',
          backendId,
          message: `${backendId} became unavailable (circuit open or limit reached)`,
        });
        continue;
      }
      deps.onRetry({ backendId, previous, reason: last.kind });
    }
    previous = backendId;
    const remaining = deadline - deps.now();
    if (remaining <= 0) {
      failures.push({
        kind: 'timeout',
        backendId,
        message: `route ${route.id} total timeout reached`,
      });
      break;
    }
    const outcome = await deps.attempt(attempt, i + 1, remaining);
    if (outcome === 'done') return { done: true };
    failures.push(outcome);
  }
  return { done: false, failures };
}
