// Traffic and cost per route over the last hour, summed over the proxies.
// Proxies report cumulative counters since they started, and their uptime; a
// delta is taken per pod and route, and deltas land in one-minute buckets, of
// which the last hour is kept.
//
// What counts (issue 11 class 11: a route's first report was only ever a
// baseline, so 30 requests showed as 10, and a leader change blanked it all):
// - A proxy that started after this window began counting (its start is now
//   minus its uptime) counts in full from its first report: every request in
//   it was served while we watched.
// - A proxy that started before is a baseline on first sight: its totals may
//   span days, and what it served before this leader term is already in the
//   route's status.usage, which seeds this window (`seed`). What it served
//   between the old leader's last status write and this term's first report
//   is not counted: at most the usage write interval plus a takeover.
// - A route a known proxy reports for the first time counts in full: it was
//   absent (zero) from the proxy's previous report.
// - A proxy whose start moved, or whose counter went down, restarted: its new
//   totals count in full.

export const USAGE_WINDOW = '1h';
const WINDOW_MS = 3_600_000;
const BUCKET_MS = 60_000;
/** Uptime comes in whole seconds and the report takes time to arrive: starts closer than this are the same process. */
const SAME_START_SLACK_MS = 3_000;

const UPTIME_ROUNDING_MS = 500;

interface Totals {
  requests: number;
  costUsd: number;
}

export interface PodUsageReport {
  /** When the proxy process started, by our clock (now minus its uptime); unknown for old proxies. */
  startedAt?: number | undefined;
  routes: readonly ({ routeId: string } & Totals)[];
}

interface PodState {
  startedAt: number | undefined;
  routes: Map<string, Totals>;
}

export class RouteUsageWindow {
  private readonly pods = new Map<string, PodState>();
  /** routeId → bucket index → sums. */
  private readonly buckets = new Map<string, Map<number, Totals>>();
  private readonly countingSince: number;

  constructor(
    private readonly now: () => number,
    /** When this window began counting (the leader term's start); default now. */
    countingSince?: number,
  ) {
    this.countingSince = countingSince ?? now();
  }

  /**
   * Continues from a total written earlier (a route's status.usage, on a
   * leader change): spread evenly over the last hour, the rate we know least
   * badly, so it ages out over the next hour as its requests would have.
   */
  seed(routeId: string, usage: { requests: number; costUSD: number }): void {
    if (this.buckets.has(routeId) || (usage.requests <= 0 && usage.costUSD <= 0)) return;
    const slots = WINDOW_MS / BUCKET_MS;
    const newest = Math.floor(this.now() / BUCKET_MS);
    const route = new Map<number, Totals>();
    const requests = Math.max(0, Math.floor(usage.requests));
    for (let i = 0; i < slots; i++) {
      // The remainder goes to the newest buckets, which age out last.
      const share = Math.floor(requests / slots) + (slots - 1 - i < requests % slots ? 1 : 0);
      route.set(newest - (slots - 1) + i, {
        requests: share,
        costUsd: Math.max(0, usage.costUSD) / slots,
      });
    }
    this.buckets.set(routeId, route);
  }

  /** One pod's report; returns the routes for which something new was counted. */
  observe(podKey: string, report: PodUsageReport): Set<string> {
    const changed = new Set<string>();
    let pod = this.pods.get(podKey);
    let countNew: boolean;
    if (!pod) {
      // Uptime comes rounded to a second: a start half a second early may be ours.
      countNew =
        report.startedAt !== undefined &&
        report.startedAt + UPTIME_ROUNDING_MS >= this.countingSince;
      pod = { startedAt: report.startedAt, routes: new Map() };
      this.pods.set(podKey, pod);
    } else {
      const moved =
        report.startedAt !== undefined &&
        pod.startedAt !== undefined &&
        Math.abs(report.startedAt - pod.startedAt) > SAME_START_SLACK_MS;
      if (moved) pod.routes.clear();
      pod.startedAt = report.startedAt ?? pod.startedAt;
      countNew = true;
    }
    for (const r of report.routes) {
      const totals = { requests: r.requests, costUsd: r.costUsd };
      const prev = pod.routes.get(r.routeId);
      pod.routes.set(r.routeId, totals);
      let delta: Totals;
      if (!prev) {
        if (!countNew) continue;
        delta = totals;
      } else {
        const restarted = totals.requests < prev.requests || totals.costUsd < prev.costUsd - 1e-12;
        delta = restarted
          ? totals
          : { requests: totals.requests - prev.requests, costUsd: totals.costUsd - prev.costUsd };
      }
      if (this.add(r.routeId, delta)) changed.add(r.routeId);
    }
    return changed;
  }

  private add(routeId: string, delta: Totals): boolean {
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
    for (const key of this.pods.keys()) if (!podKeys.has(key)) this.pods.delete(key);
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
    if (route.size === 0 || (requests === 0 && cost <= 0)) {
      this.buckets.delete(routeId);
      return undefined;
    }
    // Cents to six decimal places: cheap models cost fractions of a cent per request.
    return { window: USAGE_WINDOW, requests, costUSD: Math.round(cost * 1e6) / 1e6 };
  }
}
