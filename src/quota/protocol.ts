// The quota protocol between the controller and the proxies (issue 14): the
// controller divides each fleet-wide limit and budget among the proxies and
// pushes each its assignment (PUT /admin/v1/quotas); each proxy reports what
// it admitted, refused and spent (GET /admin/v1/stats, field `quotas`).
// Both sides import this module: one definition of the wire format.
import { z } from 'zod';

/** Who a limit or budget belongs to: `backend:<ns>/<name>`, `tenant:<ns>/<name>` or `route:<ns>/<name>`. */
export type QuotaKey = `backend:${string}` | `tenant:${string}` | `route:${string}`;
const quotaKey = z
  .string()
  .regex(/^(backend|tenant|route):[^/\s]+\/[^/\s]+$/) as unknown as z.ZodType<QuotaKey>;

export const backendQuotaKey = (backendId: string): QuotaKey => `backend:${backendId}`;
export const tenantQuotaKey = (tenantId: string): QuotaKey => `tenant:${tenantId}`;
export const routeQuotaKey = (routeId: string): QuotaKey => `route:${routeId}`;

const amount = z.number().min(0).max(1e15);

/** rpm / tpm / concurrency amounts; absent: not limited. */
export const limitAmounts = z.strictObject({
  rpm: amount.optional(),
  tpm: amount.optional(),
  maxConcurrency: amount.optional(),
});
export type LimitAmounts = z.infer<typeof limitAmounts>;

/** One proxy's share of one fleet-wide limit. */
export const limitShare = z.strictObject({
  key: quotaKey,
  /** What this proxy may use: its sliding-minute counts and in-flight requests stay within these. */
  share: limitAmounts,
  /**
   * What it falls back to when no assignment arrives for `validForMs`
   * (controller down or unreachable): never more than `share`, and small
   * enough that every proxy on its safe share together stays within the limit.
   */
  safe: limitAmounts,
  /** The fleet-wide limit itself, for status and messages. */
  limit: limitAmounts,
});
export type LimitShare = z.infer<typeof limitShare>;

export const BUDGET_STATES = ['ok', 'warning', 'exceeded'] as const;

/** One budget window (a tenant's or route's day or month) as a proxy enforces it. */
export const budgetShare = z.strictObject({
  key: quotaKey,
  window: z.enum(['day', 'month']),
  budgetUSD: amount,
  /** Spend the fleet counted in the window when this assignment was made. */
  spentUSD: amount,
  /** Epoch ms at which the window resets (spend starts again from 0). */
  resetAtMs: z.int().min(0),
  state: z.enum(BUDGET_STATES),
  onExceeded: z.enum(['refuse', 'downgrade']),
  /**
   * What this proxy may still spend in the window before it treats the budget
   * as exceeded on its own (its share of what is left): the bound on overspend
   * between two assignments.
   */
  allowanceUSD: amount,
  /**
   * What this proxy may spend since the assignment once it is older than
   * validForMs (controller gone): the controller gives min(allowance, what is
   * left / proxies). Absent (older controllers): min(allowance, what is left /
   * UNASSIGNED_SHARE_DIVISOR).
   */
  safeAllowanceUSD: amount.optional(),
});
export type BudgetShare = z.infer<typeof budgetShare>;

/** PUT /admin/v1/quotas body. */
export const quotaAssignment = z.strictObject({
  /** Increases with every assignment of a leader term; a proxy refuses an older one than it holds (409). */
  sequence: z.int().min(0),
  /** The leader term (identity + term start) that made it: a new term may restart the sequence. */
  term: z.string().min(1).max(256),
  issuedAtMs: z.int().min(0),
  /** How long the shares stand without a newer assignment before the proxy uses `safe`. */
  validForMs: z.int().min(1).max(3_600_000),
  limits: z.array(limitShare).max(100_000),
  budgets: z.array(budgetShare).max(100_000),
});
export type QuotaAssignment = z.infer<typeof quotaAssignment>;

const cumulative = z.number().min(0);

/** Per limit key, what one proxy saw: cumulative counters since the process started, plus its window now. */
export const limitUsage = z.strictObject({
  key: quotaKey,
  /** Requests admitted (sent) under this limit since the proxy started. */
  admitted: cumulative,
  /** Requests this limit refused or moved to another backend since the proxy started. */
  refused: cumulative,
  /** Tokens counted (estimates corrected by real usage) since the proxy started. */
  tokens: cumulative,
  /** The proxy's sliding-minute counts now, and requests in flight now. */
  windowRequests: cumulative,
  windowTokens: cumulative,
  inFlight: cumulative,
});
export type LimitUsage = z.infer<typeof limitUsage>;

/** Cumulative cost per tenant (routes already report theirs in `routes`). */
export const tenantSpend = z.strictObject({
  tenantId: z.string().min(1),
  requests: cumulative,
  costUsd: cumulative,
});
export type TenantSpend = z.infer<typeof tenantSpend>;

/** The `quotas` field of GET /admin/v1/stats. */
export const proxyQuotaStats = z.strictObject({
  /** The assignment the proxy runs ({term, sequence}), null before the first. */
  assignment: z.strictObject({ term: z.string(), sequence: z.int().min(0) }).nullable(),
  limits: z.array(limitUsage),
  tenants: z.array(tenantSpend),
});
export type ProxyQuotaStats = z.infer<typeof proxyQuotaStats>;
