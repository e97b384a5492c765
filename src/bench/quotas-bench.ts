// `bench quotas`: the fleet on the test API server, then the saturation phase
// (rpm, tpm and budget at once), the priority phase and the overhead phase,
// assembled into one JSON object with the issue's targets beside the figures.
import { loadavg } from 'node:os';
import type { ChildGroup } from './children.js';
import { BenchCluster } from './controller-cluster.js';
import { benchMachine, type BenchMachine, type Goal } from './controller-bench.js';
import { codeOrigin } from './entrypoints.js';
import { round } from './histogram.js';
import type { QuotasBenchOptions } from './quotas-args.js';
import { STATS_INTERVAL_MS, startQuotaFleet } from './quotas-fleet.js';
import { BUDGET_PRICING, RPM_LIMIT, TPM_LIMIT } from './quotas-objects.js';
import { runOverhead, type OverheadResult } from './quotas-overhead.js';
import { runPriority, type PriorityResult } from './quotas-priority.js';
import {
  BUDGET_RPM,
  DEMAND_FACTOR,
  ZIPF_EXPONENT,
  budgetRequestCostUSD,
  runSaturation,
  type SaturationResult,
} from './quotas-saturation.js';
import { ProxyClients } from './quotas-traffic.js';

/** The budget is sized to be crossed this far into the saturation phase (at most), leaving most of it over budget. */
const BUDGET_CROSSING_MS = 90_000;

/** What every result of `bench quotas` opens with. */
interface QuotasBenchRun {
  benchmark: 'quotas';
  quick: boolean;
  started_at: string;
  finished_at: string;
  command: string;
  machine: BenchMachine & { loadavg_1m_end: number };
  code: string;
}

export interface QuotasBenchResult extends QuotasBenchRun {
  api_server: { version: string; kubeconfig: string };
  run: {
    proxies: number;
    seed: number;
    demand: string;
    controller: string;
    stats_interval_ms: number;
    assignment_seen_after_ms: number | null;
    duration_s: number;
  };
  rpm: SaturationResult['rpm'];
  tpm: SaturationResult['tpm'];
  budget: SaturationResult['budget'];
  priority: PriorityResult | { skipped: string; high_p99_ratio: null; high_success_ratio: null };
  overhead_ratio: number | null;
  overhead: OverheadResult | { skipped: string };
  saturation: {
    ramp_s: number;
    warmup_s: number;
    saturated_s: number;
    dropped_by_generator: number;
  };
  goals: Goal[];
  /** Every goal with a value met (goals without one, e.g. a skipped part, do not count). */
  pass: boolean;
  notes: string[];
}

/** `--only overhead`: the overhead part alone, with the fields of the full result it has. */
export interface QuotasOverheadResult extends QuotasBenchRun {
  only: 'overhead';
  overhead_ratio: number | null;
  overhead: OverheadResult;
  goals: Goal[];
  pass: boolean;
  notes: string[];
}

function goal(name: string, op: '<=' | '>=', target: number, value: number | null): Goal {
  const met =
    value === null || !Number.isFinite(value)
      ? null
      : op === '<='
        ? value <= target
        : value >= target;
  return { goal: name, target: `${op} ${round(target, 6)}`, value, met };
}

/** The issue's targets, reported beside the figures. */
export function quotaGoals(
  s: SaturationResult,
  priority: PriorityResult | undefined,
  overheadRatio: number | null,
): Goal[] {
  return [
    goal('rpm.max_admitted_per_minute', '<=', RPM_LIMIT * 1.05, s.rpm.max_admitted_per_minute),
    goal(
      'rpm.min_admitted_per_minute_saturated',
      '>=',
      RPM_LIMIT * 0.95,
      s.rpm.min_admitted_per_minute_saturated,
    ),
    goal('tpm.max_admitted_per_minute', '<=', TPM_LIMIT * 1.05, s.tpm.max_admitted_per_minute),
    goal(
      'tpm.min_admitted_per_minute_saturated',
      '>=',
      TPM_LIMIT * 0.95,
      s.tpm.min_admitted_per_minute_saturated,
    ),
    goal(
      'budget.overspend_usd',
      '<=',
      s.budget.allowed_overspend_usd,
      s.budget.crossed_at_s === null ? null : s.budget.overspend_usd,
    ),
    goal('priority.high_p99_ratio', '<=', 1.1, priority?.high_p99_ratio ?? null),
    goal('priority.high_success_ratio', '>=', 0.9, priority?.high_success_ratio ?? null),
    overheadGoal(overheadRatio),
  ];
}

const overheadGoal = (ratio: number | null): Goal => goal('overhead_ratio', '<=', 1.05, ratio);

const OVERHEAD_NOTE =
  'overhead_ratio: (proxy with limits − direct) ÷ (proxy without limits − direct) at p50, one request at a time, both proxies child processes in the same run; overhead.control_ratio_*: a second proxy without limits ÷ the first, the noise floor of that run (a ratio within that distance of 1 is not told apart from noise); overhead.cpu_ratio: CPU per request of the limits-on child ÷ the limits-off child, from /proc, which waiting for a core does not move (control_cpu_ratio: the same for two identical children, a few percent apart on a shared VM).';

const NOTES = [
  'One run on a shared 2-core machine: the API server, etcd, the controller, every proxy, the simulators and the load generator share it; figures drift from run to run.',
  'Admitted counts are what each simulated backend received, with arrival times, over every sliding 60 s window (not clock minutes); tpm counts prompt + output tokens as the simulator bills them.',
  'rpm/tpm demand ramps linearly from 0 to twice the limit over ramp_s (--ramp-seconds; 0 is a standing start), then warm-up; the saturated minimum looks at full windows starting after both.',
  'exact_reference: one exact sliding-window limiter replayed offline on the same arrival times: what any sliding-window limit admits of this traffic. After a standing start it falls short too (the first minute leaves the window in a burst a minute later).',
  "Budget: overspend = cost the backend served for the tenant minus its daily budget; allowed = max(1% of the budget, one minute of the tenant's offered traffic at the served price).",
  "Priority: both tenants call through the same proxies; ratios are overloaded ÷ unloaded for the high-priority tenant, latency measured from each request's scheduled time.",
  OVERHEAD_NOTE,
];

/** The limits-on proxy refused the assignment: say so, its figure is not what it claims. */
function assignmentNote(overhead: OverheadResult): string[] {
  return overhead.assignment_accepted
    ? []
    : [
        `The limits-on proxy refused the pushed quota assignment (${overhead.assignment_answer}): it ran on whatever it enforces without one.`,
      ];
}

export interface QuotasBenchContext {
  options: QuotasBenchOptions;
  group: ChildGroup;
  log: (line: string) => void;
  command: string;
}

/** `--only overhead`: two proxy children and a simulator; no API server, no fleet. */
export async function runQuotasOverheadAlone(
  context: QuotasBenchContext,
): Promise<QuotasOverheadResult> {
  const { options: o, group, log } = context;
  const plan = o.overhead;
  if (!plan) throw new Error('--only overhead with the overhead part skipped');
  const startedAt = new Date();
  const overhead = await runOverhead(group, plan, o.seed, log);
  const ratio = Number.isFinite(overhead.ratio_p50_sequential)
    ? overhead.ratio_p50_sequential
    : null;
  const goals = [overheadGoal(ratio)];
  return {
    benchmark: 'quotas',
    only: 'overhead',
    quick: o.quick,
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    command: context.command,
    machine: { ...benchMachine(), loadavg_1m_end: round(loadavg()[0] ?? 0, 2) },
    code: codeOrigin(),
    overhead_ratio: ratio,
    overhead,
    goals,
    pass: goals.every((g) => g.met !== false),
    notes: [NOTES[0] as string, OVERHEAD_NOTE, ...assignmentNote(overhead)],
  };
}

export async function runQuotasBench(context: QuotasBenchContext): Promise<QuotasBenchResult> {
  const { options: o, group, log } = context;
  const startedAt = new Date();
  const machine = benchMachine();
  const cluster = await BenchCluster.connect(o.kubeconfig);
  log(`API server ${cluster.serverVersion} (${cluster.kubeconfig})`);
  const costPerRequest = budgetRequestCostUSD(BUDGET_PRICING);
  const crossingMs = Math.min(BUDGET_CROSSING_MS, (o.warmupMs + o.measureMs) / 3);
  const dailyBudgetUSD = round(((BUDGET_RPM * crossingMs) / 60_000) * costPerRequest, 6);

  const fleet = await startQuotaFleet({
    cluster,
    proxies: o.proxies,
    dailyBudgetUSD,
    seed: o.seed,
    keep: o.keep,
    log,
  });
  const clients = new ProxyClients();
  let saturation: SaturationResult;
  let priority: PriorityResult | undefined;
  try {
    saturation = await runSaturation(
      fleet,
      clients,
      {
        rampMs: o.rampMs,
        warmupMs: o.warmupMs,
        measureMs: o.measureMs,
        seed: o.seed,
        dailyBudgetUSD,
      },
      costPerRequest,
      log,
    );
    if (o.priority)
      priority = await runPriority(fleet, clients, { ...o.priority, seed: o.seed }, log);
  } finally {
    await clients.close();
    await fleet.close();
  }
  const overhead = o.overhead ? await runOverhead(group, o.overhead, o.seed, log) : undefined;
  const overheadRatio = overhead ? overhead.ratio_p50_sequential : null;
  const goals = quotaGoals(
    saturation,
    priority,
    Number.isFinite(overheadRatio) ? overheadRatio : null,
  );
  const notes = [...NOTES];
  if (fleet.assignmentSeenAfterMs === null)
    notes.push(
      'No proxy reported a quota assignment before traffic started: fleet shares were not in force (is the quota coordinator in this build?).',
    );
  if (overhead) notes.push(...assignmentNote(overhead));
  if (saturation.budget.crossed_at_s !== null && saturation.budget.first_refusal_at_s === null)
    notes.push(
      'The budget tenant crossed its budget but no request was refused with budget_exceeded: its overspend is bounded only by the end of the phase, not by enforcement.',
    );
  if (o.quick)
    notes.push(
      '--quick: a smoke test; no full saturated minute, so those minimums are null and the figures mean little.',
    );
  return {
    benchmark: 'quotas',
    quick: o.quick,
    started_at: startedAt.toISOString(),
    finished_at: new Date().toISOString(),
    command: context.command,
    machine: { ...machine, loadavg_1m_end: round(loadavg()[0] ?? 0, 2) },
    code: codeOrigin(),
    api_server: { version: cluster.serverVersion, kubeconfig: cluster.kubeconfig },
    run: {
      proxies: o.proxies,
      seed: o.seed,
      demand: `Poisson arrivals, Zipf(${ZIPF_EXPONENT}) over proxies (seeded shuffle), ${DEMAND_FACTOR}x each limit`,
      controller: 'in-process startController, leader of a fresh namespace',
      stats_interval_ms: STATS_INTERVAL_MS,
      assignment_seen_after_ms: fleet.assignmentSeenAfterMs,
      duration_s: round((Date.now() - startedAt.getTime()) / 1000, 1),
    },
    rpm: saturation.rpm,
    tpm: saturation.tpm,
    budget: saturation.budget,
    priority: priority ?? {
      skipped: '--skip-priority',
      high_p99_ratio: null,
      high_success_ratio: null,
    },
    overhead_ratio: overhead && Number.isFinite(overheadRatio) ? overheadRatio : null,
    overhead: overhead ?? { skipped: '--skip-overhead' },
    saturation: {
      ramp_s: saturation.ramp_s,
      warmup_s: saturation.warmup_s,
      saturated_s: saturation.saturated_s,
      dropped_by_generator: saturation.dropped_by_generator,
    },
    goals,
    pass: goals.every((g) => g.met !== false),
    notes,
  };
}

function goalLines(goals: readonly Goal[]): string[] {
  const lines = ['goals:'];
  for (const g of goals) {
    const mark = g.met === true ? 'met   ' : g.met === false ? 'MISSED' : 'n/a   ';
    lines.push(`  ${mark} ${g.goal} ${g.target}: ${g.value ?? '-'}`);
  }
  lines.push('');
  return lines;
}

/** A short human summary, printed above the JSON when --json is not given. */
export function formatQuotasReport(r: QuotasBenchResult | QuotasOverheadResult): string[] {
  if ('only' in r) {
    const o = r.overhead;
    return [
      `overhead ratio (limits on ÷ off, p50): ${r.overhead_ratio ?? '-'} one at a time, ${o.ratio_p50_load} open loop at ${o.load.rps} rps`,
      `control (a second proxy without limits ÷ off, p50): ${o.control_ratio_p50_sequential} one at a time, ${o.control_ratio_p50_load} open loop`,
      `proxy CPU per request: limits on ${o.cpu_us_per_request.limits_on ?? '-'} µs, off ${o.cpu_us_per_request.limits_off ?? '-'} µs, control ${o.cpu_us_per_request.control ?? '-'} µs (on ÷ off ${o.cpu_ratio}, control ÷ off ${o.control_cpu_ratio})`,
      ...goalLines(r.goals),
    ];
  }
  return [
    `rpm: limit ${r.rpm.limit}, max in any 60 s ${r.rpm.max_admitted_per_minute}, min saturated ${r.rpm.min_admitted_per_minute_saturated ?? '-'}`,
    `tpm: limit ${r.tpm.limit}, max in any 60 s ${r.tpm.max_admitted_per_minute}, min saturated ${r.tpm.min_admitted_per_minute_saturated ?? '-'}`,
    `budget: $${r.budget.daily_budget_usd}/day, overspend $${r.budget.overspend_usd} (allowed $${r.budget.allowed_overspend_usd})`,
    `priority: high p99 ratio ${r.priority.high_p99_ratio ?? '-'}, success ratio ${r.priority.high_success_ratio ?? '-'}`,
    `overhead ratio (limits on ÷ off, p50): ${r.overhead_ratio ?? '-'}${'control_ratio_p50_sequential' in r.overhead ? ` (control: ${r.overhead.control_ratio_p50_sequential})` : ''}`,
    ...goalLines(r.goals),
  ];
}
