// Fleet-wide limits, budgets and load/time conditions (issue 14): the pieces
// ModelBackend, ModelTenant and ModelRoute share. A limit here holds across
// every proxy that uses it, not per proxy: the controller divides it among
// the proxies by their demand (enforcement: fleet), or every proxy counts in
// one shared store (enforcement: exact).
import { z } from 'zod';
import { count, objectName } from './common.js';

export const LIMIT_ENFORCEMENTS = ['fleet', 'exact'] as const;
export const STORE_UNAVAILABLE_ACTIONS = ['fleet-share', 'deny'] as const;

const enforcementFields = {
  enforcement: z
    .enum(LIMIT_ENFORCEMENTS)
    .default('fleet')
    .describe(
      'fleet: the controller divides each limit among the proxies by their recent demand and rebalances every few seconds (no extra component; bounded overshoot). exact: every proxy counts in the shared store (Redis or Valkey) the proxies are started with (--quota-store); a request is admitted only if the fleet total stays within the limit.',
    ),
  onStoreUnavailable: z
    .enum(STORE_UNAVAILABLE_ACTIONS)
    .default('fleet-share')
    .describe(
      'enforcement exact only: what a proxy does while the shared store cannot be reached. fleet-share (fail open, bounded): it enforces its fleet share as in fleet mode; deny (fail closed): the limit admits nothing, so requests go to other backends or get 429.',
    ),
};

/** Who may use how much of a limit under scarcity: low-priority tenants move first. */
export const priorityCeilings = z
  .strictObject({
    low: z
      .number()
      .min(0)
      .max(1)
      .default(0.8)
      .describe(
        'Low-priority tenants may use a backend until its busiest limit is this full, while a normal- or high-priority request wanted it in the last minute; then they move to other backends or are shed.',
      ),
    normal: z
      .number()
      .min(0)
      .max(1)
      .default(0.9)
      .describe(
        'The same for normal-priority tenants, while a high-priority request wanted the backend in the last minute. High priority may use all of it.',
      ),
  })
  .describe(
    'Headroom kept for higher priority classes when a backend nears its limits; held only while a higher class wants the backend (on that proxy, within the last minute), so traffic of one class alone may use the whole limit.',
  );

export const backendLimits = z
  .strictObject({
    rpm: z
      .int()
      .min(1)
      .max(1_000_000_000)
      .optional()
      .describe('Requests per minute the whole fleet of proxies may send (sliding 60 s window).'),
    tpm: z
      .int()
      .min(1)
      .max(1_000_000_000_000)
      .optional()
      .describe('Tokens (prompt + output) per minute the whole fleet may send.'),
    maxConcurrency: z
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe('Requests in flight across the whole fleet.'),
    ...enforcementFields,
    priorityCeilings: priorityCeilings.optional(),
    latencyObjectiveMs: z
      .int()
      .min(1)
      .max(3_600_000)
      .optional()
      .describe(
        'Latency objective: while recent latency exceeds it, the backend counts as scarce for low-priority tenants (they move to other backends).',
      ),
  })
  .describe('Limits that hold across every proxy that uses this backend (a provider quota).');
export type BackendLimits = z.infer<typeof backendLimits>;

export const tenantLimits = z
  .strictObject({
    rpm: z.int().min(1).max(1_000_000_000).optional().describe('Requests per minute, fleet-wide.'),
    tpm: z
      .int()
      .min(1)
      .max(1_000_000_000_000)
      .optional()
      .describe('Tokens per minute, fleet-wide.'),
    maxConcurrency: z
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .describe('Requests in flight, fleet-wide.'),
    ...enforcementFields,
  })
  .describe(
    'Limits on the tenant’s traffic across every proxy; over them its requests get 429 with Retry-After.',
  );
export type TenantLimits = z.infer<typeof tenantLimits>;

export const BUDGET_ACTIONS = ['refuse', 'downgrade'] as const;

const usd = z.number().min(0).max(1e12);

export const spendBudget = z
  .strictObject({
    dailyUSD: usd.optional().describe('Spend allowed per calendar day (UTC), in USD.'),
    monthlyUSD: usd.optional().describe('Spend allowed per calendar month (UTC), in USD.'),
    onExceeded: z
      .enum(BUDGET_ACTIONS)
      .default('refuse')
      .describe(
        'At 100%: refuse (429 naming the budget and when it resets) or downgrade (requests carry the budget-exceeded condition, so only rules with matches.budgetExceeded: true serve them; without such a rule they are refused). At 80% an Event and the BudgetWarning condition.',
      ),
  })
  .describe('Spend limits over day and month windows, counted from the proxies’ cost reports.');
export type SpendBudget = z.infer<typeof spendBudget>;

/** One budget window as status shows it. */
export const spendWindowStatus = z.strictObject({
  start: z.string().describe('Start of the window (RFC 3339).'),
  resetAt: z.string().describe('When the window ends and spend starts again from 0 (RFC 3339).'),
  spentUSD: z.number().min(0).describe('Spend counted in the window, in USD.'),
  budgetUSD: usd.optional().describe('The budget for the window, if one is set.'),
  display: z
    .string()
    .max(64)
    .describe('Spend against budget for kubectl, e.g. "12.40/50.00" or "12.40" without a budget.'),
});
export type SpendWindowStatus = z.infer<typeof spendWindowStatus>;

export const spendStatus = z
  .strictObject({
    day: spendWindowStatus.optional(),
    month: spendWindowStatus.optional(),
    updatedAt: z.string().optional().describe('When the counts were last written (RFC 3339).'),
  })
  .describe(
    'Spend over the current day and month, summed over every proxy; kept in the API server, so it survives controller restarts and leader changes.',
  );
export type SpendStatus = z.infer<typeof spendStatus>;

export const WEEKDAYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const;
const clockTime = z
  .string()
  .regex(/^([01][0-9]|2[0-3]):[0-5][0-9]$/, { message: 'must be HH:MM, 24-hour, e.g. "09:00"' });

export const timeWindow = z
  .strictObject({
    days: z
      .array(z.enum(WEEKDAYS))
      .max(7)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'set' })
      .describe('Days of the week it applies; absent: every day.'),
    start: clockTime.describe('Start time of day, inclusive.'),
    end: clockTime.describe(
      'End time of day, exclusive; earlier than start means the window crosses midnight.',
    ),
    timeZone: z
      .string()
      .max(64)
      .default('UTC')
      .describe('IANA time zone the times are in, e.g. "America/New_York".'),
  })
  .describe('A time of day (and days of the week) when a match applies, e.g. a planned peak.');
export type TimeWindow = z.infer<typeof timeWindow>;

export const loadCondition = z
  .strictObject({
    backend: objectName.describe('A ModelBackend whose load this condition looks at.'),
    namespace: objectName.optional().describe("Its namespace; default the route's."),
    above: z
      .number()
      .min(0)
      .max(10)
      .describe(
        "Holds while the backend's load exceeds this: the fullest of its rpm, tpm and concurrency limits as a fraction (this proxy's fleet share), or its recent latency over its latencyObjectiveMs. 0.8 = 80% of a limit.",
      ),
  })
  .describe('A backend near its quota, concurrency limit or latency objective.');
export type LoadCondition = z.infer<typeof loadCondition>;

/** Shared shape of fleet-limit status on a backend or tenant. */
export const fleetLimitStatus = z
  .strictObject({
    proxies: count.describe('Proxies the limit is divided among.'),
    requestsLastMinute: count
      .optional()
      .describe('Requests the fleet admitted in the last minute.'),
    tokensLastMinute: count.optional().describe('Tokens the fleet counted in the last minute.'),
    refusedLastMinute: count
      .optional()
      .describe('Requests refused or moved elsewhere by the limit in the last minute.'),
  })
  .describe('How the fleet uses the limit, as the proxies report it.');
export type FleetLimitStatus = z.infer<typeof fleetLimitStatus>;

const windowCost = z.strictObject({
  requests: z.int().min(0).describe('Requests served.'),
  costUSD: z.number().min(0).describe('Estimated spend in USD.'),
});

/** Attributed cost over 24 hours and 30 days, from the controller's usage ledger (issue 16). */
export const costStatus = z
  .strictObject({
    last24h: windowCost.optional().describe('The last 24 hours (whole hours).'),
    last30d: windowCost
      .extend({
        mostExpensiveCostUSD: z
          .number()
          .min(0)
          .describe(
            "What the same traffic would have cost on the route's most expensive eligible backend.",
          ),
        strongestCostUSD: z
          .number()
          .min(0)
          .describe("What the same traffic would have cost on the route's strongest backend."),
        savedUSD: z.number().min(0).describe('mostExpensiveCostUSD minus costUSD.'),
        savedPercent: z
          .number()
          .min(0)
          .max(100)
          .describe('savedUSD over mostExpensiveCostUSD, in percent.'),
        strongShare: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe('Share of cost-quality decisions sent to the strong tier.'),
      })
      .optional()
      .describe('The last 30 days.'),
    savings: z
      .string()
      .max(128)
      .optional()
      .describe('The 30-day saving as shown by kubectl, e.g. "$12.30 (41%)".'),
    updatedAt: z.string().optional().describe('When the figures were computed (RFC 3339).'),
  })
  .describe('Spend and savings from the usage ledger, which survives controller restarts.');
export type CostStatus = z.infer<typeof costStatus>;
