// What each route served since this proxy started: requests and their
// estimated cost. Cumulative (the controller takes deltas per pod, as for
// backend outcomes), reported at /admin/v1/stats; the controller sums them
// over the fleet into each ModelRoute's status.usage.

export interface RouteUsageStats {
  routeId: string;
  requests: number;
  /** Estimated from the tokens the backends reported and their pricing. */
  costUsd: number;
}

export class RouteUsage {
  private readonly routes = new Map<string, { requests: number; costUsd: number }>();

  private entry(routeId: string) {
    let e = this.routes.get(routeId);
    if (!e) {
      e = { requests: 0, costUsd: 0 };
      this.routes.set(routeId, e);
    }
    return e;
  }

  request(routeId: string): void {
    this.entry(routeId).requests += 1;
  }

  cost(routeId: string, usd: number): void {
    if (Number.isFinite(usd) && usd > 0) this.entry(routeId).costUsd += usd;
  }

  stats(): RouteUsageStats[] {
    return [...this.routes.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([routeId, e]) => ({ routeId, requests: e.requests, costUsd: e.costUsd }));
  }
}
