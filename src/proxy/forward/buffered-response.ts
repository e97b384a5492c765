// A non-streamed answer: read the whole upstream body, translate it, send it.
import { isUtf8 } from 'node:buffer';
import type { Readable } from 'node:stream';
import { costUsd } from '../../routing/cost.js';
import type { AttemptContext } from './attempt.js';
import { account, usageTokens } from './account.js';
import { captureBufferedAnswer } from './answer-capture.js';
import { cutOffIfStalled } from './client-stall.js';
import { networkFailure, type Failure } from './failure.js';
import { readBuffer } from './read-upstream.js';
import { RESPONSE_HEADERS } from './request.js';

/** Upper bound on a buffered upstream success body. */
const MAX_RESPONSE_BODY = 64 * 1024 * 1024;

export async function sendBuffered(ctx: AttemptContext, body: Readable): Promise<'done' | Failure> {
  const { runtime, request, backend, adapter, wait, timers, clientGone } = ctx;
  const { res, route, endpoint } = request;
  let raw: Buffer;
  try {
    raw = await readBuffer(body, MAX_RESPONSE_BODY);
  } catch (err) {
    wait.stop();
    if (clientGone.aborted)
      return ctx.fail({ kind: 'client-gone', backendId: backend.id, message: 'client went away' });
    return ctx.fail(networkFailure(err, backend.id, timers.reason));
  }
  wait.stop();
  timers.clear();
  const text = raw.toString('utf8');
  let result;
  /** The answer in the client's dialect, when it is not Chat Completions. */
  let translated: string | undefined;
  try {
    result = adapter.parseResponse({ endpoint, body: text, responseModel: route.model });
    translated = request.ingress?.answer(result.body, result.usage);
  } catch (err) {
    return ctx.fail({
      kind: 'server-error',
      backendId: backend.id,
      message: `unreadable response: ${(err as Error).message}`,
    });
  }
  const cost = result.usage ? costUsd(backend.pricing, usageTokens(result.usage)) : 0;
  // An adapter that passed the body through (OpenAI's dialect) hands back
  // the very string it got: send the upstream bytes as they came rather
  // than encode the text again, unless decoding them replaced invalid UTF-8.
  const out = translated ?? (result.body === text && isUtf8(raw) ? raw : result.body);
  res.writeHead(200, {
    'content-type': 'application/json',
    'content-length': typeof out === 'string' ? Buffer.byteLength(out) : out.length,
    ...ctx.baseHeaders(),
    [RESPONSE_HEADERS.cost]: cost.toFixed(8),
    [RESPONSE_HEADERS.overhead]: wait.overheadMs(request.arrivedAt),
  });
  res.end(out);
  cutOffIfStalled(res, runtime.limits.clientStallTimeoutMs);
  // Sampled for shadow judging: keep the answer the client got (after it is on its way).
  const capture = request.learning?.shadow?.capture;
  if (capture) {
    if (endpoint === 'chat') captureBufferedAnswer(capture, result.body);
    else capture.truncated = true;
    capture.servedBackendId = backend.id;
  }
  // Bookkeeping once the answer is on its way: the client need not wait for it.
  ctx.finish('success', { tokens: result.usage?.totalTokens });
  account(runtime, ctx.request, backend, result.usage, cost, ctx.span);
  ctx.span.end();
  runtime.metrics.overhead(wait.overheadSeconds(request.arrivedAt));
  return 'done';
}
