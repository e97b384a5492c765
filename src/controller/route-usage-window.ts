// Traffic and cost per route over the last hour, summed over the proxies:
// each proxy's cumulative per-route counters, counted as pod-counter-window.ts
// says (a proxy born in the term counts in full, an older one is a baseline,
// restarts count their new totals, a leader change continues from status).

import { PodCounterWindow } from './pod-counter-window.js';

export const USAGE_WINDOW = '1h';

export interface PodUsageReport {
  /** When the proxy process started, by our clock (now minus its uptime); unknown for old proxies. */
  startedAt?: number | undefined;
  routes: readonly { routeId: string; requests: number; costUsd: number }[];
}

export class RouteUsageWindow {
  private readonly window: PodCounterWindow<'requests' | 'costUsd'>;

  constructor(
    now: () => number,
    /** When this window began counting (the leader term's start); default now. */
    countingSince?: number,
  ) {
    this.window = new PodCounterWindow(['requests', 'costUsd'], now, {
      countingSince,
      whole: ['requests'],
    });
  }

  /** Continues from a total written earlier (a route's status.usage, on a leader change). */
  seed(routeId: string, usage: { requests: number; costUSD: number }): void {
    this.window.seed(routeId, { requests: usage.requests, costUsd: usage.costUSD });
  }

  /** One pod's report; returns the routes for which something new was counted. */
  observe(podKey: string, report: PodUsageReport): Set<string> {
    return this.window.observe(
      podKey,
      report.startedAt,
      report.routes.map((r) => ({
        key: r.routeId,
        totals: { requests: r.requests, costUsd: r.costUsd },
      })),
    );
  }

  /** Forgets pods that are gone (their counters would otherwise be kept forever). */
  forgetPodsExcept(podKeys: ReadonlySet<string>): void {
    this.window.forgetPodsExcept(podKeys);
  }

  /** The last hour for a route, or undefined if it served nothing in it. */
  summary(routeId: string): { window: string; requests: number; costUSD: number } | undefined {
    const sums = this.window.sum(routeId);
    if (!sums) return undefined;
    // Cents to six decimal places: cheap models cost fractions of a cent per request.
    return {
      window: USAGE_WINDOW,
      requests: sums.requests,
      costUSD: Math.round(sums.costUsd * 1e6) / 1e6,
    };
  }
}
