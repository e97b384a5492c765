// The FinOps read API: what the dashboard, `modelroute report` and tests read
// from the controller (in a cluster) or from `modelroute dev`'s admin port
// (locally). The shapes are zod schemas because the report CLI and the
// browser test read them back over HTTP (a trust boundary).
import { z } from 'zod';

/** A grouping the usage API can break traffic down by. */
export const usageDimension = z.enum([
  'tenant',
  'namespace',
  'workload',
  'route',
  'rule',
  'model',
  'backend',
  'tier',
]);
export type UsageDimension = z.infer<typeof usageDimension>;

const amount = z.number().min(0);
const whole = z.int().min(0);

/** Counters summed over some requests. Costs are estimates in USD. */
export const usageTotals = z.object({
  requests: whole,
  /** Requests answered with an error (after retries and fallbacks). */
  errors: whole,
  /** Requests served by another backend than the first one tried. */
  fallbacks: whole,
  inputTokens: whole,
  outputTokens: whole,
  /** Input tokens read from a provider's prompt cache (part of inputTokens). */
  cachedInputTokens: whole,
  /** Input tokens written to a provider's prompt cache (Anthropic; part of inputTokens). */
  cacheWriteTokens: whole,
  costUSD: amount,
  /** What the same requests would have cost on the route's most expensive eligible backend. */
  mostExpensiveCostUSD: amount,
  /** What the same requests would have cost on the route's strongest backend. */
  strongestCostUSD: amount,
  /** Requests a cost-quality rule sent to its strong tier. */
  strongRequests: whole,
  /** Requests a cost-quality rule decided (the strong share's denominator). */
  tieredRequests: whole,
});
export type UsageTotals = z.infer<typeof usageTotals>;

export const usageGroup = usageTotals.extend({ key: z.string() });
export type UsageGroup = z.infer<typeof usageGroup>;

/** One bucket of a time series: spend and requests per group key. */
export const usagePoint = z.object({
  /** Bucket start, RFC 3339. */
  start: z.string(),
  groups: z.record(z.string(), z.object({ costUSD: amount, requests: whole })),
});
export type UsagePoint = z.infer<typeof usagePoint>;

/** GET /api/v1/usage?since=7d&by=tenant[&step=1h|1d] */
export const usageReport = z.object({
  /** RFC 3339 bounds of the figures. */
  from: z.string(),
  to: z.string(),
  by: usageDimension,
  step: z.enum(['1h', '1d']),
  totals: usageTotals,
  /** Largest spend first. */
  groups: z.array(usageGroup),
  /** Oldest bucket first; buckets with no traffic are present with no groups. */
  series: z.array(usagePoint),
});
export type UsageReport = z.infer<typeof usageReport>;

/** Savings of one route over the window ("saved $X, Y%"). */
export const routeSavings = z.object({
  route: z.string(),
  costUSD: amount,
  mostExpensiveCostUSD: amount,
  strongestCostUSD: amount,
  /** mostExpensiveCostUSD - costUSD (never negative). */
  savedUSD: amount,
  /** savedUSD / mostExpensiveCostUSD, 0 when nothing was spent. */
  savedFraction: z.number().min(0).max(1),
  /** strongRequests / tieredRequests, absent when no cost-quality rule decided. */
  strongShare: z.number().min(0).max(1).optional(),
  requests: whole,
});
export type RouteSavings = z.infer<typeof routeSavings>;

/** GET /api/v1/savings?since=30d */
export const savingsReport = z.object({
  from: z.string(),
  to: z.string(),
  routes: z.array(routeSavings),
  total: routeSavings.omit({ route: true, strongShare: true }),
});
export type SavingsReport = z.infer<typeof savingsReport>;

/** Latency of one route and backend over the window, from the proxies' histograms. */
export const latencySummary = z.object({
  route: z.string(),
  backend: z.string(),
  requests: whole,
  p50Ms: amount.optional(),
  p95Ms: amount.optional(),
  p99Ms: amount.optional(),
  /** Time to first token of streamed answers. */
  ttftP50Ms: amount.optional(),
  ttftP95Ms: amount.optional(),
  ttftP99Ms: amount.optional(),
});
export type LatencySummary = z.infer<typeof latencySummary>;

/** GET /api/v1/latency?since=24h */
export const latencyReport = z.object({
  from: z.string(),
  to: z.string(),
  routes: z.array(latencySummary),
});
export type LatencyReport = z.infer<typeof latencyReport>;

/** One entry of the error and failover timeline. */
export const timelineEntry = z.object({
  time: z.string(),
  kind: z.enum(['failover', 'recovery', 'errors']),
  route: z.string().optional(),
  backend: z.string().optional(),
  /** For kind "errors": how many requests failed in the bucket starting at `time`. */
  count: whole.optional(),
  message: z.string(),
});
export type TimelineEntry = z.infer<typeof timelineEntry>;

/** GET /api/v1/timeline?since=24h — newest first. */
export const timelineReport = z.object({
  from: z.string(),
  to: z.string(),
  entries: z.array(timelineEntry),
});
export type TimelineReport = z.infer<typeof timelineReport>;

/** One budget's state (ModelTenant or ModelRoute spend limits). */
export const budgetView = z.object({
  scope: z.enum(['tenant', 'route']),
  namespace: z.string().optional(),
  name: z.string(),
  /** e.g. "24h" or "month". */
  window: z.string(),
  limitUSD: amount,
  spentUSD: amount,
  /** spentUSD / limitUSD. */
  ratio: amount,
});
export type BudgetView = z.infer<typeof budgetView>;

/** GET /api/v1/budgets */
export const budgetsReport = z.object({ budgets: z.array(budgetView) });
export type BudgetsReport = z.infer<typeof budgetsReport>;

/**
 * Where the API's figures come from: the controller's durable ledger in a
 * cluster, the dev proxy's own ledger locally. Windows are in milliseconds
 * ending now.
 */
export interface FinopsSource {
  usage(query: { sinceMs: number; by: UsageDimension; step: '1h' | '1d' }): Promise<UsageReport>;
  savings(query: { sinceMs: number }): Promise<SavingsReport>;
  latency(query: { sinceMs: number }): Promise<LatencyReport>;
  timeline(query: { sinceMs: number }): Promise<TimelineReport>;
  budgets(): Promise<BudgetsReport>;
}

/** Thrown by a source that cannot answer now (the API says 503 with its message). */
export class SourceUnavailableError extends Error {}
