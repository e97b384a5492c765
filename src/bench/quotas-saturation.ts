// The saturation phase: skewed demand at twice the limit on the rpm backend
// and on the tpm backend, for minutes, while the budget tenant sends steady
// traffic past its daily budget. What counts is what each simulated backend
// RECEIVED (arrival times, tokens, price), not what the proxies say they did.
import { round } from './histogram.js';
import { poissonArrivals, shuffled, streamSeed, zipfWeights } from './quotas-demand.js';
import type { QuotaFleet, Received } from './quotas-fleet.js';
import {
  MODELS,
  RPM_LIMIT,
  RPM_OUTPUT_TOKENS,
  TENANTS,
  TPM_LIMIT,
  TPM_OUTPUT_TOKENS,
  TPM_PROMPT_CHARS,
  TPM_REQUEST_TOKENS,
  chatBody,
} from './quotas-objects.js';
import { outcomeCounts, runTraffic, type ProxyClients, type Stream } from './quotas-traffic.js';
import { exactReference, type ReferenceFigures } from './quotas-reference.js';
import { windowFigures } from './quotas-windows.js';

/** Demand as a multiple of the limit: well above it for the whole phase. */
export const DEMAND_FACTOR = 2;
/** Zipf exponent of demand over proxies: with 20 proxies the busiest sends ~27x what the quietest does. */
export const ZIPF_EXPONENT = 1.1;
/** Proxies the budget tenant's traffic is spread over (the budget's allowance is divided among them). */
const BUDGET_PROXIES = 4;
/** The budget tenant's steady demand, requests a minute over all its proxies. */
export const BUDGET_RPM = 120;

export interface SaturationPlan {
  /** The rpm and tpm demand grows linearly from 0 to twice the limit over this long (0: a standing start). */
  rampMs: number;
  /** After the ramp, before the saturated minimum is measured. */
  warmupMs: number;
  measureMs: number;
  seed: number;
  /** Daily budget of the capped tenant, sized so it is crossed well inside the phase. */
  dailyBudgetUSD: number;
}

/** What the budget tenant's requests cost: TPM_PROMPT_CHARS / 4 in, TPM_OUTPUT_TOKENS out, at the budget backend's prices. */
export function budgetRequestCostUSD(pricing: {
  inputPerMillion: number;
  outputPerMillion: number;
}): number {
  return (
    ((TPM_PROMPT_CHARS / 4) * pricing.inputPerMillion +
      TPM_OUTPUT_TOKENS * pricing.outputPerMillion) /
    1_000_000
  );
}

export interface LimitFigures {
  limit: number;
  unit: 'requests' | 'tokens';
  demand_per_minute: number;
  max_admitted_per_minute: number;
  /** Smallest total in a full 60 s window starting after the warm-up; null when the run is shorter. */
  min_admitted_per_minute_saturated: number | null;
  /** Where the busiest window starts, s after traffic began. */
  max_window_starts_at_s: number;
  /**
   * One exact sliding-window limiter replayed offline on the same arrivals
   * (src/bench/quotas-reference.ts): the floor to read the fleet's figures against.
   */
  exact_reference: ReferenceFigures;
  received_total: number;
  client_outcomes: Record<string, number>;
}

export interface BudgetFigures {
  daily_budget_usd: number;
  demand_per_minute: number;
  /** Served cost minus the budget (negative: the budget was never reached). */
  overspend_usd: number;
  /** max(1% of the budget, one minute of the tenant's traffic cost). */
  allowed_overspend_usd: number;
  one_minute_cost_usd: number;
  served_cost_usd: number;
  /** When served cost reached the budget, s after traffic began; null: never. */
  crossed_at_s: number | null;
  /** When the first budget_exceeded refusal was due, s after traffic began. */
  first_refusal_at_s: number | null;
  client_outcomes: Record<string, number>;
}

export interface SaturationResult {
  ramp_s: number;
  warmup_s: number;
  saturated_s: number;
  rpm: LimitFigures;
  tpm: LimitFigures;
  budget: BudgetFigures;
  dropped_by_generator: number;
}

function limitFigures(
  received: readonly Received[],
  weight: (r: Received) => number,
  limit: number,
  unit: LimitFigures['unit'],
  startedAtMs: number,
  plan: SaturationPlan,
  clientOutcomes: Record<string, number>,
  sent: { arrivals: readonly number[]; weight: number },
): LimitFigures {
  const settledMs = plan.rampMs + plan.warmupMs;
  const from = startedAtMs + settledMs;
  const to = from + plan.measureMs;
  const w = windowFigures(
    received.map((r) => ({ atMs: r.atMs, weight: weight(r) })),
    from,
    to,
  );
  return {
    limit,
    unit,
    demand_per_minute: limit * DEMAND_FACTOR,
    max_admitted_per_minute: w.max,
    min_admitted_per_minute_saturated: w.minFull,
    max_window_starts_at_s: round((w.maxAtMs + settledMs) / 1000, 1),
    exact_reference: exactReference({
      arrivals: sent.arrivals,
      weight: sent.weight,
      limit,
      unit,
      fromMs: settledMs,
      toMs: settledMs + plan.measureMs,
    }),
    received_total: received.reduce((sum, r) => sum + weight(r), 0),
    client_outcomes: clientOutcomes,
  };
}

export async function runSaturation(
  fleet: QuotaFleet,
  clients: ProxyClients,
  plan: SaturationPlan,
  costPerBudgetRequest: number,
  log: (line: string) => void,
): Promise<SaturationResult> {
  const n = fleet.proxies.length;
  const totalMs = plan.rampMs + plan.warmupMs + plan.measureMs;
  const weights = zipfWeights(n, ZIPF_EXPONENT);
  const rpmOrder = shuffled(fleet.proxies, streamSeed(plan.seed, 1000));
  const tpmOrder = shuffled(fleet.proxies, streamSeed(plan.seed, 2000));
  const rpmBody = chatBody(MODELS.rpm, 40, RPM_OUTPUT_TOKENS);
  const tpmBody = chatBody(MODELS.tpm, TPM_PROMPT_CHARS, TPM_OUTPUT_TOKENS);
  const budgetBody = chatBody(MODELS.budget, TPM_PROMPT_CHARS, TPM_OUTPUT_TOKENS);
  const streams: Stream[] = [];
  weights.forEach((w, i) => {
    streams.push({
      label: 'rpm',
      dataUrl: (rpmOrder[i] as (typeof rpmOrder)[number]).dataUrl,
      body: rpmBody,
      arrivals: poissonArrivals(
        RPM_LIMIT * DEMAND_FACTOR * w,
        totalMs,
        streamSeed(plan.seed, i),
        plan.rampMs,
      ),
    });
    streams.push({
      label: 'tpm',
      dataUrl: (tpmOrder[i] as (typeof tpmOrder)[number]).dataUrl,
      body: tpmBody,
      arrivals: poissonArrivals(
        (TPM_LIMIT / TPM_REQUEST_TOKENS) * DEMAND_FACTOR * w,
        totalMs,
        streamSeed(plan.seed, 100 + i),
        plan.rampMs,
      ),
    });
  });
  const budgetProxies = fleet.proxies.slice(0, Math.min(BUDGET_PROXIES, n));
  budgetProxies.forEach((p, i) =>
    streams.push({
      label: 'budget',
      dataUrl: p.dataUrl,
      body: budgetBody,
      apiKey: fleet.apiKeys[TENANTS.capped],
      arrivals: poissonArrivals(
        BUDGET_RPM / budgetProxies.length,
        totalMs,
        streamSeed(plan.seed, 200 + i),
      ),
    }),
  );
  const sentOf = (label: string) =>
    streams.filter((st) => st.label === label).flatMap((st) => st.arrivals);
  log(
    `saturation: ${n} proxies, demand ramped over ${round(plan.rampMs / 1000, 0)} s to ${RPM_LIMIT * DEMAND_FACTOR} rpm offered against ${RPM_LIMIT} rpm and ${TPM_LIMIT * DEMAND_FACTOR} tpm against ${TPM_LIMIT} tpm (Zipf ${ZIPF_EXPONENT}), budget tenant ${BUDGET_RPM} rpm against $${plan.dailyBudgetUSD.toFixed(3)}/day; ${round(totalMs / 1000, 0)} s`,
  );
  for (const role of ['rpm', 'tpm', 'budget'] as const) fleet.received[role].length = 0;
  const run = await runTraffic(clients, streams);
  const byLabel = (label: string) => outcomeCounts(run.outcomes.filter((o) => o.label === label));

  const budgetReceived = fleet.received.budget;
  let served = 0;
  let crossedAt: number | null = null;
  for (const r of budgetReceived) {
    served += r.costUsd;
    if (crossedAt === null && served >= plan.dailyBudgetUSD) crossedAt = r.atMs;
  }
  const firstRefusal = run.outcomes
    .filter((o) => o.label === 'budget' && o.code === 'budget_exceeded')
    .reduce<number | null>((min, o) => (min === null || o.dueAtMs < min ? o.dueAtMs : min), null);
  const oneMinuteCost = BUDGET_RPM * costPerBudgetRequest;
  const since = (t: number | null) => (t === null ? null : round((t - run.startedAtMs) / 1000, 1));
  return {
    ramp_s: plan.rampMs / 1000,
    warmup_s: plan.warmupMs / 1000,
    saturated_s: plan.measureMs / 1000,
    rpm: limitFigures(
      fleet.received.rpm,
      () => 1,
      RPM_LIMIT,
      'requests',
      run.startedAtMs,
      plan,
      byLabel('rpm'),
      { arrivals: sentOf('rpm'), weight: 1 },
    ),
    tpm: limitFigures(
      fleet.received.tpm,
      (r) => r.tokens,
      TPM_LIMIT,
      'tokens',
      run.startedAtMs,
      plan,
      byLabel('tpm'),
      { arrivals: sentOf('tpm'), weight: TPM_REQUEST_TOKENS },
    ),
    budget: {
      daily_budget_usd: plan.dailyBudgetUSD,
      demand_per_minute: BUDGET_RPM,
      overspend_usd: round(served - plan.dailyBudgetUSD, 6),
      allowed_overspend_usd: round(Math.max(0.01 * plan.dailyBudgetUSD, oneMinuteCost), 6),
      one_minute_cost_usd: round(oneMinuteCost, 6),
      served_cost_usd: round(served, 6),
      crossed_at_s: since(crossedAt),
      first_refusal_at_s: since(firstRefusal),
      client_outcomes: byLabel('budget'),
    },
    dropped_by_generator: run.dropped,
  };
}
