// Cumulative counters reported by proxies, turned into sums over the last
// hour for the fleet. Proxies report counters since they started, and their
// uptime; a delta is taken per pod and key (pod-counter-deltas.ts), and deltas
// land in one-minute buckets, of which the last hour is kept. Route usage (requests, cost) and
// strongShare decisions (decisions, strong) are both counted this way.
//
// What counts (issue 11 class 11: a route's first report was only ever a
// baseline, so 30 requests showed as 10, and a leader change blanked it all):
// - A proxy that started after this window began counting (its start is now
//   minus its uptime) counts in full from its first report: every request in
//   it was served while we watched.
// - A proxy that started before is a baseline on first sight: its totals may
//   span days, and what it served before this leader term is already in the
//   route's status, which seeds this window (`seed`). What it served between
//   the old leader's last status write and this term's first report is not
//   counted: at most the status write interval plus a takeover.
// - A key a known proxy reports for the first time counts in full: it was
//   absent (zero) from the proxy's previous report.
// - A proxy whose start moved, or one of whose counters went down, restarted:
//   its new totals count in full.

import { PodCounterDeltas, startedSince, type Counters } from './pod-counter-deltas.js';

export const COUNTER_WINDOW_MS = 3_600_000;
const BUCKET_MS = 60_000;

export type { Counters } from './pod-counter-deltas.js';

export class PodCounterWindow<C extends string> {
  private readonly deltas: PodCounterDeltas<C>;
  /** key → bucket index → sums. */
  private readonly buckets = new Map<string, Map<number, Counters<C>>>();

  constructor(
    private readonly counters: readonly C[],
    private readonly now: () => number,
    options: {
      /** When this window began counting (the leader term's start); default now. */
      countingSince?: number | undefined;
      /** Counters that count whole things (requests): a seed spreads them as whole numbers. */
      whole?: readonly C[];
    } = {},
  ) {
    const countingSince = options.countingSince ?? now();
    this.deltas = new PodCounterDeltas(counters, (_key, startedAt) =>
      startedSince(startedAt, countingSince),
    );
    this.whole = new Set(options.whole ?? []);
  }

  private readonly whole: ReadonlySet<C>;

  private zero(): Counters<C> {
    return this.deltas.zero();
  }

  /**
   * Continues from totals written earlier (a route's status, on a leader
   * change): spread evenly over the last hour, the rate we know least badly,
   * so they age out over the next hour as the requests would have.
   */
  seed(key: string, totals: Counters<C>): void {
    if (this.buckets.has(key) || this.counters.every((c) => !(totals[c] > 0))) return;
    const slots = COUNTER_WINDOW_MS / BUCKET_MS;
    const newest = Math.floor(this.now() / BUCKET_MS);
    const series = new Map<number, Counters<C>>();
    for (let i = 0; i < slots; i++) series.set(newest - (slots - 1) + i, this.zero());
    for (const c of this.counters) {
      const total = Math.max(0, totals[c]);
      const whole = Math.floor(total);
      let i = 0;
      for (const bucket of series.values()) {
        // A whole counter's remainder goes to the newest buckets, which age out last.
        bucket[c] = this.whole.has(c)
          ? Math.floor(whole / slots) + (slots - 1 - i < whole % slots ? 1 : 0)
          : total / slots;
        i++;
      }
    }
    this.buckets.set(key, series);
  }

  /** One pod's report; returns the keys for which something new was counted. */
  observe(
    podKey: string,
    startedAt: number | undefined,
    entries: Iterable<{ key: string; totals: Counters<C> }>,
  ): Set<string> {
    const changed = new Set<string>();
    for (const { key, delta } of this.deltas.observe(podKey, startedAt, entries))
      if (this.add(key, delta)) changed.add(key);
    return changed;
  }

  private add(key: string, delta: Counters<C>): boolean {
    if (this.counters.every((c) => !(delta[c] > 0))) return false;
    const index = Math.floor(this.now() / BUCKET_MS);
    let series = this.buckets.get(key);
    if (!series) {
      series = new Map();
      this.buckets.set(key, series);
    }
    const bucket = series.get(index) ?? this.zero();
    for (const c of this.counters) bucket[c] += Math.max(0, delta[c]);
    series.set(index, bucket);
    // A key nobody sums (a route's second strongShare rule) must not grow a bucket a minute forever.
    if (series.size > COUNTER_WINDOW_MS / BUCKET_MS + 1) {
      const oldest = Math.floor((this.now() - COUNTER_WINDOW_MS) / BUCKET_MS);
      for (const i of series.keys()) if (i < oldest) series.delete(i);
    }
    return true;
  }

  /** Forgets pods that are gone (their counters would otherwise be kept forever). */
  forgetPodsExcept(podKeys: ReadonlySet<string>): void {
    this.deltas.forgetPodsExcept(podKeys);
  }

  /** The sums over the last hour for a key, or undefined if nothing was counted in it. */
  sum(key: string): Counters<C> | undefined {
    const series = this.buckets.get(key);
    if (!series) return undefined;
    const oldest = Math.floor((this.now() - COUNTER_WINDOW_MS) / BUCKET_MS);
    const sums = this.zero();
    for (const [index, bucket] of series) {
      if (index < oldest) series.delete(index);
      else for (const c of this.counters) sums[c] += bucket[c];
    }
    if (series.size === 0 || this.counters.every((c) => !(sums[c] > 0))) {
      this.buckets.delete(key);
      return undefined;
    }
    return sums;
  }
}
