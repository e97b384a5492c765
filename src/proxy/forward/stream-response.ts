// A streamed answer: relay the upstream's events to the client as they come,
// holding the client until the first translated bytes exist so a backend
// that fails before its first token can still be failed over.
//
// The client's side fails in its own ways, none of them the backend's: it
// leaves, it stops reading (a slow reader), it speaks HTTP/1.0 (no chunked
// encoding, so no trailer). Those end that client's request and are recorded
// as client errors; only the backend's own failures count against its health.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { costUsd } from '../../routing/cost.js';
import { genAiCallLabels } from '../../telemetry/genai-metrics.js';
import { redactSecrets } from '../../telemetry/redact.js';
import type { IngressStream } from '../ingress/dialect.js';
import type { StreamTranslator } from '../../providers/types.js';
import type { AttemptContext } from './attempt.js';
import type { AttemptTimers, ClientGone } from './attempt-clocks.js';
import { account, usageTokens } from './account.js';
import { streamAnswerCapture } from './answer-capture.js';
import { describeError, type Failure } from './failure.js';
import { RESPONSE_HEADERS } from './request.js';

/** A translated SSE event carrying an upstream error (both adapters emit this form). */
const UPSTREAM_ERROR_EVENT = /(^|\n)data: ?\{"error"/;
/**
 * Text that may carry an upstream error in any form (`{ "error": …}`, an
 * error nested in a chunk): redacted before it reaches the client. Broader
 * than UPSTREAM_ERROR_EVENT on purpose; a false match only costs a redaction.
 */
const MAY_CARRY_ERROR = /"error"\s*:/;

/** Something went wrong writing to the client, not reading from the backend. */
class ClientSideError extends Error {}

/**
 * Whether the response can carry the cost as a trailer. Trailers need chunked
 * encoding, which HTTP/1.0 lacks: Node refuses the trailer header there, and
 * nginx talks HTTP/1.0 to upstreams by default (proxy_http_version).
 */
export function acceptsTrailers(req: IncomingMessage): boolean {
  return req.httpVersionMajor > 1 || (req.httpVersionMajor === 1 && req.httpVersionMinor >= 1);
}

/** The cost as an SSE comment: every SSE client skips it; a person or a script can read it. */
export function costComment(cost: number): string {
  return `: ${RESPONSE_HEADERS.cost}=${cost.toFixed(8)}\n\n`;
}

/**
 * Writes to the client with backpressure. A client that does not take bytes
 * for `stallMs` is cut off: the proxy holds at most one socket buffer for it,
 * never the rest of the stream, and the backend's idle timer is paused while
 * it waits, so the backend is not blamed for the client's pace.
 */
class ClientWriter {
  constructor(
    private readonly res: ServerResponse,
    private readonly timers: AttemptTimers,
    private readonly gone: ClientGone,
    private readonly stallMs: number,
  ) {}

  /** Resolves once the bytes are taken; throws ClientSideError if the client failed. */
  async write(data: string): Promise<void> {
    let flushed: boolean;
    try {
      flushed = this.res.write(data);
    } catch (err) {
      throw new ClientSideError(`cannot write to the client: ${describeError(err)}`);
    }
    if (flushed) return;
    this.timers.holdForClient();
    try {
      const outcome = await this.drain();
      if (outcome === 'stalled')
        throw new ClientSideError(`the client took no bytes for ${this.stallMs} ms`);
      if (outcome === 'gone') throw new ClientSideError('client went away');
    } finally {
      this.timers.resumeFromClient();
    }
  }

  private drain(): Promise<'drained' | 'stalled' | 'gone'> {
    const { res, timers, gone } = this;
    return new Promise((resolve) => {
      const done = (outcome: 'drained' | 'stalled' | 'gone') => {
        clearTimeout(timer);
        res.off('drain', onDrain);
        res.off('close', onClose);
        timers.signal.off('abort', onAbort);
        resolve(outcome);
      };
      const onDrain = () => done('drained');
      const onClose = () => done('gone');
      // The attempt's total timeout fired while the client was not reading.
      const onAbort = () => done(gone.aborted ? 'gone' : 'stalled');
      const timer = setTimeout(() => done('stalled'), this.stallMs);
      res.on('drain', onDrain);
      res.on('close', onClose);
      timers.signal.on('abort', onAbort);
      if (gone.aborted || timers.signal.aborted) onAbort();
    });
  }
}

export async function relayStream(ctx: AttemptContext, body: Readable): Promise<'done' | Failure> {
  const { runtime, request, backend, adapter, wait, timers, clientGone } = ctx;
  const { req, res, route, endpoint } = request;
  const translator: StreamTranslator & { complete?: boolean } = adapter.createStreamTranslator({
    endpoint,
    clientWantsUsage: request.clientWantsUsage,
    responseModel: route.model,
  });
  const trailers = acceptsTrailers(req);
  // Sampled for shadow judging: the content deltas the client gets, as it gets them.
  const capture = streamAnswerCapture(request.learning?.shadow?.capture, endpoint);
  const client = new ClientWriter(res, timers, clientGone, runtime.limits.clientStallTimeoutMs);
  // The client's dialect, when it is not Chat Completions: fed the OpenAI-shaped
  // events after the checks and the capture below have read them.
  const ingress = request.ingress?.openStream();
  let committed = false;
  let ttftMs: number | undefined;
  const commit = (): void => {
    try {
      // No Connection header of ours: Node answers keep-alive or close as the
      // client asked (a client's "Connection: close" is honoured), and closes
      // an HTTP/1.0 stream to mark its end.
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache',
        ...(trailers ? { trailer: RESPONSE_HEADERS.cost } : {}),
        ...ctx.baseHeaders(),
        [RESPONSE_HEADERS.overhead]: wait.overheadMs(request.arrivedAt),
      });
    } catch (err) {
      throw new ClientSideError(`cannot answer the client: ${describeError(err)}`);
    }
    committed = true;
  };

  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      timers.armFirstToken();
      let out = translator.push(chunk);
      if (out.length === 0) continue;
      const upstreamError = UPSTREAM_ERROR_EVENT.test(out);
      // Providers echo keys in error events; the client must not get them.
      if (MAY_CARRY_ERROR.test(out)) out = redactSecrets(out);
      if (!committed && upstreamError) {
        // The backend failed before producing anything: still time to fail over.
        wait.stop();
        return ctx.fail({
          kind: 'server-error',
          backendId: backend.id,
          message: `stream began with an error: ${out.slice(0, 300).trim()}`,
        });
      }
      let first = false;
      if (!committed) {
        wait.stop();
        ttftMs = runtime.now() - ctx.started;
        commit();
        first = true;
        wait.start();
      }
      capture?.push(out);
      const writing = client.write(ingress ? ingress.push(out) : out);
      // Recorded once the first token is on its way to the client, not before.
      if (first && ttftMs !== undefined) {
        runtime.metrics.timeToFirstToken({ route: route.id, backend: backend.id }, ttftMs / 1000);
        runtime.metrics.genAiTimeToFirstChunk(
          genAiCallLabels(request.endpoint, backend),
          ttftMs / 1000,
        );
      }
      await writing;
    }
  } catch (err) {
    wait.stop();
    if (err instanceof ClientSideError || clientGone.aborted || timers.clientFault) {
      return clientFailed(ctx, err instanceof ClientSideError ? err.message : 'client went away');
    }
    const failure: Failure = timers.reason
      ? {
          kind: 'timeout',
          backendId: backend.id,
          message: `${backend.id} stream timed out (${timers.reason})`,
        }
      : {
          kind: 'stream-broken',
          backendId: backend.id,
          message: `${backend.id} stream broke: ${describeError(err)}`,
        };
    if (!committed) return ctx.fail(failure);
    ctx.fail(failure);
    endBrokenStream(res, failure.message, ingress);
    return 'done';
  }
  wait.stop();
  timers.clear();
  const end = translator.end();
  const tail = MAY_CARRY_ERROR.test(end.tail) ? redactSecrets(end.tail) : end.tail;
  if (translator.complete === false) {
    const failure: Failure = {
      kind: 'stream-broken',
      backendId: backend.id,
      message: `${backend.id} ended the stream without finishing it`,
    };
    if (!committed) return ctx.fail(failure);
    ctx.fail(failure);
    if (tail) res.write(ingress ? ingress.push(tail) : tail);
    endBrokenStream(res, failure.message, ingress);
    return 'done';
  }
  const cost = end.usage ? costUsd(backend.pricing, usageTokens(end.usage)) : 0;
  ctx.finish('success', {
    ...(ttftMs !== undefined ? { ttftMs } : {}),
    tokens: end.usage?.totalTokens,
  });
  account(runtime, ctx.request, backend, end.usage, cost, ctx.span, ttftMs);
  ctx.span.end();
  // Only a stream that ended whole names its server: a broken one is not judged.
  capture?.finish(tail, backend.id);
  try {
    if (!committed) commit();
    if (trailers) res.addTrailers({ [RESPONSE_HEADERS.cost]: cost.toFixed(8) });
    else res.write(costComment(cost));
    res.end(ingress ? ingress.end(tail, end.usage) : tail);
  } catch {
    // The backend served the request; the client could not take the end of it.
    res.destroy();
  }
  return 'done';
}

/** The client failed (left, stalled, could not be written to): cut it off, blame nobody upstream. */
function clientFailed(ctx: AttemptContext, message: string): Failure {
  ctx.request.res.destroy();
  ctx.clientGone.abort();
  return ctx.fail({ kind: 'client-gone', backendId: ctx.backend.id, message });
}

/** A stream that broke after the client got bytes ends with an explicit error event, never a clean [DONE]. */
function endBrokenStream(res: ServerResponse, message: string, ingress?: IngressStream): void {
  if (res.writableEnded) return;
  if (ingress) {
    res.end(ingress.broken(`upstream stream interrupted: ${redactSecrets(message)}`));
    return;
  }
  const event = {
    error: {
      message: `upstream stream interrupted: ${redactSecrets(message)}`,
      type: 'upstream_error',
      param: null,
      code: 'stream_interrupted',
    },
  };
  res.end(`event: error\ndata: ${JSON.stringify(event)}\n\n`);
}
