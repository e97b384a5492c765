// The FinOps API's query strings (`since`, `by`, `step`), parsed with zod: a
// bad value gets a 400 that says what was wrong and what is allowed.
import { z } from 'zod';
import { usageDimension, type UsageDimension } from '../finops/api-types.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;
const UNIT_MS = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS } as const;

/** The longest window the ledger keeps (hourly buckets, 30 days). */
export const MAX_SINCE_MS = 30 * DAY_MS;
export const DEFAULT_SINCE = '24h';
/** Windows up to this long default to hourly buckets, longer ones to daily. */
const HOURLY_STEP_UP_TO_MS = 48 * HOUR_MS;

const SINCE_HINT = 'a whole number of minutes, hours or days such as 30m, 24h or 7d, at most 30d';

/** "30m" | "24h" | "7d" → milliseconds, within (0, 30d]. */
export const sinceDuration = z
  .string()
  .regex(/^[1-9]\d{0,5}[mhd]$/, { error: `since must be ${SINCE_HINT}` })
  .transform((value) => Number(value.slice(0, -1)) * UNIT_MS[value.at(-1) as keyof typeof UNIT_MS])
  .refine((ms) => ms <= MAX_SINCE_MS, { error: `since is longer than 30d; use ${SINCE_HINT}` });

export const usageStep = z.enum(['1h', '1d'], { error: 'step must be 1h or 1d' });
export type UsageStep = z.infer<typeof usageStep>;

const by = z.enum(usageDimension.options, {
  error: `by must be one of ${usageDimension.options.join(', ')}`,
});

// prefault: the default goes through the parse ("24h" → ms), as a given value does.
const since = sinceDuration.prefault(DEFAULT_SINCE);

const windowQuery = z.strictObject({ since }, { error: unknownParameter });
const usageQueryShape = z.strictObject(
  { since, by: by.default('route'), step: usageStep.optional() },
  { error: unknownParameter },
);
const noQuery = z.strictObject({}, { error: unknownParameter });

function unknownParameter(issue: { code?: string; keys?: string[] }): string | undefined {
  if (issue.code !== 'unrecognized_keys') return undefined;
  return `unknown query parameter ${(issue.keys ?? []).map((k) => `'${k}'`).join(', ')}`;
}

export interface WindowQuery {
  sinceMs: number;
}
export interface UsageQuery {
  sinceMs: number;
  by: UsageDimension;
  step: UsageStep;
}

export type QueryResult<T> = { ok: true; value: T } | { ok: false; error: string };

/** The query of /api/v1/usage: since (default 24h), by (default route), step (1h up to 48h, else 1d). */
export function parseUsageQuery(params: URLSearchParams): QueryResult<UsageQuery> {
  const parsed = parseWith(usageQueryShape, params, 'since, by, step');
  if (!parsed.ok) return parsed;
  const { since: sinceMs, by: dimension, step } = parsed.value;
  return {
    ok: true,
    value: { sinceMs, by: dimension, step: step ?? defaultStep(sinceMs) },
  };
}

/** The query of /api/v1/savings, /latency and /timeline: since (default 24h). */
export function parseWindowQuery(params: URLSearchParams): QueryResult<WindowQuery> {
  const parsed = parseWith(windowQuery, params, 'since');
  return parsed.ok ? { ok: true, value: { sinceMs: parsed.value.since } } : parsed;
}

/** /api/v1/budgets takes no parameters. */
export function parseNoQuery(params: URLSearchParams): QueryResult<Record<string, never>> {
  const parsed = parseWith(noQuery, params, 'no parameters');
  return parsed.ok ? { ok: true, value: {} } : parsed;
}

export function defaultStep(sinceMs: number): UsageStep {
  return sinceMs <= HOURLY_STEP_UP_TO_MS ? '1h' : '1d';
}

function parseWith<T>(
  schema: z.ZodType<T>,
  params: URLSearchParams,
  allowed: string,
): QueryResult<T> {
  const fields: Record<string, string> = {};
  for (const [key, value] of params) {
    if (key in fields) return { ok: false, error: `query parameter '${key}' is given twice` };
    fields[key] = value;
  }
  const parsed = schema.safeParse(fields);
  if (parsed.success) return { ok: true, value: parsed.data };
  const issue = parsed.error.issues[0];
  const message = issue?.message ?? 'invalid query';
  return {
    ok: false,
    error: issue?.code === 'unrecognized_keys' ? `${message}; allowed: ${allowed}` : message,
  };
}
