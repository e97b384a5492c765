// Child processes of a benchmark run: piped output, readiness by log line, RSS/CPU from /proc, and certain death.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const TAIL_LINES = 40;
const STOP_GRACE_MS = 5_000;

export interface Child {
  readonly name: string;
  readonly pid: number;
  /** Last lines of stdout and stderr, for error messages. */
  tail(): string;
  /** Resolves with the first line (from now on) that `match` accepts; rejects on exit or timeout. */
  waitForLine(match: (line: string) => boolean, timeoutMs: number): Promise<string>;
  exited(): boolean;
  /** SIGTERM, then SIGKILL after a grace period (time for e.g. a CPU profile to be written). */
  stop(): Promise<void>;
}

class ManagedChild implements Child {
  readonly pid: number;
  private readonly lines: string[] = [];
  private readonly watchers = new Set<(line: string) => void>();
  private readonly exitWatchers = new Set<() => void>();
  private exitCode: number | null | undefined;

  constructor(
    readonly name: string,
    private readonly proc: ChildProcess,
  ) {
    if (proc.pid === undefined) throw new Error(`${name}: the process did not start`);
    this.pid = proc.pid;
    for (const stream of [proc.stdout, proc.stderr]) {
      if (!stream) continue;
      createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        this.lines.push(line);
        if (this.lines.length > TAIL_LINES) this.lines.shift();
        for (const w of [...this.watchers]) w(line);
      });
    }
    proc.on('exit', (code) => {
      this.exitCode = code;
      for (const w of [...this.exitWatchers]) w();
    });
  }

  tail(): string {
    return this.lines.join('\n');
  }

  exited(): boolean {
    return this.exitCode !== undefined;
  }

  waitForLine(match: (line: string) => boolean, timeoutMs: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.watchers.delete(onLine);
        this.exitWatchers.delete(onExit);
      };
      const onLine = (line: string): void => {
        if (!match(line)) return;
        done();
        resolve(line);
      };
      const onExit = (): void => {
        done();
        reject(
          new Error(
            `${this.name} exited (code ${this.exitCode}) before it was ready:\n${this.tail()}`,
          ),
        );
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.name} not ready within ${timeoutMs} ms:\n${this.tail()}`));
      }, timeoutMs);
      this.watchers.add(onLine);
      this.exitWatchers.add(onExit);
      if (this.exited()) onExit();
    });
  }

  kill(signal: NodeJS.Signals): void {
    if (!this.exited()) this.proc.kill(signal);
  }

  stop(): Promise<void> {
    if (this.exited()) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.kill('SIGKILL'), STOP_GRACE_MS);
      this.exitWatchers.add(() => {
        clearTimeout(timer);
        resolve();
      });
      this.kill('SIGTERM');
    });
  }
}

/** Every child started for one run; `killAll` is synchronous so it can run in an 'exit' handler. */
export class ChildGroup {
  private readonly children: ManagedChild[] = [];

  start(name: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Child {
    const proc = spawn(process.execPath, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // An 'error' event (e.g. spawn failure) must not crash the benchmark.
    proc.on('error', () => undefined);
    const child = new ManagedChild(name, proc);
    this.children.push(child);
    return child;
  }

  killAll(): void {
    for (const c of this.children) c.kill('SIGKILL');
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.children.map((c) => c.stop()));
  }
}

/** Resident and peak resident memory of a process in MB, from /proc (Linux); undefined elsewhere. */
export function memoryOf(pid: number): { rssMb: number; peakRssMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]);
    const rss = kb('VmRSS');
    const hwm = kb('VmHWM');
    if (!Number.isFinite(rss)) return undefined;
    return { rssMb: rss / 1024, peakRssMb: Number.isFinite(hwm) ? hwm / 1024 : NaN };
  } catch {
    return undefined;
  }
}

let clockTicks: number | undefined;

/** User+system CPU time a process has used so far, in ms, from /proc (Linux); undefined elsewhere. */
export function cpuMsOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces and parentheses: fields are counted after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    if (clockTicks === undefined) {
      try {
        clockTicks =
          Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
      } catch {
        clockTicks = 100;
      }
    }
    return Number.isFinite(ticks) ? (ticks * 1000) / clockTicks : undefined;
  } catch {
    return undefined;
  }
}
