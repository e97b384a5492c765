// Flags of `modelroute bench controller`, parsed and checked without side effects.
import { parseArgs } from 'node:util';
import { intIn, parseDurationMs } from './args.js';

export const CONTROLLER_BENCH_USAGE = `usage: modelroute bench controller [options]

Measures the control plane against a real API server (start one with
\`npm run testenv -- up\`): apply-to-programmed latency of a changed ModelRoute
over real proxies, and a scale run (many routes, backends and ack-only proxies:
time to full sync, controller RSS). The controller runs as a child process.
Prints figures (JSON with --json); never a pass/fail test.

options:
  --json                 print only the JSON result
  --kubeconfig F         kubeconfig of the API server (default .testenv/kubeconfig)
  --proxies N            real proxies for the latency run (default 10)
  --changes N            ModelRoute changes timed in the latency run (default 30)
  --routes N             ModelRoutes in the scale run (default 1000)
  --backends N           ModelBackends in the scale run (default 200)
  --ack-proxies N        ack-only proxies in the scale run (default 50)
  --sync-timeout D       give up waiting for full sync after D (default 5m)
  --skip-latency         do not run the latency part
  --skip-scale           do not run the scale part
  --keep                 leave the bench namespaces and their objects in place
  --cpu-prof DIR         write a V8 CPU profile of each controller child into DIR
  --quick                small sizes for CI (both parts, same code; figures mean
                         little): 3 proxies, 3 changes, 20 routes, 5 backends,
                         3 ack-only proxies, 2m sync timeout, 1s settle. Flags
                         given explicitly still win.
  -h, --help             show this help`;

/** Sizes of a full run and of --quick (CI: same code paths, well under a minute). */
const DEFAULTS = {
  full: {
    proxies: '10',
    changes: '30',
    routes: '1000',
    backends: '200',
    'ack-proxies': '50',
    'sync-timeout': '5m',
  },
  quick: {
    proxies: '3',
    changes: '3',
    routes: '20',
    backends: '5',
    'ack-proxies': '3',
    'sync-timeout': '2m',
  },
} as const;
/** After full sync the scale run waits this long to count pushes and reconciles that still follow. */
const SETTLE_MS = { full: 5_000, quick: 1_000 } as const;

export interface ControllerBenchOptions {
  json: boolean;
  kubeconfig: string;
  proxies: number;
  changes: number;
  routes: number;
  backends: number;
  ackProxies: number;
  syncTimeoutMs: number;
  latency: boolean;
  scale: boolean;
  keep: boolean;
  cpuProfDir: string | undefined;
  /** The scale run's quiet window after full sync. */
  settleMs: number;
  quick: boolean;
}

export type ParsedControllerBenchArgs =
  | { kind: 'help' }
  | { kind: 'run'; options: ControllerBenchOptions }
  | { kind: 'error'; message: string };

export const DEFAULT_KUBECONFIG = '.testenv/kubeconfig';

/**
 * Loopback addresses 127.0.0.2 .. 127.0.0.254 hold the proxies of one run
 * (the latency run's real ones, then the scale run's ack-only ones), so each
 * run is capped at 253.
 */
export const MAX_PROXIES = 253;

/** argv after `bench controller`. */
export function parseControllerBenchArgs(argv: readonly string[]): ParsedControllerBenchArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        json: { type: 'boolean' },
        kubeconfig: { type: 'string', default: DEFAULT_KUBECONFIG },
        proxies: { type: 'string' },
        changes: { type: 'string' },
        routes: { type: 'string' },
        backends: { type: 'string' },
        'ack-proxies': { type: 'string' },
        'sync-timeout': { type: 'string' },
        'skip-latency': { type: 'boolean' },
        'skip-scale': { type: 'boolean' },
        keep: { type: 'boolean' },
        'cpu-prof': { type: 'string' },
        quick: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
  const { values } = parsed;
  if (values.help) return { kind: 'help' };
  if (values['skip-latency'] && values['skip-scale'])
    return {
      kind: 'error',
      message: '--skip-latency and --skip-scale together leave nothing to run',
    };
  if (values.kubeconfig.trim() === '')
    return { kind: 'error', message: '--kubeconfig must name a file' };
  if (values['cpu-prof'] !== undefined && values['cpu-prof'].trim() === '')
    return { kind: 'error', message: '--cpu-prof must name a directory' };

  const size = values.quick ? 'quick' : 'full';
  const d = DEFAULTS[size];
  const v = (flag: keyof typeof d): string => values[flag] ?? d[flag];
  const syncTimeoutMs = parseDurationMs(v('sync-timeout'));
  if (syncTimeoutMs === undefined || syncTimeoutMs < 1000 || syncTimeoutMs > 3_600_000)
    return {
      kind: 'error',
      message: `--sync-timeout must be a duration from 1s to 60m such as "5m", not "${v('sync-timeout')}"`,
    };
  const checks = {
    proxies: intIn('proxies', v('proxies'), 1, MAX_PROXIES),
    changes: intIn('changes', v('changes'), 1, 10_000),
    routes: intIn('routes', v('routes'), 1, 20_000),
    backends: intIn('backends', v('backends'), 2, 5_000),
    ackProxies: intIn('ack-proxies', v('ack-proxies'), 1, MAX_PROXIES),
  };
  for (const value of Object.values(checks))
    if (typeof value === 'string') return { kind: 'error', message: value };
  const n = checks as Record<keyof typeof checks, number>;
  return {
    kind: 'run',
    options: {
      json: values.json === true,
      kubeconfig: values.kubeconfig,
      proxies: n.proxies,
      changes: n.changes,
      routes: n.routes,
      backends: n.backends,
      ackProxies: n.ackProxies,
      syncTimeoutMs,
      latency: values['skip-latency'] !== true,
      scale: values['skip-scale'] !== true,
      keep: values.keep === true,
      cpuProfDir: values['cpu-prof'],
      settleMs: SETTLE_MS[size],
      quick: values.quick === true,
    },
  };
}
