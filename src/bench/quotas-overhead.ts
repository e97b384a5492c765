// Proxy overhead with fleet limits on ÷ off, measured in one run as
// docs BENCHMARKS.md asks: two `modelroute proxy` children serving the proxy
// bench's table (src/bench/route-table.ts), one with its backends' limits
// (rpm, tpm, concurrency; never binding) and a fleet quota assignment pushed
// as the controller would, one with no limits at all; the simulator called
// directly as the baseline; paths interleaved in rounds, one request at a
// time and then open loop. A second proxy without limits (the control) is
// measured the same way: its ratio to the first is what two identical
// children differ by in the same run, the noise floor the ratio is read
// against.
import { join } from 'node:path';
import { initialDifficultyRouter } from '../proxy/difficulty-router.js';
import { backendQuotaKey, type QuotaAssignment } from '../quota/protocol.js';
import { tableContentVersion, type RoutingTable } from '../routing/table.js';
import { startSimulatedBackend } from '../simulator/index.js';
import { cpuMsOf, type ChildGroup } from './children.js';
import { LatencySamples, overheadOf, round, type LatencySummary } from './histogram.js';
import { Client, ErrorCounts, openLoop, type Target } from './load-generator.js';
import { startProxyChild, type RunningProxyChild } from './proxy-child.js';
import {
  BENCH_MODEL,
  CLIENT_HEADERS,
  UPSTREAM_MODEL,
  benchTable,
  chatBody,
  difficultyPlan,
} from './route-table.js';

/** Limits far above the bench's rate: every counter runs, none binds. */
const ON_LIMITS = { rpm: 6_000_000, tpm: 6_000_000_000, maxConcurrency: 10_000 } as const;

export interface OverheadPlan {
  sequential: number;
  warmup: number;
  loadRps: number;
  loadRounds: number;
  loadSliceMs: number;
  /** Where the proxy children write CPU profiles: DIR/limits-on, DIR/limits-off (undefined: none). */
  cpuProfDir: string | undefined;
}

type PathKey = 'direct' | 'limits_on' | 'limits_off' | 'control';
type ProxyKey = Exclude<PathKey, 'direct'>;

interface Path {
  key: PathKey;
  client: Client;
  /** The proxy child serving the path (undefined: the simulator, in this process). */
  pid: number | undefined;
  /** Its CPU time when the measured requests began, ms (undefined: not known). */
  cpuAtStartMs: number | undefined;
  sequential: LatencySamples;
  load: LatencySamples;
  errors: ErrorCounts;
}

export interface OverheadResult {
  requests_per_path: number;
  load: { rps: number; rounds: number; seconds_per_path: number };
  /** Whether the limits-on proxy accepted the pushed quota assignment (false: it enforced its pre-assignment share). */
  assignment_accepted: boolean;
  assignment_answer: string;
  sequential: Record<PathKey, LatencySummary>;
  overhead_sequential_ms: Record<ProxyKey, ReturnType<typeof overheadOf>>;
  load_ms: Record<PathKey, LatencySummary>;
  overhead_load_ms: Record<ProxyKey, ReturnType<typeof overheadOf>>;
  /** limits on ÷ off, p50 overhead, one request at a time: `overhead_ratio`. */
  ratio_p50_sequential: number;
  ratio_p99_sequential: number;
  ratio_p50_load: number;
  ratio_p99_load: number;
  /**
   * The control (a second proxy without limits) ÷ limits off, p50 overhead:
   * how far apart two identical children came out in this run. A ratio
   * within that distance of 1 cannot be told from noise.
   */
  control_ratio_p50_sequential: number;
  control_ratio_p50_load: number;
  /**
   * CPU each proxy child used per measured request (one at a time and open
   * loop), µs, from /proc (null elsewhere): what the proxy's work costs,
   * unaffected by waiting for a core; still a few percent apart between
   * identical children on a shared VM (caches, neighbours), as the control shows.
   */
  cpu_us_per_request: Record<ProxyKey, number | null>;
  /** limits on ÷ off, and control ÷ off, of cpu_us_per_request. */
  cpu_ratio: number;
  control_cpu_ratio: number;
  errors: Record<PathKey, ReturnType<ErrorCounts['toJSON']>>;
}

/** The table with every backend's limits set (on) or none at all (off), its version recomputed. */
export function withLimits(table: RoutingTable, on: boolean): RoutingTable {
  const { version: _old, ...content } = table;
  const changed = {
    ...content,
    backends: table.backends.map((b) => ({
      ...b,
      limits: on ? { ...b.limits, ...ON_LIMITS } : {},
    })),
  } as Omit<RoutingTable, 'version'>;
  return { ...changed, version: tableContentVersion(changed) };
}

/** The assignment a controller would send a proxy that is the only one using these backends. */
export function soleProxyAssignment(table: RoutingTable, nowMs: number): QuotaAssignment {
  return {
    sequence: 1,
    term: 'bench-quotas-overhead',
    issuedAtMs: nowMs,
    validForMs: 3_600_000,
    limits: table.backends.map((b) => ({
      key: backendQuotaKey(b.id),
      share: { ...ON_LIMITS },
      safe: { ...ON_LIMITS },
      limit: { ...ON_LIMITS },
    })),
    budgets: [],
  };
}

async function pushAssignment(
  proxy: RunningProxyChild,
  assignment: QuotaAssignment,
): Promise<{ ok: boolean; answer: string }> {
  const res = await fetch(`${proxy.adminUrl}/admin/v1/quotas`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${proxy.token}`, 'content-type': 'application/json' },
    body: JSON.stringify(assignment),
  });
  const text = await res.text();
  return { ok: res.status === 200, answer: `HTTP ${res.status}: ${text.slice(0, 200)}` };
}

/** a ÷ b to 3 decimals (a 5% target needs more than histogram.ratio's 2), NaN unless b > 0. */
const ratio = (a: number, b: number): number =>
  Number.isFinite(a) && Number.isFinite(b) && b > 0 ? round(a / b, 3) : NaN;

/** CPU the path's proxy used per request since the measured requests began, µs; null unknown. */
function cpuPerRequestUs(p: Path): number | null {
  const now = p.pid === undefined ? undefined : cpuMsOf(p.pid);
  const requests = p.sequential.count + p.load.count + p.errors.total;
  if (now === undefined || p.cpuAtStartMs === undefined || requests === 0) return null;
  return round(((now - p.cpuAtStartMs) * 1000) / requests, 1);
}

const rotated = <T>(items: readonly T[], by: number): T[] => {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
};

export async function runOverhead(
  group: ChildGroup,
  plan: OverheadPlan,
  seed: number,
  log: (line: string) => void,
): Promise<OverheadResult> {
  const router = initialDifficultyRouter({ onShippedRefused: () => undefined });
  const threshold = difficultyPlan(router.score).threshold;
  const sim = await startSimulatedBackend({
    outputTokens: 16,
    recordRequests: false,
    seed,
    models: [UPSTREAM_MODEL, 'sim-large'],
  });
  const paths: Path[] = [];
  const children: RunningProxyChild[] = [];
  try {
    const base = benchTable(sim.url, threshold);
    const onTable = withLimits(base, true);
    log('overhead: starting three proxy children (limits on, limits off, control without limits)');
    const profileDir = (key: PathKey) =>
      plan.cpuProfDir === undefined ? undefined : join(plan.cpuProfDir, key.replace('_', '-'));
    const on = await startProxyChild(group, onTable, {
      cpuProfDir: profileDir('limits_on'),
      entry: 'cli/main',
    });
    const offTable = withLimits(base, false);
    const off = await startProxyChild(group, offTable, {
      cpuProfDir: profileDir('limits_off'),
      entry: 'cli/main',
    });
    const control = await startProxyChild(group, offTable, {
      cpuProfDir: profileDir('control'),
      entry: 'cli/main',
    });
    children.push(on, off, control);
    const pushed = await pushAssignment(on, soleProxyAssignment(onTable, Date.now()));
    const target = (
      key: PathKey,
      origin: string,
      model: string,
      proxy?: RunningProxyChild,
    ): Path => {
      const t: Target = {
        name: key === 'direct' ? 'direct' : 'proxy',
        origin,
        path: '/v1/chat/completions',
        headers: { ...CLIENT_HEADERS },
        buffered: chatBody(model, false),
        stream: chatBody(model, true),
      };
      return {
        key,
        client: new Client(t),
        pid: proxy?.child.pid,
        cpuAtStartMs: undefined,
        sequential: new LatencySamples(),
        load: new LatencySamples(),
        errors: new ErrorCounts(),
      };
    };
    paths.push(
      target('direct', sim.url, UPSTREAM_MODEL),
      target('limits_on', on.dataUrl, BENCH_MODEL, on),
      target('limits_off', off.dataUrl, BENCH_MODEL, off),
      target('control', control.dataUrl, BENCH_MODEL, control),
    );
    log(`overhead: ${plan.warmup} warm-up then ${plan.sequential} interleaved requests per path`);
    for (let i = -plan.warmup; i < plan.sequential; i++) {
      if (i === 0)
        for (const p of paths) p.cpuAtStartMs = p.pid === undefined ? undefined : cpuMsOf(p.pid);
      for (const p of rotated(paths, i + plan.warmup)) {
        const start = process.hrtime.bigint();
        const outcome = await p.client.send(false);
        if (i < 0) continue;
        if (outcome.ok) p.sequential.addSpan(start, outcome.endNs);
        else p.errors.add(outcome);
      }
    }
    log(
      `overhead: open loop ${plan.loadRps} rps, ${plan.loadRounds} rounds of ${plan.loadSliceMs} ms per path`,
    );
    for (let r = 0; r < plan.loadRounds; r++)
      for (const p of rotated(paths, r))
        await openLoop(p.client, plan.loadRps, plan.loadSliceMs, p.load, p.errors);

    const summary = (pick: (p: Path) => LatencySamples) =>
      Object.fromEntries(paths.map((p) => [p.key, pick(p).summary()])) as Record<
        PathKey,
        LatencySummary
      >;
    const seq = summary((p) => p.sequential);
    const load = summary((p) => p.load);
    const over = (s: Record<PathKey, LatencySummary>) => ({
      limits_on: overheadOf(s.limits_on, s.direct),
      limits_off: overheadOf(s.limits_off, s.direct),
      control: overheadOf(s.control, s.direct),
    });
    const cpu = Object.fromEntries(
      paths.filter((p) => p.key !== 'direct').map((p) => [p.key, cpuPerRequestUs(p)]),
    ) as Record<ProxyKey, number | null>;
    const seqOver = over(seq);
    const loadOver = over(load);
    return {
      requests_per_path: plan.sequential,
      load: {
        rps: plan.loadRps,
        rounds: plan.loadRounds,
        seconds_per_path: round((plan.loadRounds * plan.loadSliceMs) / 1000, 1),
      },
      assignment_accepted: pushed.ok,
      assignment_answer: pushed.answer,
      sequential: seq,
      overhead_sequential_ms: seqOver,
      load_ms: load,
      overhead_load_ms: loadOver,
      ratio_p50_sequential: ratio(seqOver.limits_on.p50_ms, seqOver.limits_off.p50_ms),
      ratio_p99_sequential: ratio(seqOver.limits_on.p99_ms, seqOver.limits_off.p99_ms),
      ratio_p50_load: ratio(loadOver.limits_on.p50_ms, loadOver.limits_off.p50_ms),
      ratio_p99_load: ratio(loadOver.limits_on.p99_ms, loadOver.limits_off.p99_ms),
      control_ratio_p50_sequential: ratio(seqOver.control.p50_ms, seqOver.limits_off.p50_ms),
      control_ratio_p50_load: ratio(loadOver.control.p50_ms, loadOver.limits_off.p50_ms),
      cpu_us_per_request: cpu,
      cpu_ratio: ratio(cpu.limits_on ?? NaN, cpu.limits_off ?? NaN),
      control_cpu_ratio: ratio(cpu.control ?? NaN, cpu.limits_off ?? NaN),
      errors: Object.fromEntries(paths.map((p) => [p.key, p.errors.toJSON()])) as Record<
        PathKey,
        ReturnType<ErrorCounts['toJSON']>
      >,
    };
  } finally {
    await Promise.all(paths.map((p) => p.client.close()));
    await Promise.all(children.map((c) => c.child.stop()));
    await sim.close();
  }
}
