// Traffic and cost per route over the last hour (or since this controller
// took over, if later), summed over the proxies. Proxies report cumulative
// counters; a delta is taken per pod and route (a counter that went down means
// the proxy restarted: its new total counts), and deltas land in one-minute
// buckets, of which the last hour is kept.

export const USAGE_WINDOW = '1h';
const WINDOW_MS = 3_600_000;
const BUCKET_MS = 60_000;

interface Totals {
  requests: number;
  costUsd: number;
}

export class RouteUsageWindow {
  private readonly previous = new Map<string, Totals>();
  /** routeId → bucket index → sums. */
  private readonly buckets = new Map<string, Map<number, Totals>>();

  constructor(private readonly now: () => number) {}

  /**
   * One pod's cumulative counters for one route; returns whether anything new
   * was counted. The first report of a pod is only a baseline: its totals may
   * span days (the controller just started or took over).
   */
  observe(podKey: string, routeId: string, totals: Totals): boolean {
    const key = `${podKey} ${routeId}`;
    const prev = this.previous.get(key);
    this.previous.set(key, { ...totals });
    if (!prev) return false;
    const restarted = totals.requests < prev.requests || totals.costUsd < prev.costUsd - 1e-12;
    const delta = restarted
      ? totals
      : { requests: totals.requests - prev.requests, costUsd: totals.costUsd - prev.costUsd };
    if (delta.requests === 0 && delta.costUsd <= 0) return false;
    const index = Math.floor(this.now() / BUCKET_MS);
    let route = this.buckets.get(routeId);
    if (!route) {
      route = new Map();
      this.buckets.set(routeId, route);
    }
    const bucket = route.get(index) ?? { requests: 0, costUsd: 0 };
    bucket.requests += delta.requests;
    bucket.costUsd += Math.max(0, delta.costUsd);
    route.set(index, bucket);
    return true;
  }

  /** Forgets pods that are gone (their counters would otherwise be kept forever). */
  forgetPodsExcept(podKeys: ReadonlySet<string>): void {
    for (const key of this.previous.keys())
      if (!podKeys.has(key.slice(0, key.indexOf(' ')))) this.previous.delete(key);
  }

  /** The last hour for a route, or undefined if it served nothing in it. */
  summary(routeId: string): { window: string; requests: number; costUSD: number } | undefined {
    const route = this.buckets.get(routeId);
    if (!route) return undefined;
    const oldest = Math.floor((this.now() - WINDOW_MS) / BUCKET_MS);
    let requests = 0;
    let cost = 0;
    for (const [index, b] of route) {
      if (index < oldest) route.delete(index);
      else {
        requests += b.requests;
        cost += b.costUsd;
      }
    }
    if (route.size === 0) {
      this.buckets.delete(routeId);
      return undefined;
    }
    // Cents to six decimal places: cheap models cost fractions of a cent per request.
    return { window: USAGE_WINDOW, requests, costUSD: Math.round(cost * 1e6) / 1e6 };
  }
}
