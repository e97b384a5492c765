// A real redis-server for exact-mode tests (issue 14): found on PATH or in
// /usr/bin or /usr/sbin, installed from Debian's package when missing, started
// on a random loopback port with no persistence, stopped on close. Tests that
// need it start it themselves, so `.ci/run` on a fresh machine needs nothing else.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants, mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { freePort, startWatchdog } from './controlplane.js';

const SYSTEM_DIRS = ['/usr/bin', '/usr/sbin', '/usr/local/bin'];

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The redis-server binary on PATH or in the system folders, or undefined. */
export function findRedisServer(pathEnv = process.env.PATH ?? ''): string | undefined {
  const dirs = [...pathEnv.split(delimiter).filter((d) => d !== ''), ...SYSTEM_DIRS];
  return dirs.map((d) => join(d, 'redis-server')).find(executable);
}

/**
 * The redis-server binary, installing Debian's `redis-server` package with
 * apt-get when it is missing (the test machines run as root).
 */
export function ensureRedisServer(): string {
  const found = findRedisServer();
  if (found) return found;
  const aptGet = ['/usr/bin/apt-get', '/bin/apt-get'].find(executable);
  if (!aptGet)
    throw new Error(
      'redis-server is not installed and apt-get is not available to install it: install Redis 6+ ' +
        '(or Valkey with a redis-server link) so that redis-server is on PATH, then run the tests again',
    );
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () =>
    execFileSync(aptGet, ['install', '-y', '--no-install-recommends', 'redis-server'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  try {
    install();
  } catch {
    // A fresh image has no package lists yet.
    try {
      execFileSync(aptGet, ['update'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
      install();
    } catch (err) {
      const detail = (err as { stderr?: Buffer }).stderr?.toString().trim() ?? String(err);
      throw new Error(
        `redis-server is not installed and "apt-get install -y redis-server" failed (run the tests as root, or install it yourself): ${detail}`,
      );
    }
  }
  const installed = findRedisServer();
  if (!installed)
    throw new Error(
      'apt-get installed redis-server, but no redis-server binary is on PATH or in /usr/bin, /usr/sbin',
    );
  return installed;
}

export interface TestRedis {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Stops the server abruptly (SIGKILL), as a crash or a lost node would; `start` brings it back on the same port, empty. */
  kill(): Promise<void>;
  /** Starts it again on the same port after `kill`. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open but nothing answers, as a hung node. */
  pause(): void;
  /** Lets a paused server run again (SIGCONT). */
  resume(): void;
  /** Stops it for good and removes its folder. */
  close(): Promise<void>;
}

/** Answers whether a server on `port` replies +PONG to PING. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      // With --requirepass an unauthenticated PING gets NOAUTH: up all the same.
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG') || reply.startsWith('-NOAUTH'));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Starts redis-server on a random free loopback port and waits until PING answers. */
export async function startTestRedis(
  options: { readyTimeoutMs?: number; requirePass?: string } = {},
): Promise<TestRedis> {
  const binary = ensureRedisServer();
  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  const dir = mkdtempSync(join(tmpdir(), 'modelroute-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';

  const launch = async (): Promise<void> => {
    output = '';
    const proc = spawn(
      binary,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--protected-mode',
        'yes',
        '--loglevel',
        'warning',
        ...(options.requirePass === undefined ? [] : ['--requirepass', options.requirePass]),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-4000);
    };
    proc.stdout?.on('data', keep);
    proc.stderr?.on('data', keep);
    child = proc;
    // A crashed or interrupted test run must not leave a server behind.
    if (proc.pid !== undefined) startWatchdog(process.pid, [proc.pid]);
    const deadline = Date.now() + readyTimeoutMs;
    while (!(await ping(port))) {
      if (proc.exitCode !== null || proc.signalCode !== null)
        throw new Error(
          `redis-server exited with ${proc.exitCode ?? proc.signalCode} before answering PING:\n${output}`,
        );
      if (Date.now() > deadline)
        throw new Error(
          `redis-server on port ${port} did not answer PING within ${readyTimeoutMs} ms:\n${output}`,
        );
      await sleep(50);
    }
  };

  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGCONT');
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  };

  await launch();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: () => stop('SIGKILL'),
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    start: launch,
    close: async () => {
      await stop('SIGTERM');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
