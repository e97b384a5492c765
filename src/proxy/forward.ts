// Serves one routed request: tries the decision's backends in order with
// retries, backoff and timeouts, then answers the client buffered or as an
// SSE stream. Failover happens only before the first byte reaches the client.
// The parts live in ./forward/: failure classification, the retry loop, one
// attempt, and the buffered and streamed answers.
import type { ProxyRuntime } from './runtime.js';
import { sendError } from './errors.js';
import { ClientGone, WaitClock, sleep } from './forward/attempt-clocks.js';
import { tryBackend } from './forward/attempt.js';
import { countsAsAttempt, exhaustedError } from './forward/failure.js';
import { RESPONSE_HEADERS, type ForwardRequest } from './forward/request.js';
import { runAttempts } from './forward/retry-loop.js';

export { RESPONSE_HEADERS, type ForwardRequest } from './forward/request.js';

export async function forward(runtime: ProxyRuntime, request: ForwardRequest): Promise<void> {
  const { route, attempts, res } = request;
  const wait = new WaitClock();
  const clientGone = new ClientGone();
  res.on('close', () => {
    if (!res.writableFinished) clientGone.abort();
  });

  const result = await runAttempts(route, attempts, {
    now: runtime.now,
    rng: runtime.rng,
    available: (backendId) => {
      if (runtime.live.available(backendId, request.priority)) return true;
      runtime.live.countRefusal(backendId, request.priority); // a retry wanted it
      return false;
    },
    clientGone: () => clientGone.aborted,
    sleep: async (ms) => {
      wait.start();
      await sleep(ms, clientGone);
      wait.stop();
    },
    onRetry: ({ backendId, previous, reason }) => {
      runtime.metrics.retry({ route: route.id, backend: backendId, reason });
      if (previous !== undefined && previous !== backendId)
        runtime.metrics.fallback({ route: route.id, from: previous, to: backendId });
    },
    attempt: async (attempt, attemptNumber, remainingMs) => {
      const outcome = await tryBackend(
        runtime,
        request,
        attempt.backend,
        attemptNumber,
        remainingMs,
        wait,
        clientGone,
      );
      if (outcome !== 'done')
        runtime.logger.warn('upstream attempt failed', {
          route: route.id,
          backend: attempt.backend.id,
          attempt: attemptNumber,
          kind: outcome.kind,
          status: outcome.status,
          message: outcome.message,
        });
      return outcome;
    },
  });
  if (result.done || clientGone.aborted) return;
  sendError(
    res,
    exhaustedError(route, result.failures),
    {
      [RESPONSE_HEADERS.route]: route.id,
      [RESPONSE_HEADERS.attempts]: String(result.failures.filter(countsAsAttempt).length),
      [RESPONSE_HEADERS.overhead]: wait.overheadMs(request.arrivedAt),
    },
    request.ingress?.errors,
  );
}
