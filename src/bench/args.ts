// Flags of `modelroute bench proxy`, parsed and checked without side effects.
import { parseArgs } from 'node:util';

export const BENCH_USAGE = `usage: modelroute bench proxy [options]
       modelroute bench controller [options]   (see: modelroute bench controller --help)
       modelroute bench quotas [options]       (see: modelroute bench quotas --help)

Measures the data plane's overhead: a simulated upstream called directly, through
the proxy (a child process), through a minimal pass-through proxy (the floor) and
optionally through a peer gateway, in interleaved rounds. Prints figures (JSON with
--json); never a pass/fail test.

options:
  --json                 print only the JSON result
  --rps N                open-loop arrival rate per path (default 1000)
  --duration D           open-loop time per path, split over the rounds (default 10s)
  --rounds N             interleaved open-loop rounds (default 5)
  --latency D            simulated upstream latency under load (default 20ms)
  --requests N           one-at-a-time requests per path (default 2000)
  --seq-latency D        upstream latency for one-at-a-time requests (default 0ms:
                         pure per-request cost, no timer jitter)
  --streams N            streamed requests per path for time to first token (default 100)
  --ttft D               simulated time to first token (default 50ms)
  --decisions N          routing decisions timed in-process (default 200000)
  --peer NAME            also measure a peer gateway: portkey
  --seed N               seed for the simulator and the routing rng (default 1)
  --cpu-prof DIR         write a V8 CPU profile of the proxy child into DIR
  --learning             the by-difficulty rule learns (costQuality.learning:
                         shadow sampleRate 0.05 judged by the large backend,
                         feedback kept): compare a run with and without it
  --quick                small sizes for CI (every path, a few seconds; figures
                         mean little): 200 rps, 1s, 2 rounds, 100 requests,
                         10 streams, 5ms latency and ttft, 5000 decisions, short
                         warm-up; a peer that is not installed is skipped, not
                         installed. Flags given explicitly still win.
  -h, --help             show this help`;

/** Sizes of a full run and of --quick (CI: same code paths, a few seconds). */
const DEFAULTS = {
  full: {
    rps: '1000',
    duration: '10s',
    rounds: '5',
    latency: '20ms',
    requests: '2000',
    'seq-latency': '0ms',
    streams: '100',
    ttft: '50ms',
    decisions: '200000',
  },
  quick: {
    rps: '200',
    duration: '1s',
    rounds: '2',
    latency: '5ms',
    requests: '100',
    'seq-latency': '0ms',
    streams: '10',
    ttft: '5ms',
    decisions: '5000',
  },
} as const;

export interface BenchOptions {
  json: boolean;
  rps: number;
  durationMs: number;
  rounds: number;
  latencyMs: number;
  requests: number;
  seqLatencyMs: number;
  streams: number;
  ttftMs: number;
  decisions: number;
  peer: 'portkey' | undefined;
  seed: number;
  cpuProfDir: string | undefined;
  /** Small sizes and warm-up, no peer install: CI checks the bench runs, not what it measures. */
  quick: boolean;
  /** The by-difficulty rule learns (issue 17): its overhead against a run without. */
  learning: boolean;
}

export type ParsedBenchArgs =
  { kind: 'help' } | { kind: 'run'; options: BenchOptions } | { kind: 'error'; message: string };

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** "20ms", "1.5s", "2m" -> milliseconds; undefined if malformed. */
export function parseDurationMs(value: string): number | undefined {
  const m = DURATION.exec(value.trim());
  if (!m) return undefined;
  return Number(m[1]) * (UNIT_MS[m[2] as string] as number);
}

/** The integer a flag holds, or the message saying why it is not one in [min, max]. */
export function intIn(flag: string, value: string, min: number, max: number): number | string {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
    return `--${flag} must be an integer from ${min} to ${max}, not "${value}"`;
  return n;
}

function durationIn(flag: string, value: string, minMs: number, maxMs: number): number | string {
  const ms = parseDurationMs(value);
  if (ms === undefined || ms < minMs || ms > maxMs)
    return `--${flag} must be a duration from ${minMs}ms to ${maxMs / 1000}s such as "20ms" or "10s", not "${value}"`;
  return ms;
}

export function parseBenchArgs(argv: readonly string[]): ParsedBenchArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        json: { type: 'boolean' },
        rps: { type: 'string' },
        duration: { type: 'string' },
        rounds: { type: 'string' },
        latency: { type: 'string' },
        requests: { type: 'string' },
        'seq-latency': { type: 'string' },
        streams: { type: 'string' },
        ttft: { type: 'string' },
        decisions: { type: 'string' },
        peer: { type: 'string' },
        seed: { type: 'string', default: '1' },
        'cpu-prof': { type: 'string' },
        quick: { type: 'boolean' },
        learning: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
  const { values, positionals } = parsed;
  if (values.help) return { kind: 'help' };
  if (positionals.length !== 1 || positionals[0] !== 'proxy')
    return {
      kind: 'error',
      message:
        positionals.length === 0
          ? 'bench needs a target: modelroute bench proxy|controller'
          : `unknown bench target "${positionals.join(' ')}": the targets are "proxy", "controller" and "quotas" (which comes first: modelroute bench quotas [options])`,
    };
  if (values.peer !== undefined && values.peer !== 'portkey')
    return { kind: 'error', message: `--peer must be "portkey", not "${values.peer}"` };

  const d = DEFAULTS[values.quick ? 'quick' : 'full'];
  const v = (flag: keyof typeof d): string => values[flag] ?? d[flag];
  const checks = {
    rps: intIn('rps', v('rps'), 1, 20_000),
    durationMs: durationIn('duration', v('duration'), 100, 600_000),
    rounds: intIn('rounds', v('rounds'), 1, 100),
    latencyMs: durationIn('latency', v('latency'), 0, 10_000),
    requests: intIn('requests', v('requests'), 1, 1_000_000),
    seqLatencyMs: durationIn('seq-latency', v('seq-latency'), 0, 10_000),
    streams: intIn('streams', v('streams'), 1, 100_000),
    ttftMs: durationIn('ttft', v('ttft'), 0, 10_000),
    decisions: intIn('decisions', v('decisions'), 1, 10_000_000),
    seed: intIn('seed', values.seed, 0, 2 ** 31 - 1),
  };
  for (const value of Object.values(checks))
    if (typeof value === 'string') return { kind: 'error', message: value };
  const n = checks as Record<keyof typeof checks, number>;
  return {
    kind: 'run',
    options: {
      json: values.json === true,
      rps: n.rps,
      durationMs: n.durationMs,
      rounds: n.rounds,
      latencyMs: n.latencyMs,
      requests: n.requests,
      seqLatencyMs: n.seqLatencyMs,
      streams: n.streams,
      ttftMs: n.ttftMs,
      decisions: n.decisions,
      peer: values.peer === 'portkey' ? 'portkey' : undefined,
      seed: n.seed,
      cpuProfDir: values['cpu-prof'],
      quick: values.quick === true,
      learning: values.learning === true,
    },
  };
}
