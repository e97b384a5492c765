// Leader parts that are rebuilt on every term: a new proxy fleet (what a
// proxy runs is unknown to a new leader) and a new reconcile queue.
import type { ProxyFleet } from './proxy-fleet.js';
import type { Runnable } from './runnable.js';
import type { WorkQueue } from './work-queue.js';

/** How long losing leadership waits for running reconciles before the next term may start. */
const STOP_WAIT_MS = 2_000;

export function boundedWait(work: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/**
 * A new reconcile queue per leader term, every namespace in it. Stopping waits
 * for running reconciles, but not for one hung on an unreachable API server
 * (the client's request timeout ends it): it would hold its namespace's key,
 * and the next term must reconcile that namespace at once.
 */
export class LeaderQueue implements Runnable {
  readonly name = 'work-queue';
  private current: WorkQueue | undefined;

  constructor(
    private readonly create: () => WorkQueue,
    private readonly namespaces: () => string[],
    private readonly onStart: () => void,
  ) {}

  get length(): number {
    return this.current?.length ?? 0;
  }

  /** Dropped between terms: the next term reconciles every namespace anyway. */
  add(namespace: string): void {
    this.current?.add(namespace);
  }

  start(): void {
    this.current = this.create();
    this.current.start();
    this.onStart();
    for (const ns of this.namespaces()) this.current.add(ns);
  }

  stop(): Promise<void> {
    const queue = this.current;
    this.current = undefined;
    return queue ? boundedWait(queue.stop(), STOP_WAIT_MS) : Promise.resolve();
  }
}

/** A new ProxyFleet per leader term: what a proxy runs is unknown to a new leader. */
export class LeaderFleet implements Runnable {
  readonly name = 'proxy-fleet';
  current: ProxyFleet | undefined;

  constructor(private readonly create: () => ProxyFleet) {}

  start(): void {
    this.current = this.create();
  }

  stop(): void {
    this.current?.stop();
    this.current = undefined;
  }
}
