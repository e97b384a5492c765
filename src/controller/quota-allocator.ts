// Divides one fleet-wide limit (rpm, tpm, maxConcurrency) or what is left of
// one budget among the proxies that use it (issue 14, fleet mode). Pure: the
// QuotaCoordinator feeds it the proxies' last reports and pushes the result.
//
// Each proxy keeps what it already counts in its sliding minute (its share is
// never below its count unless the fleet is over the limit), so capacity moved
// to another proxy is capacity nobody has used in the window: moving it does
// not admit twice within a minute. The free capacity (limit − Σ counted − what
// unreachable proxies hold) goes by recent demand (admitted + refused), and a
// small pool to proxies with no demand, so one that starts getting traffic is
// not stuck at 0 until the next report. Not max-min fair on unmet demand: in
// the fleet simulation that handed the noisy small proxies capacity they did
// not use (worst saturated sliding minute 502-508 of 600, against 521-531 by
// demand, in the same runs); a proxy's own expiring window refills it, so a
// steady small proxy keeps what it uses anyway.
//
// OVERSHOOT BOUND. A proxy's count in any 60 s window is at most the largest
// share it held in that window (it admits only while its count is below its
// share). Shares add up to at most limit + C, where C ≤ OVERCOMMIT_FRACTION ×
// limit is one unit more for each saturated proxy (see OVERCOMMIT_FRACTION:
// it makes up for the free slots that wait at n proxies for their next
// request). Counts are read at report time; what a proxy admits between its
// report and applying the assignment built from it is not in the count, so
// that capacity may be given to another proxy as well. Hence, in any sliding
// 60 s window, the fleet admits at most
//     limit + C + A,  A = what the fleet admits between a report and applying
//                         the assignment built from it (≤ the headroom the
//                         previous assignment left: Σ share − Σ counted).
// Under sustained demand above the limit the window frees about limit/60 per
// second, so A ≈ limit × (report-to-apply delay + collection interval) / 60 s:
// with the default 2 s collection and ~1 s delay, 600 rpm → C ≤ 12 and A ≤ 30
// (7% together; in practice A is mostly the same capacity as C's free slots).
// quota-allocator.test.ts simulates 20 proxies with skewed demand and checks
// exactly this (overshootBound below). Measured there, 600 rpm, demand twice
// the limit ramped up over two minutes and the busiest proxy moving every 3
// minutes, delays 0-2 s: at most 615-625 in any sliding minute; at least
// 564-577 in every sliding minute once saturated (one exact limiter on the
// same arrivals: 589). bench quotas, real proxies: 617 and 581 (exact 612, 588).
import type { LimitAmounts } from '../quota/protocol.js';
import { UNASSIGNED_SHARE_DIVISOR } from '../quota/quota-state.js';

// Before its first assignment a proxy enforces limit / UNASSIGNED_SHARE_DIVISOR;
// the controller counts a proxy it knows nothing more about as holding that much.
export { UNASSIGNED_SHARE_DIVISOR };

/**
 * Of the free capacity, this fraction is kept for proxies with no recent
 * demand (split among them): small, so that idle proxies do not hold back
 * what busy ones could admit (the ≥ 95% figure under saturation), yet enough
 * that a proxy whose traffic starts is not refused until the next report.
 */
export const IDLE_POOL_FRACTION = 0.05;

/**
 * Documented overshoot per second of report-to-apply delay plus collection
 * interval, as a fraction of the limit (a sliding minute frees limit/60 per second).
 */
export const OVERSHOOT_FRACTION_PER_SECOND = 1 / 60;

/**
 * The bound above (C + A), for a limit, a collection interval and a
 * report-to-apply delay. OVERCOMMIT_FRACTION is declared below.
 */
export function overshootBound(limit: number, intervalMs: number, delayMs: number): number {
  const overcommit = Math.floor(limit * OVERCOMMIT_FRACTION);
  return (
    overcommit + Math.ceil(limit * OVERSHOOT_FRACTION_PER_SECOND * ((intervalMs + delayMs) / 1000))
  );
}

/** What the controller knows of one proxy that uses the limit, from its last report. */
export interface PodLimitUsage {
  podKey: string;
  /** Requests and tokens in its sliding minute, and requests in flight, at its last report. */
  windowRequests: number;
  windowTokens: number;
  inFlight: number;
  /**
   * Recent demand, admitted + refused, per minute; `refused` (requests the
   * limit refused per minute, part of `requests`), when known, steers the free
   * capacity to the proxies that are turning traffic away.
   */
  demand: { requests: number; tokens: number; refused?: number | undefined };
  /** Whether it answered the last collection; an unreachable one keeps `lastShare` reserved. */
  reachable: boolean;
  /** What it was last given and holds now (its safe share once that assignment expired). */
  lastShare?: LimitAmounts | undefined;
}

export interface PodShare {
  share: LimitAmounts;
  safe: LimitAmounts;
}

interface Claim {
  /** What it counts now (reachable) or holds (unreachable). */
  counted: number;
  /** Recent demand in the same unit, per minute. */
  demand: number;
  /** Unreachable: holds `counted` and takes nothing more. */
  fixed: boolean;
}

/**
 * Splits `limit` among claims. Returns each claim's amount; Σ ≤ limit, an
 * amount is at least its count unless the counts alone exceed what is left
 * of the limit (then the reachable ones are scaled down and refuse until
 * their windows drain). Whole units when `whole` (requests, tokens), so a
 * proxy's limiter and the sum agree.
 */
export function divide(limit: number, claims: readonly Claim[], whole = true): number[] {
  const out = claims.map((c) => (c.fixed ? c.counted : 0));
  const reserved = claims.reduce((s, c) => s + (c.fixed ? c.counted : 0), 0);
  const open = claims.map((c, i) => ({ c, i })).filter(({ c }) => !c.fixed);
  if (open.length === 0) return out;
  const available = Math.max(0, limit - reserved);
  const counted = open.reduce((s, { c }) => s + c.counted, 0);
  if (counted >= available) {
    // Over the limit already (an overshoot draining, or reserved holders):
    // nobody gets more than it has; the fleet total goes back to the limit.
    const scale = counted > 0 ? available / counted : 0;
    for (const { c, i } of open) out[i] = roundDown(c.counted * scale, whole);
    return out;
  }
  const free = whole ? Math.floor(available - counted) : available - counted;
  const extra = splitFree(
    free,
    open.map(({ c }) => c),
  );
  const portions = whole ? wholeUnits(extra, free) : extra;
  open.forEach(({ c, i }, k) => (out[i] = c.counted + (portions[k] ?? 0)));
  return out;
}

/** The free capacity per claim: a small pool for idle claims, the rest in proportion to demand. */
function splitFree(free: number, claims: readonly Claim[]): number[] {
  const n = claims.length;
  const totalDemand = claims.reduce((s, c) => s + c.demand, 0);
  if (totalDemand <= 0) return claims.map(() => free / n);
  const idle = claims.filter((c) => c.demand <= 0).length;
  const idlePool = idle > 0 ? free * IDLE_POOL_FRACTION : 0;
  const busyPool = free - idlePool;
  return claims.map((c) => (c.demand <= 0 ? idlePool / idle : (busyPool * c.demand) / totalDemand));
}

/** Rounds each portion down, then hands the units lost to rounding to the largest remainders. */
function wholeUnits(portions: readonly number[], total: number): number[] {
  const base = portions.map((p) => Math.floor(p + 1e-9));
  let spare = Math.floor(total) - base.reduce((s, b) => s + b, 0);
  const order = portions
    .map((p, i) => ({ i, frac: p - (base[i] as number) }))
    .sort((a, b) => b.frac - a.frac || a.i - b.i);
  for (const { i } of order) {
    if (spare <= 0) break;
    base[i] = (base[i] as number) + 1;
    spare -= 1;
  }
  return base;
}

function roundDown(n: number, whole: boolean): number {
  return whole ? Math.floor(n + 1e-9) : n;
}

const DIMENSIONS = [
  { amount: 'rpm', counted: 'windowRequests', demand: 'requests' },
  { amount: 'tpm', counted: 'windowTokens', demand: 'tokens' },
  // Concurrency has no window: what is in flight is what a proxy holds; demand by request rate.
  { amount: 'maxConcurrency', counted: 'inFlight', demand: 'requests' },
] as const;

/**
 * How much of the free capacity a proxy's demand weighs, as a fraction, when
 * none of it was refused: it admits what it is asked for, and its own window
 * refills it as it drains. In the fleet simulation (2 s report-to-apply
 * delay), weighing all demand alike gave a worst saturated clock minute of 565
 * of 600; weighing satisfied demand at 0.25, 573 (0 made it worse at 1.3× the
 * limit: proxies whose demand grows wait an interval for capacity).
 */
export const SATISFIED_DEMAND_WEIGHT = 0.25;

/**
 * Tokens per request a proxy's demand is counted at. A proxy reports the
 * tokens of what it ADMITTED (estimates corrected by real usage), not of what
 * it refused, so its token demand is its request demand × its own mean tokens
 * per admitted request (the fleet's mean when it admitted nothing lately).
 * Weighing by admitted tokens instead kept each proxy near what it already
 * had: a proxy refusing 80% weighed less than a satisfied one (bench quotas,
 * tpm phase: 84,400 of 120,000 tokens in the worst saturated minute).
 */
function tokensPerRequest(pods: readonly PodLimitUsage[]): (p: PodLimitUsage) => number {
  const admittedOf = (p: PodLimitUsage) =>
    Math.max(0, Math.max(0, p.demand.requests) - Math.max(0, p.demand.refused ?? 0));
  let tokens = 0;
  let admitted = 0;
  for (const p of pods) {
    if (!p.reachable) continue;
    tokens += Math.max(0, p.demand.tokens);
    admitted += admittedOf(p);
  }
  const fleetMean = admitted > 0 ? tokens / admitted : 0;
  return (p) => {
    const own = admittedOf(p);
    // Below one admitted request a minute the own mean is noise.
    return own >= 1 ? Math.max(0, p.demand.tokens) / own : fleetMean;
  };
}

/** The part of a proxy's demand that was refused, 0..1 (0 when unknown). */
function refusedPart(p: PodLimitUsage): number {
  const requests = Math.max(0, p.demand.requests);
  const refused = p.demand.refused;
  if (refused === undefined || requests <= 0) return 0;
  return Math.min(1, Math.max(0, refused) / requests);
}

function weightOf(
  p: PodLimitUsage,
  unit: 'requests' | 'tokens',
  perRequest: (p: PodLimitUsage) => number,
): number {
  const requests = Math.max(0, p.demand.requests);
  const total =
    unit === 'requests' || p.demand.refused === undefined
      ? Math.max(0, p.demand[unit])
      : requests * perRequest(p);
  if (p.demand.refused === undefined || requests <= 0) return total;
  const part = refusedPart(p);
  return total * (part + SATISFIED_DEMAND_WEIGHT * (1 - part));
}

/**
 * A proxy turning away more than this part of its demand counts as saturated
 * (it would use one more unit at once) for the over-commit below.
 */
export const SATURATED_REFUSED_PART = 0.05;

/**
 * Most the fleet's shares may add up to beyond the limit, as a fraction of it.
 *
 * Why over-commit at all: a limit split over n proxies is n small sliding
 * windows, each waiting for its own next request when a slot frees, where one
 * limiter would fill it from the whole fleet's traffic. A proxy admitting half
 * its demand holds on average one freed, unused slot (the free slots queue
 * like an M/M/1 queue at load 0.5: mean 1), so under saturation the fleet
 * runs about one request (and one request's tokens, plus the remainder smaller
 * than a request) per proxy below its limit. In the fleet simulation (20
 * proxies, demand twice a 600 rpm limit) the sliding minute averaged about
 * 580 and dipped to 562-574, where one exact limiter on the same arrivals
 * held 588-590. Each saturated proxy therefore gets one unit more than its
 * part, together at most this fraction of the limit: the fleet then runs at
 * the limit on average instead of below it, and its worst minute stays within
 * limit × (1 + this + the report-to-apply term of the overshoot bound).
 */
export const OVERCOMMIT_FRACTION = 0.02;

/**
 * The over-commit per proxy, in the amount's unit: one request (rpm), one
 * mean request's tokens (tpm), for each saturated reachable proxy; Σ ≤
 * OVERCOMMIT_FRACTION × limit (whole units, by demand, when that binds).
 * Never for maxConcurrency: in flight is not a window that drains on its own.
 */
function overcommit(
  limit: number,
  pods: readonly PodLimitUsage[],
  unitSize: (p: PodLimitUsage) => number,
  weights: readonly number[],
): number[] {
  const cap = Math.floor(limit * OVERCOMMIT_FRACTION);
  const wanted = pods.map((p) =>
    p.reachable && refusedPart(p) > SATURATED_REFUSED_PART ? Math.ceil(unitSize(p)) : 0,
  );
  const total = wanted.reduce((s, w) => s + w, 0);
  if (total <= cap) return wanted;
  // More saturated proxies than the cap allows: the busiest get theirs first.
  const out = wanted.map(() => 0);
  let left = cap;
  const order = wanted
    .map((w, i) => ({ w, i, weight: weights[i] ?? 0 }))
    .filter((x) => x.w > 0)
    .sort((a, b) => b.weight - a.weight || a.i - b.i);
  for (const { w, i } of order) {
    if (left <= 0) break;
    out[i] = Math.min(w, left);
    left -= out[i];
  }
  return out;
}

/**
 * Each proxy's share and safe share of one fleet-wide limit. Σ shares ≤ limit
 * + the over-commit (≤ OVERCOMMIT_FRACTION × limit for rpm and tpm, none for
 * maxConcurrency) per amount; safe = min(share, limit / proxies), so proxies
 * that all fall back to their safe shares stay within the limit together.
 */
export function allocateShares(input: {
  limit: LimitAmounts;
  pods: readonly PodLimitUsage[];
}): Map<string, PodShare> {
  const { limit, pods } = input;
  const out = new Map<string, PodShare>(pods.map((p) => [p.podKey, { share: {}, safe: {} }]));
  const perRequest = tokensPerRequest(pods);
  for (const d of DIMENSIONS) {
    const max = limit[d.amount];
    if (max === undefined) continue;
    const claims = pods.map((p) =>
      p.reachable
        ? {
            counted: Math.max(0, p[d.counted]),
            demand: weightOf(p, d.demand, perRequest),
            fixed: false,
          }
        : {
            counted: p.lastShare?.[d.amount] ?? max / UNASSIGNED_SHARE_DIVISOR,
            demand: 0,
            fixed: true,
          },
    );
    const wanted =
      d.amount === 'maxConcurrency'
        ? pods.map(() => 0)
        : overcommit(
            max,
            pods,
            d.amount === 'rpm' ? () => 1 : perRequest,
            claims.map((c) => c.demand),
          );
    const overcommitted = wanted.reduce((s, w) => s + w, 0);
    const counted = claims.reduce((s, c) => s + c.counted, 0);
    // Within the limit: each saturated proxy gets its unit on top of its part.
    // Over it (an overshoot draining, or the over-commit in use): the limit
    // plus the same total is divided instead, so the fleet cannot creep past
    // limit + C one unit per assignment (it did: bench quotas, standing start,
    // 127,200 tokens counted against shares adding up to 122,400).
    const shares =
      counted <= max
        ? divide(max, claims).map((share, i) => share + (wanted[i] as number))
        : divide(max + overcommitted, claims);
    const even = Math.floor(max / Math.max(1, pods.length));
    pods.forEach((p, i) => {
      const entry = out.get(p.podKey) as PodShare;
      const share = shares[i] as number;
      entry.share[d.amount] = share;
      entry.safe[d.amount] = Math.min(share, even);
    });
  }
  return out;
}

/** What the controller knows of one proxy's spend against one budget window. */
export interface PodSpend {
  podKey: string;
  /** Recent spend per minute, USD. */
  spendRate: number;
  reachable: boolean;
  /** The allowance it was last given (an unreachable one keeps it reserved). */
  lastAllowanceUSD?: number | undefined;
}

/** One proxy's part of a budget window: what it may spend on its own, fresh and once expired. */
export interface PodAllowance {
  allowanceUSD: number;
  /** What it may spend once its assignment is older than validForMs (controller gone). */
  safeAllowanceUSD: number;
}

/**
 * The budget is "near its end" when what is left is at most this many
 * assignment intervals of the fleet's recent spend: only then is it divided
 * by demand. Five intervals (10 s at the default 2 s collection) leave room
 * for the spend rate to be misread for a few collections.
 */
export const NEAR_END_INTERVALS = 5;

/**
 * The overspend the issue allows after a budget is crossed: 1% of the budget
 * or one minute of the fleet's spend, whichever is larger.
 */
export function allowedOverspendUSD(budgetUSD: number, fleetSpendPerMinute: number): number {
  return Math.max(0.01 * budgetUSD, fleetSpendPerMinute);
}

/**
 * Each proxy's allowanceUSD of what is left of a budget (R = budget − spent).
 *
 * Why not simply by spend rate: the rate of a proxy with a few requests a
 * minute, read every 2 s, is 0 in one reading out of three; divided by rate,
 * such a proxy got a sliver of the idle pool, less than one request costs,
 * and refused the tenant while the fleet had spent 7% of its budget (bench
 * quotas: first budget_exceeded at 12.3 s, budget crossed at 89.3 s;
 * quota-budget.test.ts reproduces it). A proxy refuses once its own spend
 * since the assignment passes its allowance, so an allowance only matters
 * when the budget can run out before the next assignment. Hence two phases:
 *
 * - Far from the end, R > max(NEAR_END_INTERVALS × the fleet's spend in one
 *   interval, 1% of the budget): every reachable proxy may spend all of R.
 *   While assignments keep coming, the fleet can overspend only if its spend
 *   jumps NEAR_END_INTERVALS fold within one interval.
 * - Near the end: R by recent spend (the idle pool as for limits), Σ ≤ R,
 *   plus an equal part of half the allowed overspend for each reachable
 *   proxy, so one with no recent spend can still serve a request or three
 *   while the fleet has budget left. Σ ≤ R + allowedOverspendUSD / 2; the
 *   other half covers what the fleet spends between the report the ledger
 *   counted and the proxies applying `exceeded`.
 *
 * Unreachable proxies keep their last allowance (or an unassigned proxy's
 * 1/UNASSIGNED_SHARE_DIVISOR of R) reserved near the end.
 *
 * CONTROLLER GONE. An assignment stands validForMs (30 s); then each proxy
 * may spend its safe allowance, min(allowance, R / proxies), counted from the
 * same assignment, so one that already spent more refuses at once. Until
 * expiry the fleet spends what its traffic brings, up to each allowance; after
 * it, at most R more in total (R / proxies each). So the fleet overspends by at
 * most what it spends in validForMs, half a minute of its traffic with the
 * defaults (it spends beyond R only when R was less than that).
 */
export function allocateAllowances(input: {
  budgetUSD: number;
  remainingUSD: number;
  /** How often assignments are rebuilt (the stats collection interval), ms. */
  intervalMs: number;
  pods: readonly PodSpend[];
}): Map<string, PodAllowance> {
  const remaining = Math.max(0, input.remainingUSD);
  const { pods } = input;
  const n = Math.max(1, pods.length);
  const fleetRate = pods.reduce((s, p) => s + (p.reachable ? Math.max(0, p.spendRate) : 0), 0);
  const perInterval = (fleetRate * Math.max(0, input.intervalMs)) / 60_000;
  const nearEnd = remaining <= Math.max(NEAR_END_INTERVALS * perInterval, 0.01 * input.budgetUSD);
  const reserved = (p: PodSpend) => p.lastAllowanceUSD ?? remaining / UNASSIGNED_SHARE_DIVISOR;
  let amounts: number[];
  if (!nearEnd) {
    amounts = pods.map((p) => (p.reachable ? remaining : Math.min(remaining, reserved(p))));
  } else {
    const split = divide(
      remaining,
      pods.map((p) =>
        p.reachable
          ? { counted: 0, demand: Math.max(0, p.spendRate), fixed: false }
          : { counted: reserved(p), demand: 0, fixed: true },
      ),
      false,
    );
    const bonus = allowedOverspendUSD(input.budgetUSD, fleetRate) / 2 / n;
    amounts = pods.map((p, i) => (split[i] as number) + (p.reachable ? bonus : 0));
  }
  const safe = remaining / n;
  // Micro-dollars, rounded down.
  const micro = (usd: number) => Math.floor(usd * 1e6) / 1e6;
  return new Map(
    pods.map((p, i) => {
      const allowanceUSD = micro(amounts[i] as number);
      return [p.podKey, { allowanceUSD, safeAllowanceUSD: Math.min(allowanceUSD, micro(safe)) }];
    }),
  );
}
