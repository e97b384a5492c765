// `bench controller`: connects to the API server, installs the CRDs, runs the
// latency and scale parts one after the other and assembles one JSON result.
import { randomBytes } from 'node:crypto';
import { cpus, loadavg, totalmem } from 'node:os';
import type { ChildGroup } from './children.js';
import type { ControllerBenchOptions } from './controller-args.js';
import { BenchCluster } from './controller-cluster.js';
import { runApplyToProgrammed, type LatencyResult } from './controller-latency.js';
import { runScale, type ScaleResult } from './controller-scale.js';
import { codeOrigin } from './entrypoints.js';

export interface Goal {
  goal: string;
  target: string;
  value: number | null;
  met: boolean | null;
}

export interface BenchMachine {
  cpus: number;
  cpu_model: string;
  memory_gb: number;
  node: string;
  loadavg_1m_start: number;
}

/** The machine a run starts on (the load average moves; say what it was). */
export function benchMachine(): BenchMachine {
  return {
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? 'unknown',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    loadavg_1m_start: Math.round((loadavg()[0] ?? 0) * 100) / 100,
  };
}

export interface ControllerBenchResult {
  benchmark: 'controller';
  quick: boolean;
  started_at: string;
  finished_at: string;
  machine: BenchMachine;
  code: string;
  api_server: { version: string; kubeconfig: string };
  apply_to_programmed: LatencyResult | { skipped: string };
  scale: ScaleResult | { skipped: string };
  goals: Goal[];
  notes: string[];
}

/** The targets; reported next to the figures, never asserted. */
export function goalsOf(
  latency: LatencyResult | undefined,
  scale: ScaleResult | undefined,
): Goal[] {
  const atMost = (
    goal: string,
    target: number,
    unit: string,
    value: number | null | undefined,
  ): Goal => ({
    goal,
    target: `<= ${target} ${unit}`,
    value: value ?? null,
    met: value === undefined ? null : value !== null && Number.isFinite(value) && value <= target,
  });
  return [
    atMost(
      `apply_to_programmed.p95_ms (${latency?.proxies ?? '-'} proxies)`,
      1000,
      'ms',
      latency?.p95_ms,
    ),
    atMost('scale.full_sync_s', 15, 's', scale?.full_sync_s),
    atMost('scale.controller_rss_mb (peak)', 200, 'MB', scale?.controller_rss_mb),
  ];
}

const NOTES = [
  'The API server, etcd, the controller child and this process (proxies, watches) share the machine; figures drift from run to run.',
  'Latency proxies are real proxies (startProxy) in the bench process on 127.0.0.2+; scale proxies acknowledge any table without preparing it.',
  'Backends have health checks disabled (endpoint http://127.0.0.1:9/v1), so probes cost nothing; every route selects every proxy (no proxySelector).',
];

export async function runControllerBench(options: {
  options: ControllerBenchOptions;
  group: ChildGroup;
  log: (line: string) => void;
}): Promise<ControllerBenchResult> {
  const { options: o, group, log } = options;
  const startedAt = new Date().toISOString();
  const machine = benchMachine();
  const cluster = await BenchCluster.connect(o.kubeconfig);
  log(`API server ${cluster.serverVersion} (${cluster.kubeconfig}); installing CRDs`);
  await cluster.installCRDs();
  // One token per run: only this run's controller can program this run's proxies.
  const adminToken = randomBytes(24).toString('hex');

  let latency: LatencyResult | undefined;
  let scale: ScaleResult | undefined;
  if (o.latency)
    latency = await runApplyToProgrammed({
      cluster,
      group,
      adminToken,
      proxies: o.proxies,
      changes: o.changes,
      keep: o.keep,
      cpuProfDir: o.cpuProfDir,
      log,
    });
  if (o.scale)
    scale = await runScale({
      cluster,
      group,
      adminToken,
      routes: o.routes,
      backends: o.backends,
      ackProxies: o.ackProxies,
      syncTimeoutMs: o.syncTimeoutMs,
      settleMs: o.settleMs,
      keep: o.keep,
      cpuProfDir: o.cpuProfDir,
      log,
    });
  return {
    benchmark: 'controller',
    quick: o.quick,
    started_at: startedAt,
    finished_at: new Date().toISOString(),
    machine,
    code: codeOrigin(),
    api_server: { version: cluster.serverVersion, kubeconfig: cluster.kubeconfig },
    apply_to_programmed: latency ?? { skipped: '--skip-latency' },
    scale: scale ?? { skipped: '--skip-scale' },
    goals: goalsOf(latency, scale),
    notes: o.quick
      ? [
          ...NOTES,
          '--quick: CI sizes; these figures show the bench runs, not what the controller costs',
        ]
      : NOTES,
  };
}

/** A short human summary, printed above the JSON when --json is not given. */
export function formatControllerReport(result: ControllerBenchResult): string[] {
  const lines: string[] = [];
  const l = result.apply_to_programmed;
  if ('p50_ms' in l)
    lines.push(
      `apply-to-programmed, ${l.changes} changes on ${l.proxies} proxies: p50 ${l.p50_ms} ms, p95 ${l.p95_ms} ms, max ${l.max_ms} ms (status N/N: p50 ${l.status_programmed.p50_ms} ms, p95 ${l.status_programmed.p95_ms} ms)`,
    );
  const s = result.scale;
  if ('routes' in s)
    lines.push(
      `scale, ${s.routes} routes x ${s.proxies} proxies (${s.backends} backends): full sync ${s.full_sync_s ?? 'timed out'} s, leading at ${s.leading_s} s, controller RSS peak ${s.controller_rss_mb} MB (after settle ${s.controller_rss.after_settle_mb} MB), ${s.table_pushes} table pushes`,
    );
  if ('routes' in s && 'changes' in s.change_at_scale)
    lines.push(
      `one-route change at that scale: last proxy p50 ${s.change_at_scale.proxies_acked.p50_ms} ms, status N/N p50 ${s.change_at_scale.status_programmed.p50_ms} ms, ${s.change_at_scale.route_status_writes_per_change ?? '-'} route status writes per change`,
    );
  lines.push('goals (reported, not asserted):');
  for (const g of result.goals) {
    const mark = g.met === true ? 'met   ' : g.met === false ? 'MISSED' : 'n/a   ';
    lines.push(`  ${mark} ${g.goal} ${g.target}: ${g.value ?? '-'}`);
  }
  lines.push('');
  return lines;
}
