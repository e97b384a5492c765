// The controller's parts, the way controller-runtime splits a manager into
// Runnables: each has a name, starts and stops. A LeaderOnly group holds what
// only the leader does (push tables, probe, collect stats, write status) and
// starts all of it on every acquisition and stops all of it on every loss.
// Issue 11 class 7: probing stopped for good after one lost term, because the
// prober's stop() left state behind that its next start() took as "running".
// Every leader part here starts from nothing on each term instead.

/** A part of the controller with its own lifecycle. */
export interface Runnable {
  readonly name: string;
  start(): void;
  /** Stops everything it started; a later start() must work again. */
  stop(): Promise<void> | void;
}

export interface LeaderOnlyOptions {
  onError?: (runnable: string, phase: 'start' | 'stop', err: unknown) => void;
}

/**
 * Runnables that run only while this replica leads. Started in order on
 * acquisition, stopped in reverse order on loss; a start while a stop is still
 * draining waits for it, so two terms never overlap.
 */
export class LeaderOnly {
  private readonly runnables: Runnable[] = [];
  private leading = false;
  private terms = 0;
  private transition: Promise<void> = Promise.resolve();

  constructor(private readonly options: LeaderOnlyOptions = {}) {}

  add(runnable: Runnable): this {
    this.runnables.push(runnable);
    return this;
  }

  /** Whether a term is running (started and not yet stopped). */
  get active(): boolean {
    return this.leading;
  }

  /** How many terms have started since creation. */
  get termsStarted(): number {
    return this.terms;
  }

  /** Resolves once the last start or stop has finished. */
  settled(): Promise<void> {
    return this.transition;
  }

  startAll(): Promise<void> {
    this.transition = this.transition.then(() => {
      if (this.leading) return;
      this.leading = true;
      this.terms += 1;
      for (const r of this.runnables) {
        try {
          r.start();
        } catch (err) {
          this.options.onError?.(r.name, 'start', err);
        }
      }
    });
    return this.transition;
  }

  stopAll(): Promise<void> {
    this.transition = this.transition.then(async () => {
      if (!this.leading) return;
      this.leading = false;
      for (const r of [...this.runnables].reverse()) {
        try {
          await r.stop();
        } catch (err) {
          this.options.onError?.(r.name, 'stop', err);
        }
      }
    });
    return this.transition;
  }
}

/** A timer loop that runs `tick` every `intervalMs` while started; one loop per term. */
export class PeriodicRunnable implements Runnable {
  private timer: NodeJS.Timeout | undefined;
  /** Bumped on every start and stop: a tick from an older term never schedules another. */
  private term = 0;
  private running = false;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly tick: () => Promise<void>,
    private readonly onError: (err: unknown) => void,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(++this.term);
  }

  stop(): void {
    this.running = false;
    this.term += 1;
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  private schedule(term: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.tick()
        .catch(this.onError)
        .finally(() => {
          if (this.running && this.term === term) this.schedule(term);
        });
    }, this.intervalMs);
  }
}
