// What went wrong with one attempt, whose fault it was, and what the client
// is told when every attempt failed. Only the backend's own failures may
// count against its health: a client that left, stalled or spoke HTTP/1.0
// says nothing about the backend, while a backend refusing a request the
// proxy formed itself (its path 404s, its key is revoked or missing) does.
import type { CompiledRoute } from '../../routing/table.js';
import type { AttemptOutcome } from '../backend-live-state.js';
import { ProxyError } from '../errors.js';

/**
 * Besides upstream outcomes, an attempt may end before any call, or because of the client:
 * - `not-usable`: the backend cannot be used right now (circuit open, limit reached,
 *   endpoint not served by its provider); nothing is recorded against it;
 * - `unsupported`: the request cannot be expressed for this backend's provider
 *   (e.g. `n > 1` for anthropic). Another backend may serve it; this one never will;
 * - `client-gone`: the client left, stopped reading or could not be written to.
 */
export type FailureKind =
  Exclude<AttemptOutcome, 'success'> | 'not-usable' | 'unsupported' | 'client-gone';

export interface Failure {
  kind: FailureKind;
  backendId: string;
  message: string;
  status?: number;
  retryAfterMs?: number;
  /** The error code the client sees if this failure is the last. */
  code?: string;
}

/**
 * Upstream statuses that blame the client's request. Everything else the
 * backend answers with is about the backend: the proxy formed the URL, the
 * model name and the credential, so a 404 (path or model not found), 401/403
 * (key refused), 405 or 410 means the backend is misconfigured, not that the
 * client asked for something wrong.
 */
const CLIENT_FAULT_STATUSES: ReadonlySet<number> = new Set([400, 409, 413, 415, 422]);

/** The failure kind of an upstream HTTP status (>= 300). */
export function classifyStatus(status: number): FailureKind {
  if (status === 429) return 'rate-limited';
  if (status === 408 || status === 504) return 'timeout';
  if (status >= 500) return 'server-error';
  if (CLIENT_FAULT_STATUSES.has(status)) return 'client-error';
  return 'backend-rejected';
}

/** The client-facing code for a backend that refused a request with `status`. */
export function rejectionCode(status: number | undefined): string {
  return status === 401 || status === 403
    ? 'upstream_credential_refused'
    : 'upstream_misconfigured';
}

/**
 * What the attempt records against the backend; undefined when nothing is.
 * Rejections are told apart by status, so the controller can name the cause
 * in the backend's health (CredentialRefused, EndpointPathNotFound).
 */
export function outcomeOf(kind: FailureKind, status?: number): AttemptOutcome | undefined {
  switch (kind) {
    case 'backend-rejected':
      if (status === 401 || status === 403) return 'auth-refused';
      if (status === 404 || status === 405 || status === 410) return 'endpoint-not-found';
      return kind;
    case 'not-usable':
    case 'unsupported':
      return undefined;
    case 'client-gone':
      // Recorded as a client error: counted in the stats, never against health.
      return 'client-error';
    default:
      return kind;
  }
}

const RETRY_ON_KIND: Partial<Record<FailureKind, CompiledRoute['retries']['retryOn'][number]>> = {
  'connect-failure': 'connect-failure',
  timeout: 'timeout',
  'rate-limited': 'rate-limited',
  'server-error': 'server-error',
  'stream-broken': 'server-error',
};

/** Whether another attempt may follow this failure. */
export function isRetryable(failure: Failure, route: CompiledRoute): boolean {
  // Another backend may serve what this one could not (or would not).
  if (
    failure.kind === 'not-usable' ||
    failure.kind === 'unsupported' ||
    failure.kind === 'backend-rejected'
  )
    return true;
  const reason = RETRY_ON_KIND[failure.kind];
  return reason !== undefined && route.retries.retryOn.includes(reason);
}

/** Whether this backend must not be tried again for the same request. */
export function rulesOutBackend(failure: Failure): boolean {
  return failure.kind === 'unsupported' || failure.kind === 'backend-rejected';
}

/** Attempts that reached (or were meant to reach) an upstream, for the attempts header. */
export function countsAsAttempt(failure: Failure): boolean {
  return failure.kind !== 'not-usable' && failure.kind !== 'unsupported';
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e.code === 'string') return e.code;
  if (e.cause && typeof e.cause.code === 'string') return e.cause.code;
  return undefined;
}

/** A code or message for an error thrown while talking to an upstream. */
export function describeError(err: unknown): string {
  return errorCode(err) ?? (err instanceof Error ? err.message : String(err));
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ECONNRESET',
]);

export function networkFailure(
  err: unknown,
  backendId: string,
  timedOut: string | undefined,
): Failure {
  if (timedOut)
    return { kind: 'timeout', backendId, message: `${backendId} timed out (${timedOut})` };
  const code = errorCode(err) ?? '';
  if (CONNECT_CODES.has(code) || /connect/i.test(code)) {
    return {
      kind: 'connect-failure',
      backendId,
      message: `cannot connect to ${backendId} (${code || 'connection failed'})`,
    };
  }
  return {
    kind: 'server-error',
    backendId,
    message: `${backendId} failed: ${code || (err as Error).message}`,
  };
}

/** The error the client gets when no attempt succeeded. */
export function exhaustedError(route: CompiledRoute, failures: Failure[]): ProxyError {
  const last = failures[failures.length - 1];
  const summary = failures.map((f) => `${f.backendId}: ${f.message}`).join('; ');
  if (failures.length > 0 && failures.every((f) => f.kind === 'unsupported')) {
    // The request itself is the problem: no backend of this route can express it.
    return new ProxyError(
      failures[0]?.status ?? 400,
      `no backend of route ${route.id} supports this request: ${summary}`,
      'invalid_request_error',
      'unsupported_by_backends',
    );
  }
  if (last?.kind === 'client-error') {
    const status = last.status ?? 400;
    return new ProxyError(status, last.message, 'invalid_request_error', 'upstream_rejected');
  }
  if (last?.kind === 'backend-rejected') {
    // Never the upstream's 401/403 itself: the client's own key was fine, the
    // backend's (the operator's) was refused or is missing.
    return new ProxyError(
      502,
      `no backend of route ${route.id} could serve the request; the backends refused what the proxy sent them (their configuration or credentials, not your request): ${summary}`,
      'upstream_error',
      last.code ?? rejectionCode(last.status),
    );
  }
  if (failures.length > 0 && failures.every((f) => f.code === 'capacity_shed')) {
    // Only fleet limits stood in the way: the same request succeeds once a window frees a slot.
    const retryAfterMs = Math.min(...failures.map((f) => f.retryAfterMs ?? 1000));
    return new ProxyError(
      429,
      `every backend of route ${route.id} is at its fleet limit: ${summary}`,
      'rate_limit_error',
      'capacity_shed',
      null,
      { 'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))) },
    );
  }
  if (last?.kind === 'rate-limited') {
    const headers: Record<string, string> =
      last.retryAfterMs !== undefined
        ? { 'retry-after': String(Math.ceil(last.retryAfterMs / 1000)) }
        : {};
    return new ProxyError(
      429,
      `every backend of route ${route.id} is rate limited: ${summary}`,
      'rate_limit_error',
      'rate_limited',
      null,
      headers,
    );
  }
  if (failures.length > 0 && failures.every((f) => f.kind === 'timeout')) {
    return new ProxyError(
      504,
      `backends of route ${route.id} timed out: ${summary}`,
      'timeout_error',
      'upstream_timeout',
    );
  }
  return new ProxyError(
    503,
    `no backend of route ${route.id} could serve the request: ${summary}`,
    'service_unavailable',
    'backends_unavailable',
  );
}
