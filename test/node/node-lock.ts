// One real-node cluster per machine at a time: the bridge name, kube-proxy's
// KUBE-* chains and the kubelet's /kubepods cgroups are machine-wide, and a
// second kube-proxy would rewrite the first one's rules. Jest may run the
// node test files in parallel workers (and other checkouts may run them
// too): each waits here for the one before to stop. A lock whose holder died
// is taken over.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { alive } from '../image/cache-lock.js';

const LOCK_DIR = join(tmpdir(), 'modelroute-real-node.lock');
/** The longest node test file takes a few minutes; waiting longer means a wedged holder. */
const WAIT_LIMIT_MS = 30 * 60_000;

function holder(): number {
  try {
    return Number(readFileSync(join(LOCK_DIR, 'pid'), 'utf8'));
  } catch {
    return NaN;
  }
}

/** Waits for the machine's real-node lock; resolves to its release. */
export async function acquireNodeLock(): Promise<() => void> {
  const started = Date.now();
  let announced = false;
  for (;;) {
    try {
      mkdirSync(LOCK_DIR);
      writeFileSync(join(LOCK_DIR, 'pid'), String(process.pid));
      return () => {
        if (holder() === process.pid) rmSync(LOCK_DIR, { recursive: true, force: true });
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const pid = holder();
    // A holder that died, or one caught between mkdir and writing its pid (NaN) for long.
    if (
      (Number.isFinite(pid) && !alive(pid)) ||
      (!Number.isFinite(pid) && Date.now() - started > 10_000)
    ) {
      rmSync(LOCK_DIR, { recursive: true, force: true });
      continue;
    }
    if (Date.now() - started > WAIT_LIMIT_MS) {
      throw new Error(
        `another real-node cluster (pid ${pid}) has held ${LOCK_DIR} for over ${WAIT_LIMIT_MS / 60_000} minutes; stop it, or remove the directory if no such test runs`,
      );
    }
    if (!announced) {
      process.stderr.write(`real-node: waiting for the cluster of pid ${pid} to stop\n`);
      announced = true;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}
