// Every benchmark, as CI runs it: in quick mode (small sizes, same code paths),
// as a child process, checking only that it exits 0 and prints a JSON object
// with the keys its readers rely on. No figure is ever asserted: the machines
// are shared and noisy, and a benchmark measures, it does not pass or fail.
//
// Adding a benchmark is one line in QUICK_BENCHMARKS. The inventory test
// (test/bench/quick-benchmarks.test.ts) fails while an npm `bench:*` script or
// a `make bench` command runs something no line here covers.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './cluster.js';

export interface QuickBenchmark {
  /** How people run it (the npm script or command), for test names and messages. */
  name: string;
  /** The module run with `node --import tsx`, from the repo root, and its arguments; `--quick` is appended. */
  run: readonly string[];
  /** Top-level keys the JSON result must have. */
  keys: readonly string[];
  /** Needs the test API server: runs in the control-plane project, given `--kubeconfig`. */
  apiServer?: true;
}

export const QUICK_BENCHMARKS: readonly QuickBenchmark[] = [
  {
    name: 'modelroute bench proxy',
    run: ['src/cli/main.ts', 'bench', 'proxy', '--json', '--peer', 'portkey'],
    keys: [
      'benchmark',
      'overhead',
      'floor',
      'overhead_vs_floor',
      'errors',
      'idle_rss_mb',
      'proxy_rss_mb',
      'stream',
      'decision',
      'sequential',
      'load',
      'peer',
      'goals',
      'difficulty',
      'machine',
    ],
  },
  {
    name: 'npm run bench:controller',
    run: ['src/cli/main.ts', 'bench', 'controller', '--json'],
    keys: ['benchmark', 'machine', 'apply_to_programmed', 'scale', 'goals'],
    apiServer: true,
  },
  {
    name: 'npm run bench:quotas',
    run: ['src/cli/main.ts', 'bench', 'quotas', '--json'],
    keys: [
      'benchmark',
      'machine',
      'run',
      'rpm',
      'tpm',
      'budget',
      'priority',
      'overhead_ratio',
      'goals',
      'pass',
    ],
    apiServer: true,
  },
  {
    // The overhead part of bench quotas alone: it needs no API server.
    name: 'modelroute bench quotas --only overhead',
    run: ['src/cli/main.ts', 'bench', 'quotas', '--only', 'overhead', '--json'],
    keys: ['benchmark', 'only', 'machine', 'overhead_ratio', 'overhead', 'goals', 'pass'],
  },
  {
    name: 'npm run bench:providers',
    run: ['bench/providers.ts'],
    keys: ['benchmark', 'requests_per_round', 'rounds', 'results'],
  },
  {
    name: 'npm run bench:limits-path',
    run: ['bench/limits-path.ts'],
    keys: ['benchmark', 'requests_per_round', 'rounds', 'results'],
  },
  {
    name: 'npm run bench:long-input',
    run: ['bench/long-input.ts'],
    keys: [
      'benchmark',
      'sizes_bytes',
      'worst_cpu_ms',
      'worst_block_cpu_ms',
      'worst_stall_wall_ms',
      'goal_met',
      'results',
    ],
  },
  {
    name: 'npm run bench:routing',
    run: ['bench/routing-decision.ts'],
    keys: ['benchmark', 'iterations', 'results'],
  },
  {
    name: 'npm run bench:router (scoring cost)',
    run: ['bench/router-latency.ts'],
    keys: ['benchmark', 'model', 'rounds', 'results'],
  },
  {
    name: 'npm run bench:router (held-out table)',
    run: ['bench/router-table.ts'],
    keys: [
      'benchmark',
      'data',
      'seeds',
      'crossDomain',
      'directions',
      'inSample',
      'goals',
      'results',
    ],
  },
  {
    name: 'npm run bench:router-nested',
    run: ['bench/router-nested.ts'],
    keys: ['benchmark', 'data', 'seeds', 'candidates', 'results'],
  },
  {
    name: 'npm run bench:strong-share',
    run: ['bench/strong-share.ts'],
    keys: ['benchmark', 'data', 'model', 'goal_met', 'worst_window_error', 'results'],
  },
  {
    name: 'npm run bench:learning',
    run: ['bench/learning.ts'],
    keys: ['benchmark', 'data', 'seeds', 'goal', 'goal_met', 'verdict', 'protocols', 'full_window'],
  },
  {
    name: 'npm run bench:router-v2-select',
    run: ['bench/router-v2-select.ts'],
    keys: [
      'benchmark',
      'data',
      'candidates',
      'nested',
      'nestedMean',
      'directions',
      'shippedRecipe',
    ],
  },
];

export interface QuickRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a module of this repository with `node --import tsx` from the repo root. */
export function runTsx(module: string, args: readonly string[]): Promise<QuickRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, module), ...args], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

export function runQuick(
  bench: QuickBenchmark,
  extraArgs: readonly string[] = [],
): Promise<QuickRun> {
  const [module, ...args] = bench.run;
  return runTsx(module as string, [...args, '--quick', ...extraArgs]);
}

const runs = new Map<string, Promise<QuickRun>>();

/** runQuick once per benchmark and arguments in a test file; the tests that read the result share it. */
export function runQuickOnce(
  bench: QuickBenchmark,
  extraArgs: readonly string[] = [],
): Promise<QuickRun> {
  const key = JSON.stringify([bench.run, extraArgs]);
  let run = runs.get(key);
  if (!run) runs.set(key, (run = runQuick(bench, extraArgs)));
  return run;
}

/**
 * The JSON object a benchmark prints first. Some print a markdown table for
 * people after a blank line; indented JSON never holds a blank line.
 */
export function firstJsonObject(stdout: string): Record<string, unknown> {
  const text = stdout.split(/\n\s*\n/)[0] ?? '';
  const value: unknown = JSON.parse(text);
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`the benchmark printed ${text.slice(0, 200)}, not a JSON object`);
  return value as Record<string, unknown>;
}

/** What a test compares: exit code (with stderr when it failed) and the keys that are missing. */
export function quickOutcome(bench: QuickBenchmark, run: QuickRun) {
  let missing: string[] | string;
  try {
    const result = firstJsonObject(run.stdout);
    missing = bench.keys.filter((k) => !(k in result));
  } catch (err) {
    missing = `stdout is not a JSON object (${(err as Error).message}): ${run.stdout.slice(0, 300)}`;
  }
  return {
    code: run.code,
    stderr: run.code === 0 ? '' : run.stderr.slice(-3000),
    missing,
  };
}

export const QUICK_OK = { code: 0, stderr: '', missing: [] };
