// `bench proxy`: direct vs proxy vs floor (vs peer) in interleaved rounds: one at a time, open loop, streamed.
import { cpus, loadavg } from 'node:os';
import { z } from 'zod';
import { initialDifficultyRouter } from '../proxy/difficulty-router.js';
import { startSimulatedBackend, type SimulatedBackend } from '../simulator/index.js';
import type { BenchOptions } from './args.js';
import { cpuMsOf, memoryOf, type Child, type ChildGroup } from './children.js';
import { benchDecision, type DecisionResult } from './decision.js';
import { codeOrigin } from './entrypoints.js';
import {
  LatencySamples,
  overheadOf,
  ratio,
  round,
  type LatencySummary,
  type Overhead,
} from './histogram.js';
import {
  Client,
  ErrorCounts,
  openLoop,
  type Outcome,
  type PathName,
  type Target,
} from './load-generator.js';
import {
  PEER_DIR,
  PORTKEY_PINS,
  PORTKEY_VERSION,
  ensurePortkey,
  startPortkey,
} from './peer-portkey.js';
import { startFloorChild, startProxyChild } from './proxy-child.js';
import {
  BENCH_MODEL,
  CLIENT_HEADERS,
  EXPECTED_BACKEND,
  BENCH_LEARNING,
  TABLE_DESCRIPTION,
  UPSTREAM_MODEL,
  benchTable,
  chatBody,
  difficultyPlan,
  type DifficultyPlan,
} from './route-table.js';

/** Streaming pace after the first token, and answer length (words = tokens). */
const STREAM_TPS = 500;
const OUTPUT_TOKENS = 16;
const WARMUP_SEQUENTIAL = 500;
/** Streamed warm-up runs concurrently: enough calls for the JIT to optimise the streaming path. */
const WARMUP_STREAMS = 600;
const WARMUP_STREAM_CONCURRENCY = 40;
/** --quick: enough to run the streaming code once per path, not to optimise it. */
const QUICK_WARMUP_STREAMS = 40;
const WARMUP_LOAD_MS = 1_000;
/** After a load slice: wait for every child to go quiet (< 5% CPU over 100 ms), within these bounds. */
const SETTLE_MIN_MS = 200;
const SETTLE_MAX_MS = 3_000;

type Log = (line: string) => void;

interface PathState {
  name: PathName;
  client: Client;
  pid: number | undefined;
  sequential: LatencySamples;
  load: LatencySamples;
  ttft: LatencySamples;
  streamTotal: LatencySamples;
  sendLag: LatencySamples;
  errors: { sequential: ErrorCounts; load: ErrorCounts; stream: ErrorCounts };
  loadSent: number;
  loadCompleted: number;
  loadElapsedS: number;
  /** p50/p99/max of each open-loop slice, in round order: shows whether a tail comes from one moment. */
  slices: { p50_ms: number; p99_ms: number; max_ms: number }[];
  cpuMs: number;
  cpuRequests: number;
  /** The proxy's admin /metrics, to read its own GC pauses (prom-client's nodejs_gc_duration_seconds). */
  metricsUrl?: string;
  gc: Record<string, { count: number; ms: number }>;
}

function newPath(name: PathName, target: Target, pid: number | undefined): PathState {
  return {
    name,
    client: new Client(target),
    pid,
    sequential: new LatencySamples(),
    load: new LatencySamples(),
    ttft: new LatencySamples(),
    streamTotal: new LatencySamples(),
    sendLag: new LatencySamples(),
    errors: { sequential: new ErrorCounts(), load: new ErrorCounts(), stream: new ErrorCounts() },
    loadSent: 0,
    loadCompleted: 0,
    loadElapsedS: 0,
    slices: [],
    cpuMs: 0,
    cpuRequests: 0,
    gc: {},
  };
}

/** Paths in a different order each round, so no path always follows the same one. */
function rotated<T>(items: readonly T[], by: number): T[] {
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** GC count and total pause by kind (major, minor, incremental, weakcb) from Prometheus text. */
async function gcTotals(
  metricsUrl: string,
): Promise<Record<string, { count: number; ms: number }> | undefined> {
  try {
    const res = await fetch(metricsUrl);
    const text = await res.text();
    const out: Record<string, { count: number; ms: number }> = {};
    const re = /^nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} ([0-9.eE+-]+)$/gm;
    for (const [, field, kind, value] of text.matchAll(re)) {
      const entry = (out[kind as string] ??= { count: 0, ms: 0 });
      if (field === 'sum') entry.ms = Number(value) * 1000;
      else entry.count = Number(value);
    }
    return out;
  } catch {
    return undefined;
  }
}

const proxyStats = z.looseObject({
  difficultyModel: z.looseObject({ name: z.string(), checksum: z.string().nullable() }),
});

/** The difficulty model the proxy child reports it scores with (admin /admin/v1/stats). */
async function proxyDifficultyModel(
  adminUrl: string,
  token: string,
): Promise<{ name: string; checksum: string | null } | undefined> {
  const res = await fetch(`${adminUrl}/admin/v1/stats`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const parsed = proxyStats.safeParse(await res.json().catch(() => undefined));
  return parsed.success ? parsed.data.difficultyModel : undefined;
}

/** With --learning: the learning rule's counters over the run (sampled, shadow and judge calls, labels, spend). */
async function proxyLearningCounters(adminUrl: string, token: string): Promise<unknown> {
  const res = await fetch(`${adminUrl}/admin/v1/stats`, {
    headers: { authorization: `Bearer ${token}` },
  });
  const parsed = z
    .looseObject({ learning: z.looseObject({ rules: z.record(z.string(), z.unknown()) }) })
    .safeParse(await res.json().catch(() => undefined));
  return parsed.success ? parsed.data.learning.rules : undefined;
}

/** Lets leftovers of the previous slice (GC, deferred logging) finish before the next path is timed. */
async function settle(pids: number[]): Promise<void> {
  await sleep(SETTLE_MIN_MS);
  for (let waited = SETTLE_MIN_MS; waited < SETTLE_MAX_MS; waited += 100) {
    const before = pids.map((pid) => cpuMsOf(pid) ?? 0);
    await sleep(100);
    const busy = pids.some((pid, i) => (cpuMsOf(pid) ?? 0) - (before[i] as number) > 5);
    if (!busy) return;
  }
}

/** Streamed requests `concurrency` at a time, not recorded: warms the streaming code of every path. */
async function warmStreams(paths: PathState[], count: number, concurrency: number): Promise<void> {
  for (const path of paths) {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        next++;
        await path.client.send(true);
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  }
}

function headerString(outcome: Outcome, name: string): string | undefined {
  const v = outcome.headers?.[name];
  return Array.isArray(v) ? v[0] : v;
}

/** One request per path, checked: a path that cannot answer is reported before anything is timed. */
async function verify(path: PathState, plan: DifficultyPlan): Promise<string | undefined> {
  for (const stream of [false, true]) {
    const outcome = await path.client.send(stream);
    if (!outcome.ok)
      return `${path.name}: ${stream ? 'streamed' : 'buffered'} request failed: ${outcome.message ?? outcome.failure}`;
    if (path.name === 'proxy') {
      const backend = headerString(outcome, 'x-modelroute-backend');
      if (backend !== EXPECTED_BACKEND)
        return `proxy routed to ${backend ?? '(no x-modelroute-backend header)'}, expected ${EXPECTED_BACKEND}: it scored the prompt ${headerString(outcome, 'x-modelroute-difficulty') ?? '(no header)'} against threshold ${headerString(outcome, 'x-modelroute-threshold') ?? '(no header)'}; the bench scored it ${plan.promptDifficulty.toFixed(3)} and set threshold ${plan.threshold}`;
    }
  }
  return undefined;
}

async function sequentialRounds(
  paths: PathState[],
  count: number,
  record: boolean,
  selfReported: LatencySamples,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    for (const path of rotated(paths, i)) {
      const start = process.hrtime.bigint();
      const outcome = await path.client.send(false);
      if (!record) continue;
      if (!outcome.ok) {
        path.errors.sequential.add(outcome);
        continue;
      }
      path.sequential.addSpan(start, outcome.endNs);
      if (path.name === 'proxy') {
        const own = Number(headerString(outcome, 'x-modelroute-overhead-ms'));
        if (Number.isFinite(own)) selfReported.addMicros(own * 1000);
      }
    }
  }
}

async function streamRounds(
  paths: PathState[],
  count: number,
  selfReported: LatencySamples,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    for (const path of rotated(paths, i)) {
      const start = process.hrtime.bigint();
      const outcome = await path.client.send(true);
      if (!outcome.ok || outcome.firstByteNs === undefined) {
        path.errors.stream.add(
          outcome.ok ? { ...outcome, ok: false, message: 'no body' } : outcome,
        );
        continue;
      }
      path.ttft.addSpan(start, outcome.firstByteNs);
      path.streamTotal.addSpan(start, outcome.endNs);
      if (path.name === 'proxy') {
        const own = Number(headerString(outcome, 'x-modelroute-overhead-ms'));
        if (Number.isFinite(own)) selfReported.addMicros(own * 1000);
      }
    }
  }
}

async function loadRounds(
  paths: PathState[],
  options: BenchOptions,
  sliceMs: number,
  rounds: number,
  record: boolean,
  log: Log,
): Promise<void> {
  const pids = paths.flatMap((p) => (p.pid !== undefined ? [p.pid] : []));
  for (let r = 0; r < rounds; r++) {
    for (const path of rotated(paths, r)) {
      if (record)
        log(
          `  load round ${r + 1}/${rounds}: ${path.name} at ${options.rps} rps for ${sliceMs} ms`,
        );
      const gcBefore = record && path.metricsUrl ? await gcTotals(path.metricsUrl) : undefined;
      if (gcBefore) await sleep(50); // the scrape's own work is done before the slice starts
      const cpuBefore = path.pid !== undefined ? cpuMsOf(path.pid) : undefined;
      const slice = new LatencySamples();
      const result = await openLoop(
        path.client,
        options.rps,
        sliceMs,
        slice,
        record ? path.errors.load : new ErrorCounts(),
      );
      const cpuAfter = path.pid !== undefined ? cpuMsOf(path.pid) : undefined;
      const gcAfter = gcBefore && path.metricsUrl ? await gcTotals(path.metricsUrl) : undefined;
      if (gcBefore && gcAfter)
        for (const [kind, after] of Object.entries(gcAfter)) {
          const before = gcBefore[kind] ?? { count: 0, ms: 0 };
          const sum = (path.gc[kind] ??= { count: 0, ms: 0 });
          sum.count += after.count - before.count;
          sum.ms += after.ms - before.ms;
        }
      if (record) {
        path.loadSent += result.sent;
        path.loadCompleted += result.completed;
        path.loadElapsedS += result.elapsedS;
        const sorted = slice.sorted();
        for (let i = 0; i < sorted.length; i++) path.load.addMicros(sorted[i] as number);
        const { p50_ms, p99_ms, max_ms } = slice.summary();
        path.slices.push({ p50_ms, p99_ms, max_ms });
        const lag = result.sendLag.sorted();
        for (let i = 0; i < lag.length; i++) path.sendLag.addMicros(lag[i] as number);
        if (cpuBefore !== undefined && cpuAfter !== undefined) {
          path.cpuMs += cpuAfter - cpuBefore;
          path.cpuRequests += result.sent;
        }
      }
      await settle(pids);
    }
  }
}

function withOverhead(s: LatencySummary, direct: LatencySummary) {
  return { ...s, overhead: overheadOf(s, direct) };
}

function loadFigures(p: PathState, direct: LatencySummary) {
  const s = p.load.summary();
  return {
    ...s,
    ...(p.name === 'direct' ? {} : { overhead: overheadOf(s, direct) }),
    sent: p.loadSent,
    completed: p.loadCompleted,
    achieved_rps: round(p.loadCompleted / Math.max(p.loadElapsedS, 1e-9), 1),
    rounds: p.slices,
    ...(p.metricsUrl
      ? {
          gc_during_load: Object.fromEntries(
            Object.entries(p.gc).map(([kind, v]) => [
              kind,
              { count: v.count, pause_ms: round(v.ms, 1) },
            ]),
          ),
        }
      : {}),
    errors: p.errors.load.toJSON(),
    send_lag_p99_ms: p.sendLag.summary().p99_ms,
    cpu_us_per_request: p.cpuRequests > 0 ? round((p.cpuMs * 1000) / p.cpuRequests, 1) : null,
  };
}

function streamFigures(p: PathState, direct: LatencySummary) {
  const ttft = p.ttft.summary();
  return {
    ttft_p50_ms: ttft.p50_ms,
    ttft_p90_ms: ttft.p90_ms,
    ttft_p99_ms: ttft.p99_ms,
    total_p50_ms: p.streamTotal.summary().p50_ms,
    count: ttft.count,
    ...(p.name === 'direct'
      ? {}
      : {
          ttft_overhead_ms: round(ttft.p50_ms - direct.p50_ms),
          ttft_overhead_p99_ms: round(ttft.p99_ms - direct.p99_ms),
        }),
    errors: p.errors.stream.toJSON(),
  };
}

/** The x-modelroute-overhead-ms values the proxy reported about itself. */
function brief(samples: LatencySamples) {
  const s = samples.summary();
  return {
    p50_ms: s.p50_ms,
    p90_ms: s.p90_ms,
    p99_ms: s.p99_ms,
    count: s.count,
    what: "the proxy's own x-modelroute-overhead-ms header: arrival to answer headers, minus time waiting on the upstream",
  };
}

function errorTotal(p: PathState): number {
  return p.errors.sequential.total + p.errors.load.total + p.errors.stream.total;
}

function goal(name: string, target: string, value: number, met: boolean) {
  return { goal: name, target, value, met: Number.isFinite(value) ? met : null };
}

export interface BenchContext {
  options: BenchOptions;
  group: ChildGroup;
  log: Log;
}

export async function runProxyOverhead(ctx: BenchContext): Promise<Record<string, unknown>> {
  const { options, group, log } = ctx;
  const notes: string[] = options.quick
    ? [
        '--quick: CI sizes and a short warm-up; these figures show the bench runs, not what the proxy costs',
      ]
    : [];
  const loadStart = loadavg();

  // The proxy child is given no model file: it scores with the shipped model
  // (or the heuristic if that file is refused). Build the same router here to
  // score the bench prompt, and check below that the child reports the same model.
  const router = initialDifficultyRouter({
    onShippedRefused: (error) => log(`difficulty model refused, scoring heuristically: ${error}`),
  });
  const model = router.model;
  const plan = difficultyPlan(router.score);
  log(
    `difficulty: ${model.name} scores the bench prompt ${plan.promptDifficulty.toFixed(3)}; by-difficulty threshold ${plan.threshold}`,
  );

  log(`routing decision: ${options.decisions} selectBackends calls in-process`);
  const decision: DecisionResult = benchDecision(options.decisions, options.seed);

  const sim: SimulatedBackend = await startSimulatedBackend({
    latencyMs: options.seqLatencyMs,
    ttftMs: options.ttftMs,
    tokensPerSecond: STREAM_TPS,
    outputTokens: OUTPUT_TOKENS,
    recordRequests: false,
    seed: options.seed,
    models: [UPSTREAM_MODEL, 'sim-large'],
  });
  const paths: PathState[] = [];
  try {
    log('starting the proxy and the floor as child processes');
    let proxy;
    let proxyEntry = 'modelroute proxy (cli/main)';
    try {
      proxy = await startProxyChild(group, benchTable(sim.url, plan.threshold, options.learning), {
        cpuProfDir: options.cpuProfDir,
        entry: 'cli/main',
      });
    } catch (err) {
      // e.g. another command's module fails to load in a half-edited tree: runProxy alone still runs.
      const first = (err as Error).message.split('\n').find((l) => /Error|error/.test(l)) ?? '';
      log(`cli/main did not start (${first.trim()}); using the bench's own entry to runProxy`);
      notes.push(
        `cli/main failed to start (${first.trim().slice(0, 200)}): the proxy ran from bench/proxy-main (the same runProxy, without the other commands' modules loaded, so its RSS is lower than production's)`,
      );
      proxyEntry = 'runProxy via bench/proxy-main (fallback)';
      proxy = await startProxyChild(group, benchTable(sim.url, plan.threshold, options.learning), {
        cpuProfDir: options.cpuProfDir,
        entry: 'bench/proxy-main',
      });
    }
    // Idle: the table installed, no request served yet, the start's work done.
    await settle([proxy.child.pid]);
    const proxyMemoryIdle = memoryOf(proxy.child.pid);
    const proxyModel = await proxyDifficultyModel(proxy.adminUrl, proxy.token);
    if (proxyModel?.name !== model.name || proxyModel.checksum !== model.checksum)
      throw new Error(
        `the proxy scores with difficulty model ${JSON.stringify(proxyModel)}, the bench placed its threshold with ${model.name} (${model.checksum}): they must be the same model`,
      );
    const floor = await startFloorChild(group, sim.url, UPSTREAM_MODEL);
    const body = (model: string) => ({
      buffered: chatBody(model, false),
      stream: chatBody(model, true),
    });
    const path = '/v1/chat/completions';
    paths.push(
      newPath(
        'direct',
        {
          name: 'direct',
          origin: sim.url,
          path,
          headers: { ...CLIENT_HEADERS },
          ...body(UPSTREAM_MODEL),
        },
        undefined,
      ),
      newPath(
        'proxy',
        {
          name: 'proxy',
          origin: proxy.dataUrl,
          path,
          headers: { ...CLIENT_HEADERS },
          ...body(BENCH_MODEL),
        },
        proxy.child.pid,
      ),
      newPath(
        'floor',
        {
          name: 'floor',
          origin: floor.url,
          path,
          headers: { ...CLIENT_HEADERS },
          ...body(BENCH_MODEL),
        },
        floor.child.pid,
      ),
    );
    (paths[1] as PathState).metricsUrl = `${proxy.adminUrl}/metrics`;

    let peer: Record<string, unknown> | undefined;
    let peerChild: Child | undefined;
    if (options.peer === 'portkey') {
      log(`peer: @portkey-ai/gateway@${PORTKEY_VERSION} (cached in ${PEER_DIR})`);
      const installed = await ensurePortkey({ install: !options.quick });
      if (!installed.ok) {
        log(`peer skipped: ${installed.message}`);
        peer = { name: 'portkey', version: PORTKEY_VERSION, skipped: installed.message };
      } else {
        try {
          const pk = await startPortkey(group, sim.url);
          peerChild = pk.child;
          paths.push(
            newPath(
              'peer',
              {
                name: 'peer',
                origin: pk.url,
                path,
                headers: { ...CLIENT_HEADERS, ...pk.headers },
                ...body(UPSTREAM_MODEL),
              },
              pk.child.pid,
            ),
          );
        } catch (err) {
          const message = `portkey did not start: ${(err as Error).message}`;
          log(`peer skipped: ${message}`);
          peer = { name: 'portkey', version: PORTKEY_VERSION, skipped: message };
        }
      }
    }

    for (const p of [...paths]) {
      const problem = await verify(p, plan);
      if (!problem) continue;
      if (p.name !== 'peer') throw new Error(problem);
      log(`peer skipped: ${problem}`);
      peer = { name: 'portkey', version: PORTKEY_VERSION, skipped: problem };
      paths.splice(paths.indexOf(p), 1);
      await p.client.close();
    }

    const proxyMemoryAtStart = memoryOf(proxy.child.pid);
    const selfReported = new LatencySamples();
    const sliceMs = Math.max(100, Math.round(options.durationMs / options.rounds));
    log('warming up (not recorded)');
    sim.setBehavior({ latencyMs: options.seqLatencyMs });
    await sequentialRounds(
      paths,
      Math.min(WARMUP_SEQUENTIAL, options.requests),
      false,
      selfReported,
    );
    sim.setBehavior({ latencyMs: options.latencyMs });
    await loadRounds(paths, options, Math.min(WARMUP_LOAD_MS, sliceMs), 1, false, log);
    await warmStreams(
      paths,
      options.quick ? QUICK_WARMUP_STREAMS : WARMUP_STREAMS,
      WARMUP_STREAM_CONCURRENCY,
    );

    log(
      `one at a time: ${options.requests} interleaved rounds (upstream latency ${options.seqLatencyMs} ms)`,
    );
    sim.setBehavior({ latencyMs: options.seqLatencyMs });
    await sequentialRounds(paths, options.requests, true, selfReported);

    log(
      `open loop: ${options.rps} rps, ${options.rounds} interleaved rounds of ${sliceMs} ms per path (upstream latency ${options.latencyMs} ms)`,
    );
    sim.setBehavior({ latencyMs: options.latencyMs });
    await loadRounds(paths, options, sliceMs, options.rounds, true, log);

    log(`streaming: ${options.streams} interleaved rounds (ttft ${options.ttftMs} ms)`);
    const streamSelfReported = new LatencySamples();
    await streamRounds(paths, options.streams, streamSelfReported);

    const proxyMemory = proxy.child.pid !== undefined ? memoryOf(proxy.child.pid) : undefined;
    const floorMemory = memoryOf(floor.child.pid);
    const byName = new Map(paths.map((p) => [p.name, p]));
    const get = (n: PathName) => byName.get(n);
    const d = get('direct') as PathState;
    const px = get('proxy') as PathState;
    const fl = get('floor') as PathState;
    const pe = get('peer');

    const loadDirect = d.load.summary();
    const seqDirect = d.sequential.summary();
    const ttftDirect = d.ttft.summary();
    const load = Object.fromEntries(paths.map((p) => [p.name, loadFigures(p, loadDirect)]));
    const seq = Object.fromEntries(
      paths.map((p) => [
        p.name,
        p.name === 'direct'
          ? { ...p.sequential.summary(), errors: p.errors.sequential.toJSON() }
          : {
              ...withOverhead(p.sequential.summary(), seqDirect),
              errors: p.errors.sequential.toJSON(),
            },
      ]),
    );
    const stream = Object.fromEntries(paths.map((p) => [p.name, streamFigures(p, ttftDirect)]));

    const loadOverhead = (p: PathState): Overhead => overheadOf(p.load.summary(), loadDirect);
    const seqOverhead = (p: PathState): Overhead => overheadOf(p.sequential.summary(), seqDirect);
    const proxyLoad = px.load.summary();
    const overhead = loadOverhead(px);
    const floorOverhead = loadOverhead(fl);
    const proxySeq = seqOverhead(px);
    const floorSeq = seqOverhead(fl);
    const ttftOverhead = round(px.ttft.summary().p50_ms - ttftDirect.p50_ms);
    const proxyErrors = errorTotal(px);

    if (pe) {
      const peerMemory = pe.pid !== undefined ? memoryOf(pe.pid) : undefined;
      const peerLoad = pe.load.summary();
      peer = {
        name: 'portkey',
        version: PORTKEY_VERSION,
        install: `npm install --prefix ${PEER_DIR} --no-save --ignore-scripts @portkey-ai/gateway@${PORTKEY_VERSION} ${PORTKEY_PINS.join(' ')}`,
        p50_ms: peerLoad.p50_ms,
        p90_ms: peerLoad.p90_ms,
        p99_ms: peerLoad.p99_ms,
        overhead: loadOverhead(pe),
        errors: errorTotal(pe),
        ...(errorTotal(pe) > 0 && peerChild
          ? { log_tail: peerChild.tail().split('\n').slice(-8) }
          : {}),
        rss_mb: peerMemory ? round(peerMemory.rssMb, 1) : null,
        cpu_us_per_request: load.peer?.cpu_us_per_request ?? null,
        sequential: { overhead: seqOverhead(pe) },
        stream: { ttft_overhead_ms: round(pe.ttft.summary().p50_ms - ttftDirect.p50_ms) },
        notes: [
          'requests carry x-portkey-provider: openai and x-portkey-custom-host pointing at the simulator; the model name is sent as the upstream one (no rewrite)',
          'started as start-server.js --port=N (the form it parses) with a preload that binds it to 127.0.0.1',
          `${PORTKEY_PINS.join(' and ')} pinned: with the newest @hono/node-server npm picks, this gateway version answers streamed requests with 500 "TypeError: immutable" (Portkey-AI/gateway#1389)`,
          'its OpenAI stream path waits 25 ms before passing on the first chunk (a setTimeout in its stream reader), which shows in its TTFT',
        ],
      };
    }

    const loadEnd = loadavg();
    const learningCounters = options.learning
      ? await proxyLearningCounters(proxy.adminUrl, proxy.token)
      : undefined;
    const result: Record<string, unknown> = {
      benchmark: 'proxy-overhead',
      quick: options.quick,
      learning: options.learning,
      ...(learningCounters === undefined ? {} : { learning_counters: learningCounters }),
      rps: options.rps,
      direct: { p50_ms: loadDirect.p50_ms, p90_ms: loadDirect.p90_ms, p99_ms: loadDirect.p99_ms },
      proxy: { p50_ms: proxyLoad.p50_ms, p90_ms: proxyLoad.p90_ms, p99_ms: proxyLoad.p99_ms },
      overhead,
      floor: {
        p50_ms: fl.load.summary().p50_ms,
        p90_ms: fl.load.summary().p90_ms,
        p99_ms: fl.load.summary().p99_ms,
        overhead: floorOverhead,
      },
      overhead_vs_floor: {
        load_p50: ratio(overhead.p50_ms, floorOverhead.p50_ms),
        load_p99: ratio(overhead.p99_ms, floorOverhead.p99_ms),
        sequential_p50: ratio(proxySeq.p50_ms, floorSeq.p50_ms),
        sequential_p99: ratio(proxySeq.p99_ms, floorSeq.p99_ms),
      },
      ...(pe
        ? {
            overhead_vs_peer: {
              load_p50: ratio(overhead.p50_ms, loadOverhead(pe).p50_ms),
              load_p99: ratio(overhead.p99_ms, loadOverhead(pe).p99_ms),
              sequential_p50: ratio(proxySeq.p50_ms, seqOverhead(pe).p50_ms),
              sequential_p99: ratio(proxySeq.p99_ms, seqOverhead(pe).p99_ms),
            },
          }
        : {}),
      errors: proxyErrors,
      errors_by_path: Object.fromEntries(paths.map((p) => [p.name, errorTotal(p)])),
      idle_rss_mb: proxyMemoryIdle ? round(proxyMemoryIdle.rssMb, 1) : null,
      proxy_rss_mb: proxyMemory ? round(proxyMemory.rssMb, 1) : null,
      proxy_rss_at_start_mb: proxyMemoryAtStart ? round(proxyMemoryAtStart.rssMb, 1) : null,
      proxy_peak_rss_mb: proxyMemory ? round(proxyMemory.peakRssMb, 1) : null,
      floor_rss_mb: floorMemory ? round(floorMemory.rssMb, 1) : null,
      stream: {
        ttft_overhead_ms: ttftOverhead,
        ttft_overhead_p99_ms: round(px.ttft.summary().p99_ms - ttftDirect.p99_ms),
        floor_ttft_overhead_ms: round(fl.ttft.summary().p50_ms - ttftDirect.p50_ms),
        upstream_ttft_ms: options.ttftMs,
        upstream_tokens: OUTPUT_TOKENS,
        upstream_tokens_per_second: STREAM_TPS,
        streams_per_path: options.streams,
        ...stream,
        proxy_self_reported_overhead: brief(streamSelfReported),
      },
      decision,
      sequential: {
        requests_per_path: options.requests,
        upstream_latency_ms: options.seqLatencyMs,
        ...seq,
        proxy_self_reported_overhead: brief(selfReported),
      },
      load: {
        rps: options.rps,
        duration_s_per_path: round(options.durationMs / 1000, 2),
        rounds: options.rounds,
        slice_ms: sliceMs,
        upstream_latency_ms: options.latencyMs,
        latency_from:
          'scheduled send time to the last response byte (open loop, no coordinated omission)',
        ...load,
      },
      ...(peer ? { peer } : {}),
      goals: [
        goal('overhead p50 at the load rate', '<= 0.5 ms', overhead.p50_ms, overhead.p50_ms <= 0.5),
        goal('overhead p99 at the load rate', '<= 2 ms', overhead.p99_ms, overhead.p99_ms <= 2),
        goal('errors through the proxy', '0', proxyErrors, proxyErrors === 0),
        goal(
          'proxy RSS idle (table installed, no requests yet)',
          '<= 60 MB',
          proxyMemoryIdle ? round(proxyMemoryIdle.rssMb, 1) : NaN,
          (proxyMemoryIdle?.rssMb ?? Infinity) <= 60,
        ),
        goal(
          `proxy RSS after the run at ${options.rps} rps`,
          '<= 100 MB (the goal is set at 200 rps)',
          proxyMemory ? round(proxyMemory.rssMb, 1) : NaN,
          (proxyMemory?.rssMb ?? Infinity) <= 100,
        ),
        goal('routing decision p99', '<= 20 us', decision.p99_us, decision.p99_us <= 20),
        goal('stream TTFT overhead p50', '<= 1 ms', ttftOverhead, ttftOverhead <= 1),
        ...(pe
          ? [
              goal(
                'overhead p50 below the peer (load)',
                `< ${loadOverhead(pe).p50_ms} ms`,
                overhead.p50_ms,
                overhead.p50_ms < loadOverhead(pe).p50_ms,
              ),
              goal(
                'overhead p99 below the peer (load)',
                `< ${loadOverhead(pe).p99_ms} ms`,
                overhead.p99_ms,
                overhead.p99_ms < loadOverhead(pe).p99_ms,
              ),
            ]
          : []),
      ],
      table: options.learning
        ? `${TABLE_DESCRIPTION}; the by-difficulty rule learns (costQuality.learning ${JSON.stringify(BENCH_LEARNING)}): features kept for feedback, shadow sampling when the proxy has a judge`
        : TABLE_DESCRIPTION,
      difficulty: {
        model: model.name,
        checksum: model.checksum,
        prompt_difficulty: round(plan.promptDifficulty),
        threshold: plan.threshold,
      },
      machine: {
        cpus: cpus().length,
        cpu_model: cpus()[0]?.model ?? 'unknown',
        node: process.version,
        platform: `${process.platform}/${process.arch}`,
        loadavg_start: loadStart.map((v) => round(v, 2)),
        loadavg_end: loadEnd.map((v) => round(v, 2)),
        code: codeOrigin(),
        proxy_entry: proxyEntry,
        note: "the load generator and the simulated upstream share one process and the machine's CPUs with the proxy, the floor and the peer (each its own child process); figures move between runs, compare within a run",
      },
      notes: [
        'overhead = path percentile minus direct percentile, same phase, interleaved rounds',
        'top-level direct/proxy/floor/overhead figures are the open-loop ones; sequential holds one-at-a-time figures',
        'errors = failed requests through the proxy over all phases; errors_by_path has every path',
        ...notes,
      ],
    };
    return result;
  } finally {
    await Promise.all(paths.map((p) => p.client.close()));
    await sim.close();
  }
}
