// Serves one routed request: tries the decision's backends in order with
// retries, backoff and timeouts, then answers the client buffered or as an
// SSE stream. Failover happens only before the first byte reaches the client.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SpanKind, SpanStatusCode, context, trace, type Span } from '@opentelemetry/api';
import { costUsd } from '../routing/cost.js';
import type { Attempt } from '../routing/select.js';
import type { CompiledBackend, CompiledRoute } from '../routing/table.js';
import { requestAttributes, responseAttributes } from '../telemetry/genai.js';
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

type FailureKind = Exclude<AttemptOutcome, 'success'> | 'not-usable';

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
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
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
  if (failure.kind === 'not-usable') return true; // e.g. missing credentials: another backend may serve
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

/** Timers for one attempt; `signal` aborts the upstream call when one fires or the client leaves. */
class AttemptTimers {
  readonly controller = new AbortController();
  reason: string | undefined;
  private firstToken: NodeJS.Timeout | undefined;
  private total: NodeJS.Timeout | undefined;

  constructor(
    private readonly firstTokenMs: number,
    totalMs: number,
    clientGone: AbortSignal,
  ) {
    this.armFirstToken();
    this.total = setTimeout(() => this.fire(`no complete answer within ${totalMs} ms`), totalMs);
    if (clientGone.aborted) this.controller.abort();
    else clientGone.addEventListener('abort', () => this.controller.abort(), { once: true });
  }

  /** (Re)arms the first-token timer; while streaming it doubles as the idle timer between chunks. */
  armFirstToken(): void {
    clearTimeout(this.firstToken);
    this.firstToken = setTimeout(
      () => this.fire(`no data within ${this.firstTokenMs} ms`),
      this.firstTokenMs,
    );
  }

  private fire(reason: string): void {
    this.reason = reason;
    this.controller.abort();
  }

  clear(): void {
    clearTimeout(this.firstToken);
    clearTimeout(this.total);
  }
}

export async function forward(runtime: ProxyRuntime, request: ForwardRequest): Promise<void> {
  const { route, attempts, res } = request;
  const wait = new WaitClock();
  const clientGone = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) clientGone.abort();
  });
  const routeDeadline =
    route.timeouts.totalMs !== undefined ? runtime.now() + route.timeouts.totalMs : Infinity;
  const maxTries = Math.max(attempts.length, 1 + route.retries.attempts);
  const failures: Failure[] = [];
  let previous: string | undefined;

  for (let i = 0; i < maxTries && !clientGone.signal.aborted; i++) {
    const attempt = attempts[i % attempts.length] as Attempt;
    const backendId = attempt.backend.id;
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
        await sleep(delay, clientGone.signal);
        wait.stop();
        if (clientGone.signal.aborted) break;
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
      clientGone.signal,
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

  if (clientGone.signal.aborted) return;
  sendError(res, exhaustedError(route, failures), {
    [RESPONSE_HEADERS.route]: route.id,
    [RESPONSE_HEADERS.attempts]: String(failures.filter((f) => f.kind !== 'not-usable').length),
    [RESPONSE_HEADERS.overhead]: wait.overheadMs(request.arrivedAt),
  });
}

function exhaustedError(route: CompiledRoute, failures: Failure[]): ProxyError {
  const last = failures[failures.length - 1];
  const summary = failures.map((f) => `${f.backendId}: ${f.message}`).join('; ');
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
  clientGone: AbortSignal,
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
      kind: 'not-usable',
      backendId: backend.id,
      message: built.message,
      status: built.status,
    };
  }
  const upstream = built.request;
  const url = new URL(upstream.url);
  const firstTokenMs = route.timeouts.firstTokenMs ?? backend.timeouts.firstTokenMs;
  const connectMs = route.timeouts.connectMs ?? backend.timeouts.connectMs;
  const totalMs = Math.min(backend.timeouts.totalMs, remainingRouteMs);
  const timers = new AttemptTimers(firstTokenMs, totalMs, clientGone);
  const ticket = runtime.live.begin(backend.id, request.estimatedPromptTokens);
  const span = runtime.tracing.tracer.startSpan(
    `${endpoint === 'chat' ? 'chat' : endpoint === 'completions' ? 'text_completion' : 'embeddings'} ${backend.model}`,
    {
      kind: SpanKind.CLIENT,
      attributes: requestAttributes({
        endpoint,
        provider: backend.provider,
        requestModel: backend.model,
        maxTokens: numberOrUndefined(request.body.max_completion_tokens ?? request.body.max_tokens),
        temperature: numberOrUndefined(request.body.temperature),
        topP: numberOrUndefined(request.body.top_p),
        stream,
        route: route.id,
        backend: backend.id,
        attempt: attemptNumber,
        serverAddress: url.hostname,
        serverPort: url.port ? Number(url.port) : undefined,
      }),
    },
    trace.setSpan(context.active(), request.parentSpan),
  );
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
    finish(failure.kind === 'not-usable' ? 'client-error' : failure.kind);
    span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    span.setAttribute('error.type', failure.kind);
    span.end();
    timers.clear();
    return failure;
  };

  wait.start();
  let response;
  try {
    response = await runtime.pools.get(url.origin, connectMs).request({
      path: url.pathname + url.search,
      method: upstream.method,
      headers: upstream.headers,
      body: upstream.body,
      signal: timers.controller.signal,
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
    let text: string;
    try {
      text = await readText(response.body, MAX_RESPONSE_BODY);
    } catch (err) {
      wait.stop();
      return fail(networkFailure(err, backend.id, timers.reason));
    }
    wait.stop();
    timers.clear();
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
    finish('success', { tokens: result.usage?.totalTokens });
    account(runtime, route, backend, result.usage, cost, span);
    span.end();
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(result.body),
      ...baseHeaders(),
      [RESPONSE_HEADERS.cost]: cost.toFixed(8),
      [RESPONSE_HEADERS.overhead]: wait.overheadMs(request.arrivedAt),
    });
    res.end(result.body);
    runtime.metrics.overhead(Number(wait.overheadMs(request.arrivedAt)) / 1000);
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
      if (!committed) {
        wait.stop();
        ttftMs = runtime.now() - started;
        runtime.metrics.timeToFirstToken({ route: route.id, backend: backend.id }, ttftMs / 1000);
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
          trailer: RESPONSE_HEADERS.cost,
          ...baseHeaders(),
          [RESPONSE_HEADERS.overhead]: wait.overheadMs(request.arrivedAt),
        });
        committed = true;
        wait.start();
      }
      if (!res.write(out)) await waitForDrain(res, clientGone);
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
  }
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

async function readText(body: AsyncIterable<Buffer>, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) throw new Error(`response larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function waitForDrain(res: ServerResponse, gone: AbortSignal): Promise<void> {
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
