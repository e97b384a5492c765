// Priority under scarcity: a high-priority tenant alone on a backend limited
// to 600 rpm (unloaded), then the same tenant while a low-priority tenant
// pushes the backend past its limit (overloaded). High should keep its
// latency and success rate; low should move to the alternate backend or be
// shed. Both tenants call through the same proxies, so each proxy's share of
// the limit is what the two compete for.
import { LatencySamples, percentile, round } from './histogram.js';
import { poissonArrivals, streamSeed } from './quotas-demand.js';
import type { QuotaFleet } from './quotas-fleet.js';
import { MODELS, RPM_LIMIT, TENANTS, chatBody } from './quotas-objects.js';
import {
  outcomeCounts,
  runTraffic,
  type Outcome,
  type ProxyClients,
  type Stream,
} from './quotas-traffic.js';

/** Proxies both tenants call through. */
const PRIORITY_PROXIES = 4;
/** High priority's demand: 40% of the limit, well inside it on its own. */
export const HIGH_RPM = RPM_LIMIT * 0.4;
/** Low priority's demand: the whole limit again, so together they ask for 140% of it. */
export const LOW_RPM = RPM_LIMIT;

export interface PriorityPlan {
  /** Discarded start of each part (connections, JIT; in the overloaded part: the window filling up). */
  warmupMs: number;
  measureMs: number;
  seed: number;
}

export interface TenantFigures {
  requests: number;
  success_ratio: number;
  p50_ms: number;
  p99_ms: number;
  /** Answers by backend (x-modelroute-backend) or error code. */
  outcomes: Record<string, number>;
}

export interface PriorityResult {
  proxies: number;
  limit_rpm: number;
  high_rpm: number;
  low_rpm: number;
  warmup_s: number;
  measured_s: number;
  unloaded: { high: TenantFigures };
  overloaded: { high: TenantFigures; low: TenantFigures };
  high_p99_ratio: number;
  high_success_ratio: number;
  /** Low-priority requests measured that went to the alternate backend or were shed (429 capacity_shed). */
  low_moved_or_shed_ratio: number;
}

function figures(outcomes: readonly Outcome[]): TenantFigures {
  const latency = new LatencySamples(outcomes.length);
  let ok = 0;
  for (const o of outcomes) {
    latency.addMicros(o.latencyMs * 1000);
    if (o.status === 200) ok++;
  }
  const sorted = latency.sorted();
  return {
    requests: outcomes.length,
    success_ratio: outcomes.length > 0 ? round(ok / outcomes.length, 4) : NaN,
    p50_ms: round(percentile(sorted, 0.5) / 1000, 2),
    p99_ms: round(percentile(sorted, 0.99) / 1000, 2),
    outcomes: outcomeCounts(outcomes),
  };
}

function streams(
  fleet: QuotaFleet,
  label: 'high' | 'low',
  perMinute: number,
  durationMs: number,
  seed: number,
): Stream[] {
  const proxies = fleet.proxies.slice(0, Math.min(PRIORITY_PROXIES, fleet.proxies.length));
  const tenant = label === 'high' ? TENANTS.gold : TENANTS.bulk;
  return proxies.map((p, i) => ({
    label,
    dataUrl: p.dataUrl,
    body: chatBody(MODELS.priority, 40, 8),
    apiKey: fleet.apiKeys[tenant],
    arrivals: poissonArrivals(perMinute / proxies.length, durationMs, streamSeed(seed, i)),
  }));
}

export async function runPriority(
  fleet: QuotaFleet,
  clients: ProxyClients,
  plan: PriorityPlan,
  log: (line: string) => void,
): Promise<PriorityResult> {
  const totalMs = plan.warmupMs + plan.measureMs;
  const measured = (run: { startedAtMs: number; outcomes: Outcome[] }, label: string) =>
    run.outcomes.filter((o) => o.label === label && o.dueAtMs >= run.startedAtMs + plan.warmupMs);

  log(`priority: unloaded, high alone at ${HIGH_RPM} rpm for ${totalMs / 1000} s`);
  const unloaded = await runTraffic(
    clients,
    streams(fleet, 'high', HIGH_RPM, totalMs, streamSeed(plan.seed, 300)),
  );
  log(`priority: overloaded, high ${HIGH_RPM} rpm + low ${LOW_RPM} rpm for ${totalMs / 1000} s`);
  const overloaded = await runTraffic(clients, [
    ...streams(fleet, 'high', HIGH_RPM, totalMs, streamSeed(plan.seed, 300)),
    ...streams(fleet, 'low', LOW_RPM, totalMs, streamSeed(plan.seed, 400)),
  ]);
  const base = figures(measured(unloaded, 'high'));
  const high = figures(measured(overloaded, 'high'));
  const lowOutcomes = measured(overloaded, 'low');
  const moved = lowOutcomes.filter(
    (o) =>
      (o.status === 200 && o.backend !== undefined && !o.backend.endsWith('/prio-main')) ||
      o.code === 'capacity_shed',
  ).length;
  return {
    proxies: Math.min(PRIORITY_PROXIES, fleet.proxies.length),
    limit_rpm: RPM_LIMIT,
    high_rpm: HIGH_RPM,
    low_rpm: LOW_RPM,
    warmup_s: plan.warmupMs / 1000,
    measured_s: plan.measureMs / 1000,
    unloaded: { high: base },
    overloaded: { high, low: figures(lowOutcomes) },
    high_p99_ratio: round(high.p99_ms / base.p99_ms, 3),
    high_success_ratio: round(high.success_ratio / base.success_ratio, 4),
    low_moved_or_shed_ratio: lowOutcomes.length > 0 ? round(moved / lowOutcomes.length, 4) : NaN,
  };
}
