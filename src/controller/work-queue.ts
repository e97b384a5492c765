// The reconcile work queue, with client-go's semantics: keys collapse, a key
// never runs twice at once, failures back off per key, and an overall token
// bucket bounds how fast the controller hits the API server.
import type { WorkQueueMetrics } from '../telemetry/controller-metrics.js';
import { systemClock, type Clock, type Timer } from './clock.js';

export interface WorkQueueOptions {
  /** Per-key backoff after the first failure; doubles with each further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Overall dequeue rate (token bucket refill per second). */
  ratePerSecond: number;
  /** Token bucket size: how many dequeues may happen back to back. */
  burst: number;
  /** Handlers running at once (each on a different key). */
  concurrency: number;
  clock?: Clock;
  /** Told about each failed run; the key is retried with backoff regardless. */
  onError?: (key: string, err: unknown) => void;
  /** client-go's workqueue metrics (adds, depth, queue and work durations, retries). */
  metrics?: WorkQueueMetrics;
}

/** `requeueAfterMs`: run the key again after that long (not a failure). */
export type ReconcileResult = { requeueAfterMs?: number } | void;

const DEFAULTS = {
  baseDelayMs: 50,
  maxDelayMs: 30_000,
  ratePerSecond: 50,
  burst: 100,
  concurrency: 2,
};

interface Delayed {
  readyAt: number;
  timer: Timer | undefined;
}

export class WorkQueue {
  private readonly opts: typeof DEFAULTS;
  private readonly clock: Clock;
  private readonly onError: ((key: string, err: unknown) => void) | undefined;
  private readonly metrics: WorkQueueMetrics | undefined;
  /** When each waiting key was queued (workqueue_queue_duration_seconds). */
  private readonly queuedAt = new Map<string, number>();

  /** Ready keys in FIFO order; `queued` mirrors it for de-duplication. */
  private readonly waiting: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  /** Keys added while being processed: run once more when the current run ends. */
  private readonly dirty = new Set<string>();
  private readonly delayed = new Map<string, Delayed>();
  private readonly failures = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();

  private tokens: number;
  private tokensAt: number;
  private rateTimer: Timer | undefined;
  private pumpScheduled = false;
  private started = false;
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly handler: (key: string) => Promise<ReconcileResult>,
    options: Partial<WorkQueueOptions> = {},
  ) {
    this.opts = {
      baseDelayMs: options.baseDelayMs ?? DEFAULTS.baseDelayMs,
      maxDelayMs: options.maxDelayMs ?? DEFAULTS.maxDelayMs,
      ratePerSecond: options.ratePerSecond ?? DEFAULTS.ratePerSecond,
      burst: options.burst ?? DEFAULTS.burst,
      concurrency: options.concurrency ?? DEFAULTS.concurrency,
    };
    if (this.opts.concurrency < 1) throw new Error('WorkQueue: concurrency must be at least 1');
    if (this.opts.ratePerSecond <= 0) throw new Error('WorkQueue: ratePerSecond must be positive');
    if (this.opts.burst < 1) throw new Error('WorkQueue: burst must be at least 1');
    this.clock = options.clock ?? systemClock;
    this.onError = options.onError;
    this.metrics = options.metrics;
    this.tokens = this.opts.burst;
    this.tokensAt = this.clock.now();
  }

  /** Waiting keys (queue depth for metrics); delayed and running keys are not counted. */
  get length(): number {
    return this.waiting.length;
  }

  add(key: string): void {
    if (this.processing.has(key)) {
      if (!this.dirty.has(key)) this.metrics?.added();
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.waiting.push(key);
    if (this.metrics) {
      this.metrics.added();
      this.metrics.depth(this.waiting.length);
      this.queuedAt.set(key, this.clock.now());
    }
    this.schedulePump();
  }

  /** Adds the key after `delayMs`; an earlier pending delay for the same key wins. */
  addAfter(key: string, delayMs: number): void {
    if (delayMs <= 0) return this.add(key);
    const readyAt = this.clock.now() + delayMs;
    const existing = this.delayed.get(key);
    if (existing && existing.readyAt <= readyAt) return;
    if (existing) this.clock.clearTimeout(existing.timer);
    const entry: Delayed = { readyAt, timer: undefined };
    this.delayed.set(key, entry);
    if (this.started) this.arm(key, entry);
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    const now = this.clock.now();
    for (const [key, entry] of [...this.delayed]) {
      if (entry.readyAt > now) {
        this.arm(key, entry);
      } else {
        // Came due while stopped.
        this.delayed.delete(key);
        this.add(key);
      }
    }
    this.schedulePump();
  }

  /**
   * Stops dispatching and waits for running handlers. Waiting and delayed keys
   * are kept (their timers paused), so a later start() resumes where it was.
   */
  async stop(): Promise<void> {
    this.started = false;
    this.clock.clearTimeout(this.rateTimer);
    this.rateTimer = undefined;
    for (const entry of this.delayed.values()) {
      this.clock.clearTimeout(entry.timer);
      entry.timer = undefined;
    }
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Resolves once nothing is waiting, running, or delayed and already due. */
  onIdle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private arm(key: string, entry: Delayed): void {
    entry.timer = this.clock.setTimeout(
      () => {
        if (this.delayed.get(key) !== entry) return;
        this.delayed.delete(key);
        this.add(key);
        this.checkIdle();
      },
      Math.max(0, entry.readyAt - this.clock.now()),
    );
  }

  /** Coalesces dispatch into one microtask so add() never runs a handler re-entrantly. */
  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    queueMicrotask(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  private pump(): void {
    while (this.started && this.running.size < this.opts.concurrency && this.waiting.length > 0) {
      const waitMs = this.takeToken();
      if (waitMs > 0) {
        if (this.rateTimer === undefined) {
          this.rateTimer = this.clock.setTimeout(() => {
            this.rateTimer = undefined;
            this.pump();
          }, waitMs);
        }
        return;
      }
      const key = this.waiting.shift()!;
      this.queued.delete(key);
      if (this.metrics) {
        this.metrics.depth(this.waiting.length);
        const at = this.queuedAt.get(key);
        this.queuedAt.delete(key);
        if (at !== undefined) this.metrics.dequeued((this.clock.now() - at) / 1000);
      }
      this.processing.add(key);
      const run = this.process(key).finally(() => {
        this.running.delete(run);
        this.schedulePump();
        this.checkIdle();
      });
      this.running.add(run);
    }
    this.checkIdle();
  }

  /** Takes a token and returns 0, or returns how long until one is available. */
  private takeToken(): number {
    const now = this.clock.now();
    const refill = ((now - this.tokensAt) * this.opts.ratePerSecond) / 1000;
    this.tokens = Math.min(this.opts.burst, this.tokens + refill);
    this.tokensAt = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - this.tokens) * 1000) / this.opts.ratePerSecond);
  }

  private async process(key: string): Promise<void> {
    let retryAfterMs: number | undefined;
    const started = this.clock.now();
    try {
      const result = await this.handler(key);
      this.failures.delete(key);
      if (result && result.requeueAfterMs !== undefined) retryAfterMs = result.requeueAfterMs;
    } catch (err) {
      const failures = this.failures.get(key) ?? 0;
      this.failures.set(key, failures + 1);
      retryAfterMs = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** failures);
      this.reportError(key, err);
      this.metrics?.retried();
    } finally {
      this.processing.delete(key);
      this.metrics?.worked((this.clock.now() - started) / 1000);
    }
    // Done before the delayed re-add, as client-go does: a key marked dirty
    // during the run goes straight back to the end of the queue.
    if (this.dirty.delete(key)) this.add(key);
    if (retryAfterMs !== undefined) this.addAfter(key, retryAfterMs);
  }

  private reportError(key: string, err: unknown): void {
    try {
      this.onError?.(key, err);
    } catch {
      // A broken logger must not stop the queue.
    }
  }

  private isIdle(): boolean {
    if (this.waiting.length > 0 || this.running.size > 0) return false;
    const now = this.clock.now();
    for (const entry of this.delayed.values()) if (entry.readyAt <= now) return false;
    return true;
  }

  private checkIdle(): void {
    if (this.idleWaiters.length === 0 || !this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
