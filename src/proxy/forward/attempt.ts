// One attempt against one backend: credentials, the upstream call, its
// status, then the buffered or streamed answer. Every way it can end is
// recorded once, against the backend only when the backend is to blame.
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import type { CompiledBackend } from '../../routing/table.js';
import { requestAttributes } from '../../telemetry/genai.js';
import { genAiCallLabels } from '../../telemetry/genai-metrics.js';
import { redactSecrets } from '../../telemetry/redact.js';
import { NON_RECORDING_SPAN } from '../../telemetry/tracing.js';
import type { AccessRecord } from '../access-log.js';
import type { AttemptOutcome } from '../backend-live-state.js';
import { CredentialsPendingError, MissingCredentialError } from '../credentials.js';
import { adapterFor } from '../../providers/registry.js';
import { CredentialUnavailableError } from '../../providers/auth/types.js';
import { BackendTlsError } from '../egress/backend-tls.js';
import { withBackendHeaders } from '../egress/upstream-headers.js';
import type { BuildResult, ProviderAdapter, UpstreamAuth } from '../../providers/types.js';
import { parseRetryAfter } from '../resilience/retry.js';
import type { ProxyRuntime } from '../runtime.js';
import type { UpstreamTarget } from '../upstream-target.js';
import { AttemptTimers, type ClientGone, type WaitClock } from './attempt-clocks.js';
import { genAiCall } from './account.js';
import { sendBuffered } from './buffered-response.js';
import { refusedByShare } from './share-admission.js';
import { admitExactBackend, type ExactLease } from './exact-admission.js';
import {
  classifyStatus,
  networkFailure,
  outcomeOf,
  rejectionCode,
  type Failure,
} from './failure.js';
import { RESPONSE_HEADERS, type ForwardRequest } from './request.js';
import { readText } from './read-upstream.js';
import { relayStream } from './stream-response.js';

/** Upper bound on an upstream error body we read to report its message. */
const MAX_ERROR_BODY = 64 * 1024;

/** Everything the response halves of an attempt share. */
export interface AttemptContext {
  runtime: ProxyRuntime;
  request: ForwardRequest;
  backend: CompiledBackend;
  adapter: ProviderAdapter;
  attemptNumber: number;
  started: number;
  timers: AttemptTimers;
  wait: WaitClock;
  clientGone: ClientGone;
  span: Span;
  /** Records a success (or an outcome) for the backend, once. */
  finish(kind: AttemptOutcome, extra?: { ttftMs?: number; tokens?: number }): void;
  /** Records a failure (against the backend only when it is to blame) and returns it. */
  fail(failure: Failure): Failure;
  baseHeaders(): Record<string, string>;
}

export async function tryBackend(
  runtime: ProxyRuntime,
  request: ForwardRequest,
  backend: CompiledBackend,
  attemptNumber: number,
  remainingRouteMs: number,
  wait: WaitClock,
  clientGone: ClientGone,
): Promise<'done' | Failure> {
  const { route, endpoint, stream } = request;
  // A failed request is attributed to the last backend it tried.
  request.tally.on.backend = backend.id;
  request.tally.on.model = backend.model;
  request.tally.fallback = backend.id !== request.attempts[0]?.backend.id;
  const adapter = adapterFor(backend.provider);
  if (!adapter.supports(endpoint)) {
    return {
      kind: 'not-usable',
      backendId: backend.id,
      message: `${backend.provider} backends do not serve /v1/${endpoint === 'chat' ? 'chat/completions' : endpoint}`,
    };
  }
  let auth: UpstreamAuth | undefined;
  let built: BuildResult;
  try {
    const pending = runtime.upstreamAuth.authFor(backend);
    // Cached credentials (the rule) cost no await; a token being fetched does.
    auth = pending instanceof Promise ? await pending : pending;
    const building = adapter.buildRequest({ backend, endpoint, body: request.body, stream, auth });
    built = building instanceof Promise ? await building : building;
  } catch (err) {
    return credentialFailure(runtime, request, backend, err);
  }
  if (!built.ok) {
    return {
      kind: 'unsupported',
      backendId: backend.id,
      message: built.message,
      status: built.status,
    };
  }
  const upstream = built.request;
  withBackendHeaders(backend, upstream.headers);
  const target = runtime.targets.resolve(upstream.url);
  const firstTokenMs = route.timeouts.firstTokenMs ?? backend.timeouts.firstTokenMs;
  const connectMs = route.timeouts.connectMs ?? backend.timeouts.connectMs;
  let pool;
  try {
    pool = runtime.pools.forBackend(backend, target.origin, connectMs);
  } catch (err) {
    return credentialFailure(runtime, request, backend, err);
  }
  const totalMs = Math.min(backend.timeouts.totalMs, remainingRouteMs);
  // Exact-mode limits are one store round trip per attempt; every other backend skips the await.
  let lease: ExactLease | undefined;
  if (backend.limits.enforcement === 'exact') {
    const admitted = await admitExactBackend(runtime, backend, request.estimatedTokens);
    if (typeof admitted !== 'function') return admitted;
    lease = admitted;
  }
  // Fleet shares (and exact keys without a store, which fall back to them).
  if (!lease || !runtime.quotas.store) {
    const refused = refusedByShare(runtime, backend, request.estimatedTokens);
    if (refused) return refused;
  }
  const timers = new AttemptTimers(firstTokenMs, totalMs, clientGone);
  const ticket = runtime.live.begin(backend.id, request.estimatedTokens, request.priority);
  const span = attemptSpan(runtime, request, backend, attemptNumber, target);
  const started = runtime.now();
  const finish: AttemptContext['finish'] = (kind, extra = {}) => {
    const latencyMs = runtime.now() - started;
    if (request.access) noteAttempt(request.access, backend, attemptNumber, extra.ttftMs);
    ticket.finish(kind, { latencyMs, ...extra });
    // Once: a store's release need not be idempotent.
    lease?.(extra.tokens);
    lease = undefined;
    runtime.metrics.attemptCompleted(
      { route: route.id, backend: backend.id, outcome: kind },
      latencyMs / 1000,
    );
    runtime.metrics.genAiOperation(
      genAiCallLabels(endpoint, backend),
      latencyMs / 1000,
      kind === 'success' ? undefined : kind,
    );
    runtime.tracing.genAi?.operation(
      genAiCall(request, backend, target.hostname),
      latencyMs / 1000,
      kind === 'success' ? undefined : kind,
    );
  };
  const fail = (failure: Failure): Failure => {
    finish(outcomeOf(failure.kind, failure.status) ?? 'client-error');
    // Upstream text may echo a key: spans leave the process too.
    span.setStatus({ code: SpanStatusCode.ERROR, message: redactSecrets(failure.message) });
    span.setAttribute('error.type', failure.kind);
    span.end();
    timers.clear();
    return failure;
  };
  const ctx: AttemptContext = {
    runtime,
    request,
    backend,
    adapter,
    attemptNumber,
    started,
    timers,
    wait,
    clientGone,
    span,
    finish,
    fail,
    baseHeaders: () => ({
      [RESPONSE_HEADERS.route]: route.id,
      ...(request.ruleName ? { [RESPONSE_HEADERS.rule]: request.ruleName } : {}),
      [RESPONSE_HEADERS.backend]: backend.id,
      [RESPONSE_HEADERS.attempts]: String(attemptNumber),
      ...request.routingHeaders,
    }),
  };

  // The caller's trace goes upstream: this attempt's span as the parent (or,
  // tracing off, the caller's own traceparent unchanged).
  runtime.tracing.inject(span, request.req.headers, upstream.headers);
  wait.start();
  let response;
  try {
    response = await pool.request({
      origin: target.origin,
      path: target.path,
      method: upstream.method,
      headers: upstream.headers,
      body: upstream.body,
      signal: timers.signal,
    });
  } catch (err) {
    wait.stop();
    if (clientGone.aborted)
      return fail({ kind: 'client-gone', backendId: backend.id, message: 'client went away' });
    return fail(networkFailure(err, backend.id, timers.reason));
  }

  const status = response.statusCode;
  span.setAttribute('http.response.status_code', status);
  if (status >= 300) {
    let text = '';
    try {
      text = await readText(response.body, MAX_ERROR_BODY);
    } catch {
      // the status alone tells enough
    }
    wait.stop();
    // A cloud token revoked before its expiry: the next attempt fetches a new one.
    if ((status === 401 || status === 403) && backend.auth !== undefined)
      runtime.upstreamAuth.refused(backend);
    const kind = classifyStatus(status);
    const retryAfterMs = parseRetryAfter(
      headerValue(response.headers['retry-after']),
      runtime.now(),
    );
    return fail({
      kind,
      backendId: backend.id,
      status,
      // Providers echo keys in errors: the message may reach clients, spans and logs.
      message: redactSecrets(`HTTP ${status}: ${adapter.errorMessage(status, text)}`),
      ...(kind === 'backend-rejected' ? { code: rejectionCode(status) } : {}),
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }

  return stream ? relayStream(ctx, response.body) : sendBuffered(ctx, response.body);
}

/**
 * No credential for the backend. Being delivered (delivered-credentials.ts)
 * is not the backend's fault: the client's 503 says so. Otherwise every
 * request it gets fails until the Secret is mounted or the token endpoint
 * answers: that is the backend's state, counted against its health like any
 * refusal, so routes fail over.
 */
function credentialFailure(
  runtime: ProxyRuntime,
  request: ForwardRequest,
  backend: CompiledBackend,
  err: unknown,
): Failure {
  if (
    !(err instanceof MissingCredentialError) &&
    !(err instanceof CredentialUnavailableError) &&
    !(err instanceof BackendTlsError)
  )
    throw err;
  if (err instanceof CredentialsPendingError)
    return { kind: 'not-usable', backendId: backend.id, message: err.message };
  const missing = err instanceof MissingCredentialError;
  const tls = err instanceof BackendTlsError;
  runtime.logger.error(
    missing ? 'missing credentials' : tls ? 'TLS settings unusable' : 'credentials unavailable',
    {
      backend: backend.id,
      message: err.message,
    },
  );
  runtime.live
    .begin(backend.id, request.estimatedTokens, request.priority)
    .finish('backend-rejected', { latencyMs: 0 });
  runtime.metrics.attemptCompleted(
    { route: request.route.id, backend: backend.id, outcome: 'backend-rejected' },
    0,
  );
  return {
    kind: 'backend-rejected',
    backendId: backend.id,
    message: missing
      ? `its ${backend.auth ? 'cloud credential' : 'API key'} is not available to the proxy (the Secret or key is missing)`
      : tls
        ? `its TLS settings cannot be used: ${err.message}`
        : `its cloud credential is not available to the proxy: ${err.message}`,
    code: missing
      ? 'upstream_credential_missing'
      : tls
        ? 'upstream_tls_unusable'
        : 'upstream_credential_unavailable',
  };
}

/** The attempt's CLIENT span, a child of the request's (none when tracing is off). */
function attemptSpan(
  runtime: ProxyRuntime,
  request: ForwardRequest,
  backend: CompiledBackend,
  attemptNumber: number,
  target: UpstreamTarget,
): Span {
  const { route, endpoint, stream } = request;
  return runtime.tracing.enabled
    ? runtime.tracing.tracer.startSpan(
        `${endpoint === 'chat' ? 'chat' : endpoint === 'completions' ? 'text_completion' : 'embeddings'} ${backend.model}`,
        {
          kind: SpanKind.CLIENT,
          attributes: requestAttributes({
            endpoint,
            provider: backend.provider,
            requestModel: backend.model,
            maxTokens: numberOrUndefined(
              request.body.max_completion_tokens ?? request.body.max_tokens,
            ),
            temperature: numberOrUndefined(request.body.temperature),
            topP: numberOrUndefined(request.body.top_p),
            stream,
            route: route.id,
            backend: backend.id,
            attempt: attemptNumber,
            serverAddress: target.hostname,
            serverPort: target.port,
          }),
        },
        trace.setSpan(context.active(), request.parentSpan),
      )
    : NON_RECORDING_SPAN;
}

/** The access log names the last attempt made: the one that served, or the last that failed. */
function noteAttempt(
  access: AccessRecord,
  backend: CompiledBackend,
  attemptNumber: number,
  ttftMs: number | undefined,
): void {
  access.attempts = attemptNumber;
  access.backend = backend.id;
  access.model = backend.model;
  access.ttftMs = ttftMs;
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
