// The controller under test as a child process (`modelroute controller`), so
// its memory is its own: RSS sampled from /proc while it runs, CPU time read
// at the moments that matter.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { cpuMsOf, memoryOf, type Child, type ChildGroup } from './children.js';
import { readSelfReport, type ControllerSelfReport } from './controller-metrics.js';
import { ROOT, nodeArgsFor } from './entrypoints.js';
import { round } from './histogram.js';

const LEADING_TIMEOUT_MS = 120_000;
const RSS_SAMPLE_MS = 100;

export interface ControllerChildOptions {
  kubeconfig: string;
  /** Watched namespace; the leader Lease lives there too, so cleanup takes it away. */
  namespace: string;
  adminToken: string;
  cpuProfDir: string | undefined;
}

export interface MemoryFigures {
  /** Highest resident set seen by the kernel (VmHWM), MB. */
  peak_mb: number;
  /** Resident set at the last sample, MB. */
  last_mb: number;
}

/** Samples a process's RSS every 100 ms; the kernel's high-water mark gives the true peak. */
export class RssSampler {
  private timer: NodeJS.Timeout;
  private lastMb = NaN;
  private peakMb = NaN;

  constructor(private readonly pid: number) {
    this.sample();
    this.timer = setInterval(() => this.sample(), RSS_SAMPLE_MS);
    this.timer.unref();
  }

  sample(): void {
    const m = memoryOf(this.pid);
    if (!m) return;
    this.lastMb = m.rssMb;
    this.peakMb = Math.max(Number.isFinite(this.peakMb) ? this.peakMb : 0, m.rssMb, m.peakRssMb);
  }

  figures(): MemoryFigures {
    this.sample();
    return { peak_mb: round(this.peakMb, 1), last_mb: round(this.lastMb, 1) };
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

export interface ControllerChild {
  child: Child;
  /** process.hrtime.bigint() just before the spawn. */
  spawnedNs: bigint;
  rss: RssSampler;
  /** Resolves with the time the controller said it leads (caches synced, Lease held). */
  leading: Promise<bigint>;
  /** User+system CPU the controller used so far, ms. */
  cpuMs(): number;
  /** The controller's own figures from its /metrics; undefined when they cannot be read. */
  selfReport(): Promise<ControllerSelfReport | undefined>;
  stop(): Promise<void>;
}

const logLine = z.looseObject({ msg: z.string(), health: z.string().optional() });

function parseLogLine(line: string): z.infer<typeof logLine> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed = logLine.safeParse(JSON.parse(line));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** The parent's environment minus settings that would change what the controller does. */
function controllerEnv(adminToken: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('MODELROUTE_') && !k.startsWith('OTEL_') && k !== 'KUBECONFIG') env[k] = v;
  env.MODELROUTE_ADMIN_TOKEN = adminToken;
  return env;
}

export function startControllerChild(
  group: ChildGroup,
  options: ControllerChildOptions,
): ControllerChild {
  const profile = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const args = [
    ...profile,
    ...nodeArgsFor('cli/main'),
    'controller',
    '--kubeconfig',
    options.kubeconfig,
    '--namespace',
    options.namespace,
    '--lease-namespace',
    options.namespace,
    '--lease-name',
    `bench-${randomBytes(3).toString('hex')}`,
    '--identity',
    'modelroute-bench',
    '--lease-duration',
    '3s',
    '--health-host',
    '127.0.0.1',
    '--health-port',
    '0',
    // info: the "leading" line marks the end of start-up; nothing is logged per push.
    '--log-level',
    'info',
  ];
  const spawnedNs = process.hrtime.bigint();
  const child = group.start('controller', args, {
    cwd: ROOT,
    env: controllerEnv(options.adminToken),
  });
  const leading = child
    .waitForLine(
      (line) => parseLogLine(line)?.msg.startsWith('leading') === true,
      LEADING_TIMEOUT_MS,
    )
    .then(() => process.hrtime.bigint());
  // Awaited by the caller; a failure is reported there, not as an unhandled rejection.
  leading.catch(() => undefined);
  // "controller started" carries the address of /metrics (the port is picked at random).
  const healthUrl = child
    .waitForLine((line) => parseLogLine(line)?.msg === 'controller started', LEADING_TIMEOUT_MS)
    .then((line) => parseLogLine(line)?.health);
  healthUrl.catch(() => undefined);
  const rss = new RssSampler(child.pid);
  return {
    child,
    spawnedNs,
    rss,
    leading,
    cpuMs: () => cpuMsOf(child.pid) ?? NaN,
    selfReport: async () => readSelfReport(await healthUrl.catch(() => undefined)),
    async stop() {
      rss.stop();
      await child.stop();
    },
  };
}
