// Proxies' cumulative attribution and latency rows, turned into deltas per
// pod (the rules of pod-counter-deltas.ts) and added to the ledger at the
// hour they were seen. Shared by the controller's stats collector and the
// dev proxy, which feeds its own rows.
import { PodCounterDeltas, startedSince, type Counters } from '../controller/pod-counter-deltas.js';
import {
  USAGE_COUNTERS,
  attributionKey,
  attributionOfKey,
  type AttributionRow,
  type UsageCounter,
} from './attribution.js';
import { DURATION_BOUNDS_MS, TTFT_BOUNDS_MS, type LatencyRow } from './latency-histogram.js';
import type { UsageLedger } from './usage-ledger.js';

const DURATION_KEYS = Array.from({ length: DURATION_BOUNDS_MS.length + 1 }, (_, i) => `d${i}`);
const TTFT_KEYS = Array.from({ length: TTFT_BOUNDS_MS.length + 1 }, (_, i) => `t${i}`);
type BucketKey = string;

export class LedgerFeed {
  private readonly usage: PodCounterDeltas<UsageCounter>;
  private readonly latency: PodCounterDeltas<BucketKey>;

  constructor(
    private readonly ledger: UsageLedger,
    private readonly now: () => number,
    /** Counting starts here (a leader term's start): older proxies' first reports are baselines. */
    countingSince: number = now(),
  ) {
    const inFull = (_key: string, startedAt: number | undefined) =>
      startedSince(startedAt, countingSince);
    this.usage = new PodCounterDeltas(USAGE_COUNTERS, inFull);
    this.latency = new PodCounterDeltas([...DURATION_KEYS, ...TTFT_KEYS], inFull);
  }

  /** One pod's report (rows are cumulative since the pod started). */
  observe(
    podKey: string,
    startedAt: number | undefined,
    rows: readonly AttributionRow[],
    latency: readonly LatencyRow[] = [],
  ): void {
    const at = this.now();
    const deltas = this.usage.observe(
      podKey,
      startedAt,
      rows.map((r) => ({ key: attributionKey(r.on), totals: r.totals })),
    );
    for (const { key, delta } of deltas) this.ledger.add(at, attributionOfKey(key), delta);
    const latencyDeltas = this.latency.observe(
      podKey,
      startedAt,
      latency.map((l) => ({
        key: `${l.route}\u001f${l.backend}`,
        totals: Object.fromEntries([
          ...l.duration.map((n, i) => [DURATION_KEYS[i], n]),
          ...l.ttft.map((n, i) => [TTFT_KEYS[i], n]),
        ]) as Counters<BucketKey>,
      })),
    );
    for (const { key, delta } of latencyDeltas) {
      const [route = '', backend = ''] = key.split('\u001f');
      this.ledger.addLatency(at, route, backend, {
        duration: DURATION_KEYS.map((k) => delta[k] ?? 0),
        ttft: TTFT_KEYS.map((k) => delta[k] ?? 0),
      });
    }
  }

  forgetPodsExcept(podKeys: ReadonlySet<string>): void {
    this.usage.forgetPodsExcept(podKeys);
    this.latency.forgetPodsExcept(podKeys);
  }
}
