// Sends requests to one path: one at a time, streamed (time to first byte), or open-loop at a fixed rate.
import { Pool } from 'undici';
import { LatencySamples } from './histogram.js';

/** A request timed out after this long counts as a timeout. */
const REQUEST_TIMEOUT_MS = 10_000;
/** In-flight requests beyond this are not sent (counted as dropped): bounds memory if a path stalls. */
const MAX_IN_FLIGHT = 5_000;

export type PathName = 'direct' | 'proxy' | 'floor' | 'peer';

export interface Target {
  name: PathName;
  origin: string;
  path: string;
  headers: Record<string, string>;
  buffered: string;
  stream: string;
}

export interface Outcome {
  ok: boolean;
  failure?: 'status' | 'timeout' | 'error';
  status?: number;
  message?: string;
  /** When the first body byte arrived (streams: the first token). */
  firstByteNs?: bigint;
  endNs: bigint;
  headers?: Record<string, string | string[] | undefined>;
}

export class ErrorCounts {
  status = 0;
  timeout = 0;
  error = 0;
  dropped = 0;
  /** A few distinct messages, for the report. */
  readonly examples = new Set<string>();

  add(outcome: Outcome): void {
    if (outcome.ok) return;
    this[outcome.failure ?? 'error']++;
    if (this.examples.size < 3 && outcome.message) this.examples.add(outcome.message);
  }

  get total(): number {
    return this.status + this.timeout + this.error + this.dropped;
  }

  toJSON() {
    return {
      total: this.total,
      status: this.status,
      timeout: this.timeout,
      error: this.error,
      dropped: this.dropped,
      ...(this.examples.size > 0 ? { examples: [...this.examples] } : {}),
    };
  }
}

export class Client {
  readonly pool: Pool;

  constructor(readonly target: Target) {
    this.pool = new Pool(target.origin, {
      connections: 512,
      pipelining: 1,
      keepAliveTimeout: 60_000,
      headersTimeout: REQUEST_TIMEOUT_MS,
      bodyTimeout: REQUEST_TIMEOUT_MS,
    });
  }

  /** One request; the body is read to its end. Never throws. */
  async send(stream: boolean): Promise<Outcome> {
    try {
      const res = await this.pool.request({
        path: this.target.path,
        method: 'POST',
        headers: this.target.headers,
        body: stream ? this.target.stream : this.target.buffered,
      });
      let firstByteNs: bigint | undefined;
      let size = 0;
      let text = '';
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        if (firstByteNs === undefined && chunk.length > 0) firstByteNs = process.hrtime.bigint();
        size += chunk.length;
        if (res.statusCode !== 200 && text.length < 300) text += chunk.toString('utf8');
      }
      const endNs = process.hrtime.bigint();
      if (res.statusCode !== 200)
        return {
          ok: false,
          failure: 'status',
          status: res.statusCode,
          message: `HTTP ${res.statusCode}: ${text.slice(0, 200)}`,
          endNs,
        };
      if (size === 0) return { ok: false, failure: 'error', message: 'empty body', endNs };
      return { ok: true, status: 200, firstByteNs, endNs, headers: res.headers };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const timeout = code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT';
      return {
        ok: false,
        failure: timeout ? 'timeout' : 'error',
        message: `${typeof code === 'string' ? `${code}: ` : ''}${(err as Error).message}`,
        endNs: process.hrtime.bigint(),
      };
    }
  }

  close(): Promise<void> {
    return this.pool.destroy();
  }
}

export interface OpenLoopResult {
  sent: number;
  completed: number;
  /** Wall time from the first scheduled send to the last reply, in seconds. */
  elapsedS: number;
  /** How late sends left compared with their schedule: the generator's own health. */
  sendLag: LatencySamples;
}

/**
 * Open loop: request i is due at start + i/rps and is sent then whatever the
 * replies do. Latency counts from the due time, not the actual send, so a
 * stalled generator or server cannot hide queueing (coordinated omission).
 */
export function openLoop(
  client: Client,
  rps: number,
  durationMs: number,
  latency: LatencySamples,
  errors: ErrorCounts,
): Promise<OpenLoopResult> {
  const total = Math.max(1, Math.round((rps * durationMs) / 1000));
  const intervalNs = 1e9 / rps;
  const start = process.hrtime.bigint() + 2_000_000n;
  const due = (i: number) => start + BigInt(Math.round(i * intervalNs));
  const sendLag = new LatencySamples(total);
  let sent = 0;
  let completed = 0;
  let inFlight = 0;
  let lastEnd = start;

  return new Promise((resolve) => {
    const finishIfDone = (): void => {
      if (sent === total && inFlight === 0)
        resolve({
          sent,
          completed,
          elapsedS: Number(lastEnd - start) / 1e9,
          sendLag,
        });
    };
    const fire = (scheduled: bigint, now: bigint): void => {
      sendLag.addSpan(scheduled, now);
      if (inFlight >= MAX_IN_FLIGHT) {
        errors.dropped++;
        return;
      }
      inFlight++;
      void client.send(false).then((outcome) => {
        inFlight--;
        completed++;
        if (outcome.endNs > lastEnd) lastEnd = outcome.endNs;
        if (outcome.ok) latency.addSpan(scheduled, outcome.endNs);
        else errors.add(outcome);
        finishIfDone();
      });
    };
    const tick = (): void => {
      const now = process.hrtime.bigint();
      // Bounded: at most the remaining requests, each due by now.
      while (sent < total && due(sent) <= now) fire(due(sent++), now);
      if (sent < total) {
        const waitMs = Number(due(sent) - process.hrtime.bigint()) / 1e6;
        setTimeout(tick, Math.max(0, Math.floor(waitMs)));
      } else {
        finishIfDone();
      }
    };
    setTimeout(tick, 2);
  });
}
