// One builder per cached artefact: jest runs test files in parallel workers,
// and the image test and the real-node test both ask for the same base image
// and application image. The first takes a lock directory; the others wait
// for it, then find the artefact built. A lock whose holder died is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const POLL_MS = 1000;
/** A cold image build takes minutes on 2 busy cores; waiting longer means a wedged holder. */
const WAIT_LIMIT_MS = 30 * 60_000;

/** Whether a process lives (EPERM: it does, as another user's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Runs `body` holding the lock `<dir>/<name>.lock`; waits while another live process holds it. */
export function withCacheLock<T>(dir: string, name: string, body: () => T): T {
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, `${name}.lock`);
  const started = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let holder = NaN;
    try {
      holder = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    } catch {
      // Created but its pid not written yet: give the holder a moment.
    }
    if (Number.isInteger(holder) && !alive(holder)) {
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() - started > WAIT_LIMIT_MS) {
      throw new Error(
        `${lock} has been held by process ${String(holder)} for over 30 minutes; if no build is running, remove it`,
      );
    }
    sleepSync(POLL_MS);
  }
  try {
    return body();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
