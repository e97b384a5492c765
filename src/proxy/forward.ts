// Serves one routed request: tries the decision's backends in order with
// retries, backoff and timeouts, then answers the client buffered or as an
// SSE stream. Failover happens only before the first byte reaches the client.
import { isUtf8 } from 'node:buffer';
import { EventEmitter } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { costUsd } from '../routing/cost.js';
import type { Attempt } from '../routing/select.js';
import type { CompiledBackend, CompiledRoute } from '../routing/table.js';
import { requestAttributes, responseAttributes } from '../telemetry/genai.js';
import { NON_RECORDING_SPAN } from '../telemetry/tracing.js';
import type { AttemptOutcome } from './backend-live-state.js';
import { MissingCredentialError } from './credentials.js';
import { ProxyError, sendError } from './errors.js';
import { adapterFor } from './providers/index.js';
import type { Endpoint, OpenAIRequestBody, StreamTranslator, Usage } from './providers/types.js';
import { backoffDelayMs, parseRetryAfter } from './resilience/retry.js';
import type { ProxyRuntime } from './runtime.js';

export const RESPONSE_HEADERS = {
  route: 'x-modelroute-route',
  rule: 'x-modelroute-rule',
  backend: 'x-modelroute-backend',
  attempts: 'x-modelroute-attempts',
  cost: 'x-modelroute-cost-usd',
  overhead: 'x-modelroute-overhead-ms',
  difficulty: 'x-modelroute-difficulty',
  threshold: 'x-modelroute-threshold',
  tier: 'x-modelroute-tier',
} as const;

/** Upper bound on an upstream error body we read to report its message. */
const MAX_ERROR_BODY = 64 * 1024;
/** A translated SSE event carrying an upstream error (both adapters emit this form). */
const UPSTREAM_ERROR_EVENT = /(^|\n)data: ?\{"error"/;
/** Upper bound on a buffered upstream success body. */
const MAX_RESPONSE_BODY = 64 * 1024 * 1024;

/**
 * Besides upstream outcomes, an attempt may end before any call:
 * - `not-usable`: the backend cannot be used right now (missing credentials, circuit open);
 * - `unsupported`: the request cannot be expressed for this backend's provider
 *   (e.g. `n > 1` for anthropic). Another backend may serve it; this one never will.
 */
type FailureKind = Exclude<AttemptOutcome, 'success'> | 'not-usable' | 'unsupported';

interface Failure {
  kind: FailureKind;
  backendId: string;
  message: string;
  status?: number;
  retryAfterMs?: number;
}

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  endpoint: Endpoint;
  body: OpenAIRequestBody;
  stream: boolean;
  /** Whether the client asked for usage in the stream itself. */
  clientWantsUsage: boolean;
  route: CompiledRoute;
  ruleName: string | undefined;
  attempts: Attempt[];
  estimatedPromptTokens: number;
  /** Extra response headers decided while routing (difficulty, tier). */
  routingHeaders: Record<string, string>;
  /** process.hrtime.bigint() when the request arrived. */
  arrivedAt: bigint;
  parentSpan: Span;
}

/** Time spent waiting on upstreams or sleeping, which is not proxy overhead. */
class WaitClock {
  private waitedNs = 0n;
  private since: bigint | undefined;
  start(): void {
    this.since = process.hrtime.bigint();
  }
  stop(): void {
    if (this.since !== undefined) this.waitedNs += process.hrtime.bigint() - this.since;
    this.since = undefined;
  }
  overheadMs(arrivedAt: bigint): string {
    const elapsed = process.hrtime.bigint() - arrivedAt;
    return (Number(elapsed - this.waitedNs) / 1e6).toFixed(3);
  }
  overheadSeconds(arrivedAt: bigint): number {
    const elapsed = process.hrtime.bigint() - arrivedAt;
    return Number(elapsed - this.waitedNs) / 1e9;
  }
}

/**
 * Whether the client went away, and who to tell. A flag and a listener set
 * rather than an AbortController: one per request, and an AbortSignal with
 * its listeners is measurably dearer on the hot path.
 */
class ClientGone {
  aborted = false;
  private readonly listeners = new Set<() => void>();

  /** Calls `listener` once when the client goes (at once if it has); returns how to stop listening. */
  listen(listener: () => void): () => void {
    if (this.aborted) {
      listener();
      return () => {};
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const listener of this.listeners) listener();
    this.listeners.clear();
  }
}

function sleep(ms: number, gone: ClientGone): Promise<void> {
  return new Promise((resolve) => {
    const stop = gone.listen(() => {
      clearTimeout(timer);
      resolve();
    });
    const timer = setTimeout(() => {
      stop();
      resolve();
    }, ms);
  });
}

function classifyStatus(status: number): FailureKind {
  if (status === 429) return 'rate-limited';
  if (status === 408 || status === 504) return 'timeout';
  if (status >= 500) return 'server-error';
  return 'client-error';
}

const RETRY_ON_KIND: Partial<Record<FailureKind, CompiledRoute['retries']['retryOn'][number]>> = {
  'connect-failure': 'connect-failure',
  timeout: 'timeout',
  'rate-limited': 'rate-limited',
  'server-error': 'server-error',
  'stream-broken': 'server-error',
};

function isRetryable(failure: Failure, route: CompiledRoute): boolean {
  // Another backend may serve what this one could not.
  if (failure.kind === 'not-usable' || failure.kind === 'unsupported') return true;
  const reason = RETRY_ON_KIND[failure.kind];
  return reason !== undefined && route.retries.retryOn.includes(reason);
}

function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  if (typeof e.code === 'string') return e.code;
  if (e.cause && typeof e.cause.code === 'string') return e.cause.code;
  return undefined;
}

function networkFailure(err: unknown, backendId: string, timedOut: string | undefined): Failure {
  if (timedOut)
    return { kind: 'timeout', backendId, message: `${backendId} timed out (${timedOut})` };
  const code = errorCode(err) ?? '';
  if (
    [
      'ECONNREFUSED',
      'ENOTFOUND',
      'EAI_AGAIN',
      'EHOSTUNREACH',
      'UND_ERR_CONNECT_TIMEOUT',
      'ECONNRESET',
    ].includes(code) ||
    /connect/i.test(code)
  ) {
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

/**
 * What aborts one upstream call. undici takes an EventEmitter with `aborted`
 * as a signal; an AbortController's AbortSignal, with its EventTarget
 * listeners, cost ~1.5% of the proxy's CPU in profiles, for an abort that
 * almost never happens. undici then fails the call with RequestAbortedError.
 */
class AttemptAbort extends EventEmitter {
  aborted = false;

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.emit('abort');
  }
}

/** Timers for one attempt; `signal` aborts the upstream call when one fires or the client leaves. */
class AttemptTimers {
  readonly signal = new AttemptAbort();
  reason: string | undefined;
  private readonly firstToken: NodeJS.Timeout;
  private readonly total: NodeJS.Timeout;
  private readonly stopListening: () => void;

  constructor(firstTokenMs: number, totalMs: number, clientGone: ClientGone) {
    this.firstToken = setTimeout(
      () => this.fire(`no data within ${firstTokenMs} ms`),
      firstTokenMs,
    );
    this.total = setTimeout(() => this.fire(`no complete answer within ${totalMs} ms`), totalMs);
    this.stopListening = clientGone.listen(() => this.signal.abort());
  }

  /**
   * Restarts the first-token timer; while streaming it doubles as the idle
   * timer between chunks. `refresh()` reuses the timer instead of a
   * clearTimeout + setTimeout pair on every chunk.
   */
  armFirstToken(): void {
    this.firstToken.refresh();
  }

  private fire(reason: string): void {
    this.reason = reason;
    this.signal.abort();
  }

  clear(): void {
    clearTimeout(this.firstToken);
    clearTimeout(this.total);
    this.stopListening();
  }
}

export async function forward(runtime: ProxyRuntime, request: ForwardRequest): Promise<void> {
  const { route, attempts, res } = request;
  const wait = new WaitClock();
  const clientGone = new ClientGone();
  res.on('close', () => {
    if (!res.writableFinished) clientGone.abort();
  });
  const routeDeadline =
    route.timeouts.totalMs !== undefined ? runtime.now() + route.timeouts.totalMs : Infinity;
  const maxTries = Math.max(attempts.length, 1 + route.retries.attempts);
  const failures: Failure[] = [];
  let previous: string | undefined;

  for (let i = 0; i < maxTries && !clientGone.aborted; i++) {
    const attempt = attempts[i % attempts.length] as Attempt;
    const backendId = attempt.backend.id;
    // A backend that could not express this request will not on a second try either.
    if (failures.some((f) => f.backendId === backendId && f.kind === 'unsupported')) continue;
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
            runtime.rng,
          ),
          retryAfter,
        );
        if (runtime.now() + delay >= routeDeadline) break;
        wait.start();
        await sleep(delay, clientGone);
        wait.stop();
        if (clientGone.aborted) break;
      }
      if (!runtime.live.available(backendId)) {
        failures.push({
          kind: 'not-usable',
          backendId,
          message: `${backendId} became unavailable (circuit open or limit reached)`,
        });
        continue;
      }
      runtime.metrics.retry({ route: route.id, backend: backendId, reason: last.kind });
      if (previous !== undefined && previous !== backendId) {
        runtime.metrics.fallback({ route: route.id, from: previous, to: backendId });
      }
    }
    previous = backendId;
    const remaining = routeDeadline - runtime.now();
    if (remaining <= 0) {
      failures.push({
        kind: 'timeout',
        backendId,
        message: `route ${route.id} total timeout reached`,
      });
      break;
    }
    const outcome = await tryBackend(
      runtime,
      request,
      attempt.backend,
      i + 1,
      remaining,
      wait,
      clientGone,
    );
    if (outcome === 'done') return;
    failures.push(outcome);
    runtime.logger.warn('upstream attempt failed', {
      route: route.id,
      backend: backendId,
      attempt: i + 1,
      kind: outcome.kind,
      status: outcome.status,
      message: outcome.message,
    });
  }

  if (clientGone.aborted) return;
  sendError(res, exhaustedError(route, failures), {
    [RESPONSE_HEADERS.route]: route.id,
    [RESPONSE_HEADERS.attempts]: String(
      failures.filter((f) => f.kind !== 'not-usable' && f.kind !== 'unsupported').length,
    ),
    [RESPONSE_HEADERS.overhead]: wait.overheadMs(request.arrivedAt),
  });
}

function exhaustedError(route: CompiledRoute, failures: Failure[]): ProxyError {
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
    return new ProxyError(
      status,
      last.message,
      status === 401 || status === 403 ? 'authentication_error' : 'invalid_request_error',
      'upstream_rejected',
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

async function tryBackend(
  runtime: ProxyRuntime,
  request: ForwardRequest,
  backend: CompiledBackend,
  attemptNumber: number,
  remainingRouteMs: number,
  wait: WaitClock,
  clientGone: ClientGone,
): Promise<'done' | Failure> {
  const { route, endpoint, stream, res } = request;
  const adapter = adapterFor(backend.provider);
  if (!adapter.supports(endpoint)) {
    return {
      kind: 'not-usable',
      backendId: backend.id,
      message: `${backend.provider} backends do not serve /v1/${endpoint === 'chat' ? 'chat/completions' : endpoint}`,
    };
  }
  let apiKey: string | undefined;
  try {
    apiKey = runtime.credentials.apiKeyFor(backend);
  } catch (err) {
    if (err instanceof MissingCredentialError) {
      runtime.logger.error('missing credentials', { backend: backend.id, message: err.message });
      return {
        kind: 'not-usable',
        backendId: backend.id,
        message: 'its API key is not available to the proxy',
      };
    }
    throw err;
  }
  const built = adapter.buildRequest({ backend, endpoint, body: request.body, stream, apiKey });
  if (!built.ok) {
    return {
      kind: 'unsupported',
      backendId: backend.id,
      message: built.message,
      status: built.status,
    };
  }
  const upstream = built.request;
  const target = runtime.targets.resolve(upstream.url);
  const firstTokenMs = route.timeouts.firstTokenMs ?? backend.timeouts.firstTokenMs;
  const connectMs = route.timeouts.connectMs ?? backend.timeouts.connectMs;
  const totalMs = Math.min(backend.timeouts.totalMs, remainingRouteMs);
  const timers = new AttemptTimers(firstTokenMs, totalMs, clientGone);
  const ticket = runtime.live.begin(backend.id, request.estimatedPromptTokens);
  const span = runtime.tracing.enabled
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
  const started = runtime.now();
  const finish = (kind: AttemptOutcome, extra: { ttftMs?: number; tokens?: number } = {}): void => {
    const latencyMs = runtime.now() - started;
    ticket.finish(kind, { latencyMs, ...extra });
    runtime.metrics.attemptCompleted(
      { route: route.id, backend: backend.id, outcome: kind },
      latencyMs / 1000,
    );
  };
  const fail = (failure: Failure): Failure => {
    finish(
      failure.kind === 'not-usable' || failure.kind === 'unsupported'
        ? 'client-error'
        : failure.kind,
    );
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    span.setAttribute('error.type', failure.kind);
    span.end();
    timers.clear();
    return failure;
  };

  wait.start();
  let response;
  try {
    response = await runtime.pools.get(target.origin, connectMs).request({
      path: target.path,
      method: upstream.method,
      headers: upstream.headers,
      body: upstream.body,
      signal: timers.signal,
    });
  } catch (err) {
    wait.stop();
    if (clientGone.aborted)
      return fail({ kind: 'client-error', backendId: backend.id, message: 'client went away' });
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
    const kind = classifyStatus(status);
    const retryAfterMs = parseRetryAfter(
      headerValue(response.headers['retry-after']),
      runtime.now(),
    );
    return fail({
      kind,
      backendId: backend.id,
      status,
      message: `HTTP ${status}: ${adapter.errorMessage(status, text)}`,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }

  const baseHeaders = (): Record<string, string> => ({
    [RESPONSE_HEADERS.route]: route.id,
    ...(request.ruleName ? { [RESPONSE_HEADERS.rule]: request.ruleName } : {}),
    [RESPONSE_HEADERS.backend]: backend.id,
    [RESPONSE_HEADERS.attempts]: String(attemptNumber),
    ...request.routingHeaders,
  });

  if (!stream) {
    let raw: Buffer;
    try {
      raw = await readBuffer(response.body, MAX_RESPONSE_BODY);
    } catch (err) {
      wait.stop();
      return fail(networkFailure(err, backend.id, timers.reason));
    }
    wait.stop();
    timers.clear();
    const text = raw.toString('utf8');
    let result;
    try {
      result = adapter.parseResponse({ endpoint, body: text, responseModel: request.route.model });
    } catch (err) {
      return fail({
        kind: 'server-error',
        backendId: backend.id,
        message: `unreadable response: ${(err as Error).message}`,
      });
    }
    const cost = result.usage ? costUsd(backend.pricing, usageTokens(result.usage)) : 0;
    // An adapter that passed the body through (OpenAI's dialect) hands back
    // the very string it got: send the upstream bytes as they came rather
    // than encode the text again, unless decoding them replaced invalid UTF-8.
    const body = result.body === text && isUtf8(raw) ? raw : result.body;
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': typeof body === 'string' ? Buffer.byteLength(body) : body.length,
      ...baseHeaders(),
      [RESPONSE_HEADERS.cost]: cost.toFixed(8),
      [RESPONSE_HEADERS.overhead]: wait.overheadMs(request.arrivedAt),
    });
    res.end(body);
    // Bookkeeping once the answer is on its way: the client need not wait for it.
    finish('success', { tokens: result.usage?.totalTokens });
    account(runtime, route, backend, result.usage, cost, span);
    span.end();
    runtime.metrics.overhead(wait.overheadSeconds(request.arrivedAt));
    return 'done';
  }

  // Streaming: hold the client until the first translated bytes exist, so a
  // backend that fails before its first token can still be failed over.
  const translator: StreamTranslator & { complete?: boolean } = adapter.createStreamTranslator({
    endpoint,
    clientWantsUsage: request.clientWantsUsage,
    responseModel: route.model,
  });
  let committed = false;
  let ttftMs: number | undefined;
  try {
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      timers.armFirstToken();
      const out = translator.push(chunk);
      if (out.length === 0) continue;
      if (!committed && UPSTREAM_ERROR_EVENT.test(out)) {
        // The backend failed before producing anything: still time to fail over.
        wait.stop();
        return fail({
          kind: 'server-error',
          backendId: backend.id,
          message: `stream began with an error: ${out.slice(0, 300).trim()}`,
        });
      }
      let first = false;
      if (!committed) {
        wait.stop();
        ttftMs = runtime.now() - started;
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
          trailer: RESPONSE_HEADERS.cost,
          ...baseHeaders(),
          [RESPONSE_HEADERS.overhead]: wait.overheadMs(request.arrivedAt),
        });
        committed = true;
        first = true;
        wait.start();
      }
      const flushed = res.write(out);
      // Recorded once the first token is on its way to the client, not before.
      if (first && ttftMs !== undefined)
        runtime.metrics.timeToFirstToken({ route: route.id, backend: backend.id }, ttftMs / 1000);
      if (!flushed) await waitForDrain(res, clientGone);
    }
  } catch (err) {
    wait.stop();
    if (clientGone.aborted) {
      if (committed) res.destroy();
      return fail({ kind: 'client-error', backendId: backend.id, message: 'client went away' });
    }
    const failure = timers.reason
      ? {
          kind: 'timeout' as const,
          backendId: backend.id,
          message: `${backend.id} stream timed out (${timers.reason})`,
        }
      : {
          kind: 'stream-broken' as const,
          backendId: backend.id,
          message: `${backend.id} stream broke: ${errorCode(err) ?? (err as Error).message}`,
        };
    if (!committed) return fail(failure);
    fail(failure);
    endBrokenStream(res, failure.message);
    return 'done';
  }
  wait.stop();
  timers.clear();
  const { tail, usage } = translator.end();
  const complete = translator.complete !== false;
  if (!complete) {
    const failure: Failure = {
      kind: 'stream-broken',
      backendId: backend.id,
      message: `${backend.id} ended the stream without finishing it`,
    };
    if (!committed) return fail(failure);
    fail(failure);
    if (tail) res.write(tail);
    endBrokenStream(res, failure.message);
    return 'done';
  }
  const cost = usage ? costUsd(backend.pricing, usageTokens(usage)) : 0;
  finish('success', { ...(ttftMs !== undefined ? { ttftMs } : {}), tokens: usage?.totalTokens });
  account(runtime, route, backend, usage, cost, span);
  span.end();
  if (!committed) {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      trailer: RESPONSE_HEADERS.cost,
      ...baseHeaders(),
      [RESPONSE_HEADERS.overhead]: wait.overheadMs(request.arrivedAt),
    });
  }
  res.addTrailers({ [RESPONSE_HEADERS.cost]: cost.toFixed(8) });
  res.end(tail);
  return 'done';
}

/** A stream that broke after the client got bytes ends with an explicit error event, never a clean [DONE]. */
function endBrokenStream(res: ServerResponse, message: string): void {
  if (res.writableEnded) return;
  const event = {
    error: {
      message: `upstream stream interrupted: ${message}`,
      type: 'upstream_error',
      param: null,
      code: 'stream_interrupted',
    },
  };
  res.end(`event: error\ndata: ${JSON.stringify(event)}\n\n`);
}

function account(
  runtime: ProxyRuntime,
  route: CompiledRoute,
  backend: CompiledBackend,
  usage: Usage | undefined,
  cost: number,
  span: Span,
): void {
  if (usage) {
    runtime.metrics.tokens(
      { route: route.id, backend: backend.id },
      usage.promptTokens,
      usage.completionTokens,
    );
    runtime.metrics.cost({ route: route.id, backend: backend.id }, cost);
    runtime.usage.cost(route.id, cost);
  }
  if (!span.isRecording()) return; // tracing off: spare building the attributes
  span.setAttributes(
    responseAttributes({
      responseModel: backend.model,
      ...(usage
        ? { inputTokens: usage.promptTokens, outputTokens: usage.completionTokens, costUsd: cost }
        : {}),
    }),
  );
}

function usageTokens(usage: Usage): { input: number; output: number; cachedInput?: number } {
  return {
    input: usage.promptTokens,
    output: usage.completionTokens,
    ...(usage.cachedPromptTokens !== undefined ? { cachedInput: usage.cachedPromptTokens } : {}),
  };
}

function numberOrUndefined(value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined;
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

async function readText(body: Readable, limit: number): Promise<string> {
  return (await readBuffer(body, limit)).toString('utf8');
}

/**
 * Reads a whole upstream body. Plain 'data'/'end' events: an async iterator
 * over the stream costs a promise per chunk and showed up in CPU profiles.
 */
function readBuffer(body: Readable, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        body.destroy();
        reject(new Error(`response larger than ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    // Destroyed without an error (e.g. aborted quietly): no 'end' will come.
    const onClose = (): void => onError(new Error('response body closed before its end'));
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

function waitForDrain(res: ServerResponse, gone: ClientGone): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
    if (gone.aborted) done();
  });
}
