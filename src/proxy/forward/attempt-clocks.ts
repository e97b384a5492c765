// The clocks of one request: what time was spent waiting (not overhead),
// whether the client left, and the timers of each attempt.
import { EventEmitter } from 'node:events';
import { timerMs } from '../../api/v1alpha1/index.js';

/** Time spent waiting on upstreams or sleeping, which is not proxy overhead. */
export class WaitClock {
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
export class ClientGone {
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

export function sleep(ms: number, gone: ClientGone): Promise<void> {
  return new Promise((resolve) => {
    const stop = gone.listen(() => {
      clearTimeout(timer);
      resolve();
    });
    const timer = setTimeout(() => {
      stop();
      resolve();
    }, timerMs(ms));
  });
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

/**
 * Timers for one attempt; `signal` aborts the upstream call when one fires or
 * the client leaves. While the proxy waits for a slow client to take bytes
 * (`holdForClient`), the backend is not the one being slow: the idle timer
 * does not fire, and a total timeout that fires is the client's fault.
 */
export class AttemptTimers {
  readonly signal = new AttemptAbort();
  reason: string | undefined;
  /** A timer fired while the proxy was waiting on the client, not on the backend. */
  clientFault = false;
  private holding = false;
  private idleFiredWhileHolding = false;
  private readonly firstToken: NodeJS.Timeout;
  private readonly total: NodeJS.Timeout;
  private readonly stopListening: () => void;

  constructor(firstTokenMs: number, totalMs: number, clientGone: ClientGone) {
    // Clamped: a pushed table is validated, but a timer must never overflow
    // (past 2^31-1 ms Node fires it at once, failing every request).
    this.firstToken = setTimeout(
      () => {
        if (this.holding) this.idleFiredWhileHolding = true;
        else this.fire(`no data within ${firstTokenMs} ms`);
      },
      timerMs(firstTokenMs, 1),
    );
    this.total = setTimeout(
      () => this.fire(`no complete answer within ${totalMs} ms`),
      timerMs(totalMs, 1),
    );
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

  /** The proxy now waits for the client to take bytes, not for the backend. */
  holdForClient(): void {
    this.holding = true;
  }

  /** Back to waiting on the backend: the idle timer starts over. */
  resumeFromClient(): void {
    this.holding = false;
    if (this.idleFiredWhileHolding) {
      this.idleFiredWhileHolding = false;
      this.firstToken.refresh();
    }
  }

  private fire(reason: string): void {
    this.reason = reason;
    if (this.holding) this.clientFault = true;
    this.signal.abort();
  }

  clear(): void {
    clearTimeout(this.firstToken);
    clearTimeout(this.total);
    this.stopListening();
  }
}
