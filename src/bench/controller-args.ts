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
  -h, --help             show this help`;

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
        proxies: { type: 'string', default: '10' },
        changes: { type: 'string', default: '30' },
        routes: { type: 'string', default: '1000' },
        backends: { type: 'string', default: '200' },
        'ack-proxies': { type: 'string', default: '50' },
        'sync-timeout': { type: 'string', default: '5m' },
        'skip-latency': { type: 'boolean' },
        'skip-scale': { type: 'boolean' },
        keep: { type: 'boolean' },
        'cpu-prof': { type: 'string' },
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

  const syncTimeoutMs = parseDurationMs(values['sync-timeout']);
  if (syncTimeoutMs === undefined || syncTimeoutMs < 1000 || syncTimeoutMs > 3_600_000)
    return {
      kind: 'error',
      message: `--sync-timeout must be a duration from 1s to 60m such as "5m", not "${values['sync-timeout']}"`,
    };
  const checks = {
    proxies: intIn('proxies', values.proxies, 1, MAX_PROXIES),
    changes: intIn('changes', values.changes, 1, 10_000),
    routes: intIn('routes', values.routes, 1, 20_000),
    backends: intIn('backends', values.backends, 2, 5_000),
    ackProxies: intIn('ack-proxies', values['ack-proxies'], 1, MAX_PROXIES),
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
    },
  };
}
