// Writes answers with the configured pacing: buffered JSON after latencyMs, SSE after ttftMs at tokensPerSecond, mid-stream cuts.
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import type { SimulatorBehavior } from './options.js';

const SSE_HEADERS: OutgoingHttpHeaders = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
};

/**
 * One pending timer per request, cleared when the response closes (client
 * abort or server close()), so nothing fires into a dead socket or keeps the
 * process alive.
 */
export class RequestTimer {
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(res: ServerResponse) {
    res.once('close', () => {
      this.closed = true;
      if (this.timer) clearTimeout(this.timer);
    });
  }

  after(ms: number, fn: () => void): void {
    if (this.closed) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.closed) fn();
    }, ms);
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  extraHeaders?: OutgoingHttpHeaders,
): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
  });
  res.end(body);
}

/** Sends a 200 JSON answer after latencyMs; with no latency it goes out synchronously. */
export function sendBuffered(
  res: ServerResponse,
  behavior: SimulatorBehavior,
  render: () => string,
): void {
  if (behavior.latencyMs <= 0) {
    sendJson(res, 200, render());
    return;
  }
  new RequestTimer(res).after(behavior.latencyMs, () => sendJson(res, 200, render()));
}

/** How a stream's text goes on the wire: SSE (UTF-8), or binary frames held in latin1 strings (AWS event stream). */
export interface StreamFormat {
  headers: OutgoingHttpHeaders;
  encoding: BufferEncoding;
}

const SSE_FORMAT: StreamFormat = { headers: SSE_HEADERS, encoding: 'utf8' };

/** A stream as pre-rendered SSE text: what precedes the tokens, one event per token, what follows them. */
export interface StreamPlan {
  head: string;
  tokens: string[];
  tail: string;
}

/**
 * Streams a plan. The head goes out together with the first token (as real
 * servers send the role chunk and the first content chunk back to back),
 * after ttftMs; later tokens follow at tokensPerSecond, scheduled against the
 * first token's time so timer lateness does not accumulate.
 */
export function sendStream(
  res: ServerResponse,
  behavior: SimulatorBehavior,
  plan: StreamPlan,
  format: StreamFormat = SSE_FORMAT,
): void {
  const { encoding } = format;
  const n = plan.tokens.length;
  const cut =
    behavior.cutAfterTokens !== undefined && behavior.cutAfterTokens <= n
      ? behavior.cutAfterTokens
      : undefined;
  const interval = behavior.tokensPerSecond > 0 ? 1000 / behavior.tokensPerSecond : 0;
  res.writeHead(200, format.headers);

  if (behavior.ttftMs <= 0 && interval === 0) {
    if (cut === undefined) res.end(plan.head + plan.tokens.join('') + plan.tail, encoding);
    else cutAfter(res, plan.head + plan.tokens.slice(0, cut).join(''), encoding);
    return;
  }

  // Headers now: a waiting client sees the 200 while the first token is "being generated".
  res.flushHeaders();
  const timer = new RequestTimer(res);
  let sent = 0;
  let firstTokenAt = 0;
  const limit = cut ?? n;

  const turn = (first: boolean): void => {
    let chunk = first ? plan.head : '';
    if (first) firstTokenAt = performance.now();
    const upto = interval === 0 ? limit : Math.min(limit, sent + 1);
    while (sent < upto) chunk += plan.tokens[sent++] as string;
    if (cut !== undefined && sent >= cut) {
      cutAfter(res, chunk, encoding);
    } else if (sent >= n) {
      res.end(chunk + plan.tail, encoding);
    } else {
      res.write(chunk, encoding);
      const due = firstTokenAt + sent * interval - performance.now();
      timer.after(Math.max(0, due), () => turn(false));
    }
  };

  if (behavior.ttftMs > 0) timer.after(behavior.ttftMs, () => turn(true));
  else turn(true);
}

/** Writes the last bytes, then kills the connection once they reached the kernel: no final chunk, no [DONE]. */
function cutAfter(res: ServerResponse, chunk: string, encoding: BufferEncoding): void {
  res.write(chunk, encoding, () => res.socket?.destroy());
}

/** One SSE event, OpenAI style (data only). */
export function dataEvent(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** One SSE event, Anthropic style (named). */
export function namedEvent(name: string, payload: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(payload)}\n\n`;
}
