// Attributed traffic in hourly buckets, kept 31 days: the one source of the
// 1 h / 24 h / 30 d figures in status, the report, the dashboard API. Pure (a
// clock is passed in); the controller persists it (usage-ledger-store.ts), the
// dev proxy keeps it in memory. Queries cover whole hours: a window of 24 h
// read at 10:20 spans from 10:00 yesterday to now.
import type {
  LatencyReport,
  RouteSavings,
  SavingsReport,
  TimelineEntry,
  UsageDimension,
  UsageReport,
  UsageTotals,
} from './api-types.js';
import {
  OTHER,
  USAGE_COUNTERS,
  addTotals,
  attributionKey,
  attributionOfKey,
  routeOfKey,
  dimensionValue,
  zeroTotals,
  type Attribution,
} from './attribution.js';
import {
  DURATION_BOUNDS_MS,
  TTFT_BOUNDS_MS,
  addCounts,
  emptyLatency,
  quantileMs,
  type LatencyCounts,
} from './latency-histogram.js';

export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** Buckets older than this are dropped: 30 days and the partial day before. */
export const RETENTION_MS = 31 * DAY_MS;
/** Distinct rows per hour before new callers fold into "(other)". */
export const MAX_ROWS_PER_HOUR = 5_000;

export interface HourBucket {
  rows: Map<string, UsageTotals>;
  /** Per "route backend": latency histograms. */
  latency: Map<string, LatencyCounts & { route: string; backend: string }>;
}

export const hourStart = (ms: number): number => Math.floor(ms / HOUR_MS) * HOUR_MS;
const iso = (ms: number): string => new Date(ms).toISOString();

export class UsageLedger {
  private readonly hours = new Map<number, HourBucket>();
  private dirtyHours = new Set<number>();

  constructor(
    private readonly now: () => number,
    private readonly maxRowsPerHour = MAX_ROWS_PER_HOUR,
  ) {}

  private bucket(start: number): HourBucket {
    let b = this.hours.get(start);
    if (!b) {
      b = { rows: new Map(), latency: new Map() };
      this.hours.set(start, b);
    }
    this.dirtyHours.add(start);
    return b;
  }

  add(at: number, on: Attribution, delta: Readonly<UsageTotals>): void {
    const b = this.bucket(hourStart(at));
    let key = attributionKey(on);
    if (!b.rows.has(key) && b.rows.size >= this.maxRowsPerHour)
      key = attributionKey({ ...on, tenant: OTHER, namespace: OTHER, workload: OTHER });
    const row = b.rows.get(key) ?? zeroTotals();
    addTotals(row, delta);
    b.rows.set(key, row);
  }

  addLatency(at: number, route: string, backend: string, delta: LatencyCounts): void {
    const b = this.bucket(hourStart(at));
    const key = `${route} ${backend}`;
    let l = b.latency.get(key);
    if (!l) {
      l = { route, backend, ...emptyLatency() };
      b.latency.set(key, l);
    }
    addCounts(l.duration, delta.duration);
    addCounts(l.ttft, delta.ttft);
  }

  /** Drops buckets past retention; returns the hour starts dropped. */
  prune(): number[] {
    const cutoff = hourStart(this.now()) - RETENTION_MS;
    const dropped = [...this.hours.keys()].filter((h) => h < cutoff);
    for (const h of dropped) this.hours.delete(h);
    return dropped;
  }

  /** Hours changed since the last call (what a store needs to write). */
  takeDirtyHours(): number[] {
    const out = [...this.dirtyHours];
    this.dirtyHours = new Set();
    return out;
  }

  hour(start: number): HourBucket | undefined {
    return this.hours.get(start);
  }

  /** Adds stored content to an hour (loading a store, maybe after some traffic was counted). */
  restoreHour(start: number, bucket: HourBucket): void {
    const existing = this.hours.get(start);
    if (!existing) {
      this.hours.set(start, bucket);
      return;
    }
    for (const [key, t] of bucket.rows) {
      const row = existing.rows.get(key) ?? zeroTotals();
      addTotals(row, t);
      existing.rows.set(key, row);
    }
    for (const l of bucket.latency.values()) this.addLatency(start, l.route, l.backend, l);
    this.dirtyHours.add(start);
  }

  /** Marks an hour to be written again (a failed write). */
  markDirty(start: number): void {
    this.dirtyHours.add(start);
  }

  /** Hour starts covering the last `sinceMs`, oldest first. */
  private span(sinceMs: number): { from: number; to: number; starts: number[] } {
    const to = this.now();
    const from = hourStart(to - Math.max(sinceMs, 1) + 1);
    const starts: number[] = [];
    for (let h = from; h <= to; h += HOUR_MS) starts.push(h);
    return { from, to, starts };
  }

  private *rowsIn(starts: readonly number[]): Generator<[number, Attribution, UsageTotals]> {
    for (const h of starts) {
      const b = this.hours.get(h);
      if (!b) continue;
      for (const [key, totals] of b.rows) yield [h, attributionOfKey(key), totals];
    }
  }

  /** Totals of the rows a predicate keeps over the last `sinceMs`. */
  totals(sinceMs: number, keep: (on: Attribution) => boolean = () => true): UsageTotals {
    const out = zeroTotals();
    for (const [, on, t] of this.rowsIn(this.span(sinceMs).starts)) if (keep(on)) addTotals(out, t);
    return out;
  }

  /**
   * Every route's totals over each window (e.g. 24 h and 30 d), in one pass
   * over the ledger: status is built from this for all routes at once.
   */
  routeTotals(windowsMs: readonly number[]): Map<string, UsageTotals[]> {
    return this.totalsBy('route', windowsMs);
  }

  /** As routeTotals, for any dimension (tenants' status uses 'tenant'). */
  totalsBy(by: UsageDimension, windowsMs: readonly number[]): Map<string, UsageTotals[]> {
    const spans = windowsMs.map((w) => this.span(w).from);
    const earliest = Math.min(...spans);
    const out = new Map<string, UsageTotals[]>();
    for (const [h, b] of this.hours) {
      if (h < earliest) continue;
      for (const [key, t] of b.rows) {
        const route = by === 'route' ? routeOfKey(key) : dimensionValue(attributionOfKey(key), by);
        let sums = out.get(route);
        if (!sums) {
          sums = windowsMs.map(() => zeroTotals());
          out.set(route, sums);
        }
        spans.forEach((from, i) => {
          if (h >= from) addTotals(sums[i] as UsageTotals, t);
        });
      }
    }
    return out;
  }

  usage(query: { sinceMs: number; by: UsageDimension; step: '1h' | '1d' }): UsageReport {
    const { from, to, starts } = this.span(query.sinceMs);
    const stepMs = query.step === '1d' ? DAY_MS : HOUR_MS;
    const totals = zeroTotals();
    const groups = new Map<string, UsageTotals>();
    const series = new Map<number, Map<string, { costUSD: number; requests: number }>>();
    const firstPoint = Math.floor(from / stepMs) * stepMs;
    for (let p = firstPoint; p <= to; p += stepMs) series.set(p, new Map());
    for (const [h, on, t] of this.rowsIn(starts)) {
      addTotals(totals, t);
      const key = dimensionValue(on, query.by);
      const g = groups.get(key) ?? zeroTotals();
      addTotals(g, t);
      groups.set(key, g);
      const point = series.get(Math.floor(h / stepMs) * stepMs);
      if (point) {
        const v = point.get(key) ?? { costUSD: 0, requests: 0 };
        v.costUSD += t.costUSD;
        v.requests += t.requests;
        point.set(key, v);
      }
    }
    return {
      from: iso(from),
      to: iso(to),
      by: query.by,
      step: query.step,
      totals: rounded(totals),
      groups: [...groups.entries()]
        .map(([key, t]) => ({ key, ...rounded(t) }))
        .sort(
          (a, b) => b.costUSD - a.costUSD || b.requests - a.requests || (a.key < b.key ? -1 : 1),
        ),
      series: [...series.entries()].map(([start, g]) => ({
        start: iso(start),
        groups: Object.fromEntries(
          [...g.entries()].map(([k, v]) => [k, { costUSD: usd(v.costUSD), requests: v.requests }]),
        ),
      })),
    };
  }

  savings(query: { sinceMs: number }): SavingsReport {
    const { from, to, starts } = this.span(query.sinceMs);
    const byRoute = new Map<string, UsageTotals>();
    const all = zeroTotals();
    for (const [, on, t] of this.rowsIn(starts)) {
      const r = byRoute.get(on.route) ?? zeroTotals();
      addTotals(r, t);
      byRoute.set(on.route, r);
      addTotals(all, t);
    }
    const { route: _, strongShare: __, ...total } = savingsOf('', all);
    return {
      from: iso(from),
      to: iso(to),
      routes: [...byRoute.entries()]
        .map(([route, t]) => savingsOf(route, t))
        .sort((a, b) => b.savedUSD - a.savedUSD || (a.route < b.route ? -1 : 1)),
      total,
    };
  }

  latency(query: { sinceMs: number }): LatencyReport {
    const { from, to, starts } = this.span(query.sinceMs);
    const sums = new Map<string, LatencyCounts & { route: string; backend: string }>();
    for (const h of starts)
      for (const [key, l] of this.hours.get(h)?.latency ?? []) {
        let s = sums.get(key);
        if (!s) {
          s = { route: l.route, backend: l.backend, ...emptyLatency() };
          sums.set(key, s);
        }
        addCounts(s.duration, l.duration);
        addCounts(s.ttft, l.ttft);
      }
    return {
      from: iso(from),
      to: iso(to),
      routes: [...sums.values()]
        .sort((a, b) => (a.route + a.backend < b.route + b.backend ? -1 : 1))
        .map((s) => latencyOf(s)),
    };
  }

  /** Hours in which requests failed, per route, newest first. */
  errorEntries(sinceMs: number): TimelineEntry[] {
    const { starts } = this.span(sinceMs);
    const out: TimelineEntry[] = [];
    for (const h of [...starts].reverse()) {
      const byRoute = new Map<string, { errors: number; requests: number }>();
      for (const [, on, t] of this.rowsIn([h])) {
        if (t.errors === 0) continue;
        const e = byRoute.get(on.route) ?? { errors: 0, requests: 0 };
        e.errors += t.errors;
        e.requests += t.requests;
        byRoute.set(on.route, e);
      }
      for (const [route, e] of [...byRoute.entries()].sort()) {
        out.push({
          time: iso(h),
          kind: 'errors',
          route,
          count: e.errors,
          message: `${e.errors} of ${e.requests} requests failed in the hour`,
        });
      }
    }
    return out;
  }
}

function usd(n: number): number {
  return Math.round(n * 1e6) / 1e6;
}

function rounded(t: UsageTotals): UsageTotals {
  const out = { ...t };
  for (const c of USAGE_COUNTERS) if (c.endsWith('USD')) out[c] = usd(out[c]);
  return out;
}

export function savingsOf(route: string, t: UsageTotals): RouteSavings {
  const saved = Math.max(0, t.mostExpensiveCostUSD - t.costUSD);
  return {
    route,
    costUSD: usd(t.costUSD),
    mostExpensiveCostUSD: usd(t.mostExpensiveCostUSD),
    strongestCostUSD: usd(t.strongestCostUSD),
    savedUSD: usd(saved),
    savedFraction:
      t.mostExpensiveCostUSD > 0
        ? Math.min(1, Math.round((saved / t.mostExpensiveCostUSD) * 10_000) / 10_000)
        : 0,
    ...(t.tieredRequests > 0
      ? { strongShare: Math.round((t.strongRequests / t.tieredRequests) * 10_000) / 10_000 }
      : {}),
    requests: t.requests,
  };
}

function latencyOf(s: LatencyCounts & { route: string; backend: string }) {
  const ms = (bounds: readonly number[], counts: number[], q: number) => {
    const v = quantileMs(bounds, counts, q);
    return v === undefined ? undefined : Math.round(v * 10) / 10;
  };
  const fields = {
    p50Ms: ms(DURATION_BOUNDS_MS, s.duration, 0.5),
    p95Ms: ms(DURATION_BOUNDS_MS, s.duration, 0.95),
    p99Ms: ms(DURATION_BOUNDS_MS, s.duration, 0.99),
    ttftP50Ms: ms(TTFT_BOUNDS_MS, s.ttft, 0.5),
    ttftP95Ms: ms(TTFT_BOUNDS_MS, s.ttft, 0.95),
    ttftP99Ms: ms(TTFT_BOUNDS_MS, s.ttft, 0.99),
  };
  return {
    route: s.route,
    backend: s.backend,
    requests: s.duration.reduce((a, b) => a + b, 0),
    ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)),
  };
}
