// Deltas of the cumulative counters each proxy reports. Proxies report
// counters since they started, and their uptime; a delta is taken per pod
// and key. Shared by the one-hour windows (pod-counter-window.ts) and the
// budget ledger (budget-ledger.ts), which differ only in where deltas land
// and in when a first report counts in full.
//
// - A pod's first report counts in full for a key when `countsInFull` says so
//   (it started after what status already accounts for), else it is a baseline.
// - A key a known pod reports for the first time counts in full: it was
//   absent (zero) from the pod's previous report.
// - A pod whose start moved, or one of whose counters went down, restarted:
//   its new totals count in full.

/** Uptime comes in whole seconds and the report takes time to arrive: starts closer than this are the same process. */
const SAME_START_SLACK_MS = 3_000;
/** Uptime comes rounded to a second: a start half a second early may be after `since`. */
const UPTIME_ROUNDING_MS = 500;
/** Float counters (cost) summed in another order may come back a hair lower: not a restart. */
const DECREASE_EPSILON = 1e-12;

export type Counters<C extends string> = Record<C, number>;

/** Whether a process that started at `startedAt` (unknown for old proxies) started after `since`. */
export function startedSince(startedAt: number | undefined, since: number): boolean {
  return startedAt !== undefined && startedAt + UPTIME_ROUNDING_MS >= since;
}

interface PodState<C extends string> {
  startedAt: number | undefined;
  totals: Map<string, Counters<C>>;
}

export class PodCounterDeltas<C extends string> {
  private readonly pods = new Map<string, PodState<C>>();

  constructor(
    private readonly counters: readonly C[],
    /** Whether a new pod's first totals for `key` are new (else they are a baseline). */
    private readonly countsInFull: (key: string, startedAt: number | undefined) => boolean,
  ) {}

  zero(): Counters<C> {
    return Object.fromEntries(this.counters.map((c) => [c, 0])) as Counters<C>;
  }

  /** One pod's report: what each key counted since the pod's previous report (nothing negative). */
  observe(
    podKey: string,
    startedAt: number | undefined,
    entries: Iterable<{ key: string; totals: Counters<C> }>,
  ): { key: string; delta: Counters<C> }[] {
    const out: { key: string; delta: Counters<C> }[] = [];
    let pod = this.pods.get(podKey);
    const firstSight = !pod;
    if (!pod) {
      pod = { startedAt, totals: new Map() };
      this.pods.set(podKey, pod);
    } else {
      const moved =
        startedAt !== undefined &&
        pod.startedAt !== undefined &&
        Math.abs(startedAt - pod.startedAt) > SAME_START_SLACK_MS;
      if (moved) pod.totals.clear();
      pod.startedAt = startedAt ?? pod.startedAt;
    }
    for (const { key, totals } of entries) {
      const prev = pod.totals.get(key);
      pod.totals.set(key, { ...totals });
      let delta: Counters<C>;
      if (!prev) {
        if (firstSight && !this.countsInFull(key, startedAt)) continue;
        delta = totals;
      } else {
        const restarted = this.counters.some((c) => totals[c] < prev[c] - DECREASE_EPSILON);
        delta = restarted ? totals : this.minus(totals, prev);
      }
      const positive = this.zero();
      for (const c of this.counters) positive[c] = Math.max(0, delta[c]);
      if (this.counters.some((c) => positive[c] > 0)) out.push({ key, delta: positive });
    }
    return out;
  }

  private minus(a: Counters<C>, b: Counters<C>): Counters<C> {
    const out = this.zero();
    for (const c of this.counters) out[c] = a[c] - b[c];
    return out;
  }

  /** Pods being followed. */
  podKeys(): IterableIterator<string> {
    return this.pods.keys();
  }

  /** Forgets pods that are gone (their counters would otherwise be kept forever). */
  forgetPodsExcept(podKeys: ReadonlySet<string>): void {
    for (const key of this.pods.keys()) if (!podKeys.has(key)) this.pods.delete(key);
  }
}
