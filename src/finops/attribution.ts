// What one unit of traffic is attributed to, and the counters kept for it.
// Proxies keep these rows cumulative since they started (as for route usage);
// the controller takes deltas per pod into the durable ledger. The same row
// shape flows from proxy stats to ledger to report, so one set of names.
import { z } from 'zod';
import { usageTotals, type UsageDimension, type UsageTotals } from './api-types.js';

/** Who and what a request's traffic is attributed to. "" where not known. */
export interface Attribution {
  route: string;
  rule: string;
  backend: string;
  model: string;
  /** The cost-quality tier that led (strong, cheap, sufficient) or "". */
  tier: string;
  tenant: string;
  /** The caller's namespace (its pod, ServiceAccount or key). */
  namespace: string;
  /** The caller's workload: app label, ServiceAccount or API key id. */
  workload: string;
}

export const ATTRIBUTION_DIMENSIONS = [
  'route',
  'rule',
  'backend',
  'model',
  'tier',
  'tenant',
  'namespace',
  'workload',
] as const satisfies readonly (keyof Attribution)[];

export const USAGE_COUNTERS = [
  'requests',
  'errors',
  'fallbacks',
  'inputTokens',
  'outputTokens',
  'cachedInputTokens',
  'cacheWriteTokens',
  'costUSD',
  'mostExpensiveCostUSD',
  'strongestCostUSD',
  'strongRequests',
  'tieredRequests',
] as const satisfies readonly (keyof UsageTotals)[];
export type UsageCounter = (typeof USAGE_COUNTERS)[number];

/** The dimension a report groups by, read from a row. */
export function dimensionValue(a: Attribution, by: UsageDimension): string {
  return a[by];
}

export function zeroTotals(): UsageTotals {
  return Object.fromEntries(USAGE_COUNTERS.map((c) => [c, 0])) as UsageTotals;
}

export function addTotals(into: UsageTotals, more: Readonly<UsageTotals>): void {
  for (const c of USAGE_COUNTERS) into[c] += more[c];
}

// A key no dimension value can fake: values are joined with a control character they cannot hold.
const SEPARATOR = '\u001f';

export function attributionKey(a: Attribution): string {
  return ATTRIBUTION_DIMENSIONS.map((d) => a[d].replaceAll(SEPARATOR, '')).join(SEPARATOR);
}

/** The route of a key, without splitting the rest (route is the first dimension). */
export function routeOfKey(key: string): string {
  const end = key.indexOf(SEPARATOR);
  return end === -1 ? key : key.slice(0, end);
}

export function attributionOfKey(key: string): Attribution {
  const parts = key.split(SEPARATOR);
  return Object.fromEntries(ATTRIBUTION_DIMENSIONS.map((d, i) => [d, parts[i] ?? ''])) as never;
}

/** Folded into when a proxy or a ledger hour holds too many distinct rows. */
export const OTHER = '(other)';

const label = z.string().max(512);
export const attributionSchema = z.object({
  route: label,
  rule: label,
  backend: label,
  model: label,
  tier: label,
  tenant: label,
  namespace: label,
  workload: label,
});

/** The counters as zod reads them (proxy stats, stored ledger days). */
export const usageTotalsSchema = usageTotals;

/** One row of a proxy's /admin/v1/stats `attribution`: cumulative since the proxy started. */
export const attributionRowSchema = z.object({
  on: attributionSchema,
  totals: usageTotalsSchema,
});
export type AttributionRow = z.infer<typeof attributionRowSchema>;
