// Recent demand per proxy and key, from the proxies' cumulative counters
// (admitted + refused, tokens, spend): a per-minute rate, smoothed.
//
// Why smoothed, and lightly: read every 2 s, a proxy that sees 8 requests a
// minute shows 0 or 30 a minute at random; but a long memory keeps handing
// capacity to a proxy whose traffic moved elsewhere. In the fleet simulation
// (quota-allocator.test.ts: 20 proxies, skewed demand at twice a 600 rpm limit,
// 1 s report-to-apply delay) the worst saturated sliding minute admitted 554
// with 6 s smoothing, 559 with 2 s and 539 with 20 s.

/** Time constant of the smoothing. */
export const DEMAND_SMOOTHING_MS = 6_000;

interface Meter {
  last: number;
  atMs: number;
  rate: number | undefined;
}

export class DemandRates {
  private readonly meters = new Map<string, Meter>();

  constructor(private readonly smoothingMs = DEMAND_SMOOTHING_MS) {}

  /**
   * Feeds a cumulative counter; returns the smoothed rate per minute (0 on
   * the first reading). A counter that went down (the proxy restarted)
   * starts again from its new value.
   */
  observe(key: string, cumulative: number, nowMs: number): number {
    const m = this.meters.get(key);
    if (!m || cumulative < m.last) {
      this.meters.set(key, { last: cumulative, atMs: nowMs, rate: undefined });
      return m && cumulative < m.last ? (m.rate ?? 0) : 0;
    }
    const elapsed = nowMs - m.atMs;
    if (elapsed <= 0) return m.rate ?? 0;
    const instant = ((cumulative - m.last) / elapsed) * 60_000;
    const alpha = 1 - Math.exp(-elapsed / this.smoothingMs);
    m.rate = m.rate === undefined ? instant : m.rate + alpha * (instant - m.rate);
    m.last = cumulative;
    m.atMs = nowMs;
    return m.rate;
  }

  /** Drops meters whose key does not satisfy `keep` (pods gone). */
  retain(keep: (key: string) => boolean): void {
    for (const key of this.meters.keys()) if (!keep(key)) this.meters.delete(key);
  }
}
