// Wakes a namespace's reconcile when its table changes with no object
// changing: a ModelAPIKey's expiresAt passing. Proxies refuse an expired key
// themselves (they hold expiresAtMs); this drops it from the table and flips
// the key's status to Expired within a moment of the expiry, not at the next
// unrelated change. One timer per namespace, for its earliest expiry.
import { systemClock, type Clock, type Timer } from './clock.js';
import type { Runnable } from './runnable.js';

/** Past the expiry itself, so the reconcile it wakes sees the key expired. */
const AFTER_MS = 50;
/** setTimeout's ceiling (~24.8 days); later expiries are re-armed on the way. */
const MAX_DELAY_MS = 2 ** 31 - 1;

export class RecompileTimers implements Runnable {
  readonly name = 'recompile-timers';
  private readonly timers = new Map<string, { atMs: number; timer: Timer }>();
  private running = false;

  constructor(
    private readonly enqueue: (namespace: string) => void,
    private readonly clock: Clock = systemClock,
  ) {}

  start(): void {
    this.running = true;
  }

  stop(): void {
    this.running = false;
    for (const { timer } of this.timers.values()) this.clock.clearTimeout(timer);
    this.timers.clear();
  }

  /** Reconcile `namespace` once `atMs` has passed; undefined cancels. Replaces any earlier schedule. */
  schedule(namespace: string, atMs: number | undefined): void {
    const current = this.timers.get(namespace);
    if (current?.atMs === atMs) return;
    if (current) this.clock.clearTimeout(current.timer);
    this.timers.delete(namespace);
    if (atMs === undefined || !this.running) return;
    const delay = Math.min(Math.max(0, atMs - this.clock.now()) + AFTER_MS, MAX_DELAY_MS);
    const timer = this.clock.setTimeout(() => {
      this.timers.delete(namespace);
      this.enqueue(namespace);
    }, delay);
    this.timers.set(namespace, { atMs, timer });
  }

  /** Namespaces with a wake-up pending (for tests). */
  pending(): string[] {
    return [...this.timers.keys()];
  }
}
