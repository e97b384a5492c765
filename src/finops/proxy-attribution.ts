// A proxy's traffic attributed to route, rule, backend, model, tier, tenant
// and caller, cumulative since the proxy started, with latency histograms per
// route and backend. Reported at /admin/v1/stats; the controller takes deltas
// per pod into its ledger, and `modelroute dev` feeds its own ledger the same way.
import {
  OTHER,
  attributionKey,
  zeroTotals,
  type Attribution,
  type AttributionRow,
} from './attribution.js';
import type { UsageTotals } from './api-types.js';
import {
  DURATION_BOUNDS_MS,
  TTFT_BOUNDS_MS,
  bucketOf,
  emptyLatency,
  type LatencyCounts,
  type LatencyRow,
} from './latency-histogram.js';

/** One finished request, as far as cost and attribution go. */
export interface RequestOutcome {
  on: Attribution;
  /** The HTTP status the client got. */
  status: number;
  /** Served by another backend than the first one tried. */
  fallback: boolean;
  /** Whether a cost-quality rule decided the tier. */
  tiered: boolean;
  tokens?: { input: number; output: number; cachedInput?: number; cacheWriteInput?: number };
  costUSD: number;
  mostExpensiveCostUSD: number;
  strongestCostUSD: number;
  durationMs: number;
  ttftMs?: number | undefined;
}

/** Distinct rows a proxy keeps before new callers fold into "(other)". */
export const MAX_PROXY_ROWS = 2_000;

const whole = (n: number | undefined): number =>
  n !== undefined && Number.isFinite(n) && n > 0 ? Math.round(n) : 0;
const money = (n: number): number => (Number.isFinite(n) && n > 0 ? n : 0);

export class ProxyAttribution {
  private readonly rows = new Map<string, { on: Attribution; totals: UsageTotals }>();
  private readonly latencyRows = new Map<
    string,
    LatencyCounts & { route: string; backend: string }
  >();

  constructor(private readonly maxRows = MAX_PROXY_ROWS) {}

  record(outcome: RequestOutcome): void {
    const row = this.row(outcome.on);
    const t = row.totals;
    t.requests += 1;
    if (outcome.status >= 400) t.errors += 1;
    if (outcome.fallback) t.fallbacks += 1;
    if (outcome.tiered) {
      t.tieredRequests += 1;
      if (outcome.on.tier === 'strong') t.strongRequests += 1;
    }
    const tokens = outcome.tokens;
    if (tokens) {
      t.inputTokens += whole(tokens.input);
      t.outputTokens += whole(tokens.output);
      t.cachedInputTokens += whole(tokens.cachedInput);
      t.cacheWriteTokens += whole(tokens.cacheWriteInput);
    }
    t.costUSD += money(outcome.costUSD);
    t.mostExpensiveCostUSD += money(outcome.mostExpensiveCostUSD);
    t.strongestCostUSD += money(outcome.strongestCostUSD);
    if (outcome.on.backend) this.latency(outcome);
  }

  private row(on: Attribution): { on: Attribution; totals: UsageTotals } {
    let key = attributionKey(on);
    let row = this.rows.get(key);
    if (row) return row;
    if (this.rows.size >= this.maxRows) {
      // Unbounded callers (API keys, workloads) must not grow a proxy's memory.
      on = { ...on, tenant: OTHER, namespace: OTHER, workload: OTHER };
      key = attributionKey(on);
      row = this.rows.get(key);
      if (row) return row;
    }
    row = { on: { ...on }, totals: zeroTotals() };
    this.rows.set(key, row);
    return row;
  }

  private latency(outcome: RequestOutcome): void {
    const { route, backend } = outcome.on;
    const key = `${route} ${backend}`;
    let counts = this.latencyRows.get(key);
    if (!counts) {
      counts = { route, backend, ...emptyLatency() };
      this.latencyRows.set(key, counts);
    }
    const d = bucketOf(DURATION_BOUNDS_MS, outcome.durationMs);
    counts.duration[d] = (counts.duration[d] ?? 0) + 1;
    if (outcome.ttftMs !== undefined) {
      const f = bucketOf(TTFT_BOUNDS_MS, outcome.ttftMs);
      counts.ttft[f] = (counts.ttft[f] ?? 0) + 1;
    }
  }

  /** Cumulative rows, copied. */
  stats(): { attribution: AttributionRow[]; latency: LatencyRow[] } {
    return {
      attribution: [...this.rows.values()].map((r) => ({
        on: { ...r.on },
        totals: { ...r.totals },
      })),
      latency: [...this.latencyRows.values()].map((l) => ({
        route: l.route,
        backend: l.backend,
        duration: [...l.duration],
        ttft: [...l.ttft],
      })),
    };
  }
}
