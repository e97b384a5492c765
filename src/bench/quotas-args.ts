// Flags of `modelroute bench quotas`, parsed and checked without side effects.
import { parseArgs } from 'node:util';
import { intIn } from './args.js';
import { DEFAULT_KUBECONFIG, MAX_PROXIES } from './controller-args.js';

export const QUOTAS_BENCH_USAGE = `usage: modelroute bench quotas [options]

Measures fleet-wide limits, budgets and priority under scarcity against a real
API server (start one with \`npm run testenv -- up\`; --only overhead needs
none): real proxies and the controller (both in this process), one simulated
backend per limit counting every request it receives. Skewed (Zipf) demand at
twice the limit on a 600 rpm backend and on a tpm backend; a tenant crossing
its daily budget; a high- and a low-priority tenant on a backend near its
limit; proxy overhead with limits on and off (proxy children, and a second one
without limits as the run's noise floor). Prints one JSON object with the
figures and the issue's targets (met or not); never a pass/fail test.

options:
  --json                 print only the JSON result
  --kubeconfig F         kubeconfig of the API server (default .testenv/kubeconfig)
  --minutes N            saturated minutes measured after the warm-up (default 4;
                         at least 1 for any full 60 s window)
  --proxies N            proxies sharing the limits (default 20)
  --ramp-seconds N       rpm/tpm demand grows from 0 to twice the limit over N s
                         before the warm-up (default 120; 0: a standing start)
  --seed N               seed of the demand (which proxy is busy, arrival times)
                         (default 1)
  --skip-priority        do not run the priority part
  --skip-overhead        do not run the overhead part
  --only overhead        run the overhead part alone: no API server, fleet,
                         saturation or priority part (about a minute; the
                         other flags of those parts are refused with it)
  --requests N           requests per path of the overhead part, one at a time
                         (default 2000, --quick 100)
  --cpu-prof DIR         write V8 CPU profiles of the overhead part's proxy
                         children into DIR/limits-on, DIR/limits-off and
                         DIR/control
  --keep                 leave the bench namespace and its objects in place
  --quick                a smoke test for CI (same code, figures mean little):
                         3 proxies, 20 s saturated (no full minute: the
                         saturated minimum is null), short priority and
                         overhead parts. Flags given explicitly still win.
  -h, --help             show this help`;

export interface QuotasBenchOptions {
  json: boolean;
  kubeconfig: string;
  proxies: number;
  seed: number;
  /** Saturated time measured after the warm-up, ms. */
  measureMs: number;
  /** Demand ramps up over this long before the warm-up, ms. */
  rampMs: number;
  warmupMs: number;
  priority: { warmupMs: number; measureMs: number } | undefined;
  overhead:
    | {
        sequential: number;
        warmup: number;
        loadRps: number;
        loadRounds: number;
        loadSliceMs: number;
        /** Where the two proxy children write CPU profiles (undefined: not profiled). */
        cpuProfDir: string | undefined;
      }
    | undefined;
  keep: boolean;
  quick: boolean;
  /** Run this part alone (it needs no API server). */
  only: QuotasBenchPart | undefined;
}

/** Parts of the bench that can run alone. */
export const SOLO_PARTS = ['overhead'] as const;
export type QuotasBenchPart = (typeof SOLO_PARTS)[number];

/** Flags that configure the parts `--only overhead` leaves out: refused with it, not ignored. */
const FLEET_FLAGS = [
  'kubeconfig',
  'minutes',
  'proxies',
  'ramp-seconds',
  'skip-priority',
  'skip-overhead',
  'keep',
] as const;

export type ParsedQuotasBenchArgs =
  | { kind: 'help' }
  | { kind: 'run'; options: QuotasBenchOptions }
  | { kind: 'error'; message: string };

/** Sizes of a full run and of --quick. */
const SIZES = {
  full: {
    proxies: 20,
    rampMs: 120_000,
    warmupMs: 30_000,
    priority: { warmupMs: 45_000, measureMs: 60_000 },
    overhead: { sequential: 2000, warmup: 300, loadRps: 300, loadRounds: 5, loadSliceMs: 2000 },
  },
  quick: {
    proxies: 3,
    rampMs: 0,
    warmupMs: 5_000,
    priority: { warmupMs: 5_000, measureMs: 10_000 },
    overhead: { sequential: 100, warmup: 20, loadRps: 100, loadRounds: 2, loadSliceMs: 500 },
  },
} as const;
const QUICK_MEASURE_MS = 20_000;
const DEFAULT_MINUTES = 4;

/** argv after `bench quotas`. */
export function parseQuotasBenchArgs(argv: readonly string[]): ParsedQuotasBenchArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: false,
      strict: true,
      options: {
        json: { type: 'boolean' },
        kubeconfig: { type: 'string' },
        minutes: { type: 'string' },
        proxies: { type: 'string' },
        'ramp-seconds': { type: 'string' },
        seed: { type: 'string', default: '1' },
        'skip-priority': { type: 'boolean' },
        'skip-overhead': { type: 'boolean' },
        only: { type: 'string' },
        'cpu-prof': { type: 'string' },
        requests: { type: 'string' },
        keep: { type: 'boolean' },
        quick: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    return { kind: 'error', message: (err as Error).message };
  }
  const { values } = parsed;
  if (values.help) return { kind: 'help' };
  const kubeconfig = values.kubeconfig ?? DEFAULT_KUBECONFIG;
  if (kubeconfig.trim() === '') return { kind: 'error', message: '--kubeconfig must name a file' };
  const only = SOLO_PARTS.find((part) => part === values.only);
  if (values.only !== undefined && only === undefined)
    return {
      kind: 'error',
      message: `--only must be one of ${SOLO_PARTS.join(', ')} (the parts that run alone), not "${values.only}"`,
    };
  const fleetFlag = FLEET_FLAGS.find((flag) => values[flag] !== undefined);
  if (only !== undefined && fleetFlag !== undefined)
    return {
      kind: 'error',
      message: `--${fleetFlag} configures a part that --only ${only} does not run; drop one of them`,
    };
  const quick = values.quick === true;
  const size = quick ? SIZES.quick : SIZES.full;
  const overhead = overheadPlan(values, size.overhead);
  if (typeof overhead === 'string') return { kind: 'error', message: overhead };
  const proxies =
    values.proxies === undefined ? size.proxies : intIn('proxies', values.proxies, 1, MAX_PROXIES);
  if (typeof proxies === 'string') return { kind: 'error', message: proxies };
  const seed = intIn('seed', values.seed, 0, 2 ** 31 - 1);
  if (typeof seed === 'string') return { kind: 'error', message: seed };
  let measureMs: number = quick ? QUICK_MEASURE_MS : DEFAULT_MINUTES * 60_000;
  if (values.minutes !== undefined) {
    const minutes = intIn('minutes', values.minutes, 1, 120);
    if (typeof minutes === 'string') return { kind: 'error', message: minutes };
    measureMs = minutes * 60_000;
  }
  let rampMs: number = size.rampMs;
  if (values['ramp-seconds'] !== undefined) {
    const seconds = intIn('ramp-seconds', values['ramp-seconds'], 0, 3_600);
    if (typeof seconds === 'string') return { kind: 'error', message: seconds };
    rampMs = seconds * 1000;
  }
  return {
    kind: 'run',
    options: {
      json: values.json === true,
      kubeconfig,
      proxies,
      seed,
      measureMs,
      rampMs,
      warmupMs: size.warmupMs,
      priority: values['skip-priority'] ? undefined : { ...size.priority },
      overhead,
      keep: values.keep === true,
      quick,
      only,
    },
  };
}

type OverheadPlan = NonNullable<QuotasBenchOptions['overhead']>;

/** The overhead part's plan from its flags (undefined: skipped), or what is wrong with them. */
function overheadPlan(
  values: { 'skip-overhead'?: boolean; 'cpu-prof'?: string; requests?: string },
  size: Omit<OverheadPlan, 'cpuProfDir'>,
): OverheadPlan | undefined | string {
  const cpuProfDir = values['cpu-prof'];
  if (values['skip-overhead']) {
    const given = (['cpu-prof', 'requests'] as const).find((flag) => values[flag] !== undefined);
    return given === undefined
      ? undefined
      : `--${given} configures the overhead part, which --skip-overhead leaves out; drop one of them`;
  }
  if (cpuProfDir !== undefined && cpuProfDir.trim() === '')
    return '--cpu-prof must name a directory';
  const sequential =
    values.requests === undefined
      ? size.sequential
      : intIn('requests', values.requests, 100, 100_000);
  if (typeof sequential === 'string') return sequential;
  return { ...size, sequential, cpuProfDir };
}
