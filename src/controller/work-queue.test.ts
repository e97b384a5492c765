import { ManualClock, settle } from './clock.js';
import { WorkQueue, type ReconcileResult, type WorkQueueOptions } from './work-queue.js';

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: Error) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A queue whose handler records each run (key and clock time) and does what `behave` says. */
function harness(
  behave: (key: string, run: number) => Promise<ReconcileResult> | ReconcileResult = () => {},
  options: Partial<WorkQueueOptions> = {},
) {
  const clock = new ManualClock();
  const t0 = clock.now();
  const runs: Array<{ key: string; at: number }> = [];
  const active = new Map<string, number>();
  let maxSameKey = 0;
  let maxActive = 0;
  const errors: string[] = [];
  const queue = new WorkQueue(
    async (key) => {
      const n = runs.filter((r) => r.key === key).length;
      runs.push({ key, at: clock.now() - t0 });
      active.set(key, (active.get(key) ?? 0) + 1);
      maxSameKey = Math.max(maxSameKey, active.get(key)!);
      maxActive = Math.max(
        maxActive,
        [...active.values()].reduce((a, b) => a + b, 0),
      );
      try {
        return await behave(key, n);
      } finally {
        active.set(key, active.get(key)! - 1);
      }
    },
    { clock, onError: (key, err) => errors.push(`${key}: ${(err as Error).message}`), ...options },
  );
  return {
    clock,
    queue,
    runs,
    errors,
    keys: () => runs.map((r) => r.key),
    timesOf: (key: string) => runs.filter((r) => r.key === key).map((r) => r.at),
    get maxSameKey() {
      return maxSameKey;
    },
    get maxActive() {
      return maxActive;
    },
  };
}

describe('WorkQueue', () => {
  test('collapses repeated adds of a waiting key into one run', async () => {
    const h = harness();
    h.queue.add('a');
    h.queue.add('b');
    h.queue.add('a');
    h.queue.add('a');
    expect(h.queue.length).toBe(2);
    h.queue.start();
    await h.queue.onIdle();
    expect(h.keys()).toEqual(['a', 'b']);
  });

  test('serves ready keys first in, first out', async () => {
    const h = harness(undefined, { concurrency: 1 });
    h.queue.start();
    for (const k of ['c', 'a', 'b', 'a', 'd']) h.queue.add(k);
    await h.queue.onIdle();
    expect(h.keys()).toEqual(['c', 'a', 'b', 'd']);
  });

  test('a key added while it runs is marked dirty and runs once more afterwards, never concurrently', async () => {
    const gates = [deferred(), deferred()];
    const h = harness((_key, run) => gates[run]?.promise, { concurrency: 4 });
    h.queue.start();
    h.queue.add('a');
    await settle();
    expect(h.keys()).toEqual(['a']);

    h.queue.add('a');
    h.queue.add('a');
    await settle();
    expect(h.keys()).toEqual(['a']);
    expect(h.queue.length).toBe(0); // dirty, not waiting

    gates[0]!.resolve();
    await settle();
    expect(h.keys()).toEqual(['a', 'a']);
    gates[1]!.resolve();
    await h.queue.onIdle();
    expect(h.keys()).toEqual(['a', 'a']);
    expect(h.maxSameKey).toBe(1);
  });

  test('runs at most `concurrency` handlers at once, on different keys', async () => {
    const gate = deferred();
    const h = harness(() => gate.promise, { concurrency: 2 });
    h.queue.start();
    for (const k of ['a', 'b', 'c', 'd']) h.queue.add(k);
    await settle();
    expect(h.keys()).toEqual(['a', 'b']);
    expect(h.queue.length).toBe(2);
    gate.resolve();
    await h.queue.onIdle();
    expect(h.keys()).toEqual(['a', 'b', 'c', 'd']);
    expect(h.maxActive).toBe(2);
  });

  test('a failing key backs off exponentially up to the cap, and the count resets on success', async () => {
    // Fails on runs 0-3, succeeds on run 4, fails again on run 5, then succeeds.
    const h = harness(
      (_key, run) => {
        if (run <= 3 || run === 5) throw new Error(`boom ${run}`);
      },
      { baseDelayMs: 100, maxDelayMs: 500 },
    );
    h.queue.start();
    h.queue.add('a');
    await h.queue.onIdle();
    expect(h.timesOf('a')).toEqual([0]);

    await h.clock.advance(100 + 200 + 400 + 500);
    expect(h.timesOf('a')).toEqual([0, 100, 300, 700, 1200]);

    h.queue.add('a'); // fails once more: the backoff starts over at the base delay
    await h.clock.advance(99);
    expect(h.timesOf('a')).toEqual([0, 100, 300, 700, 1200, 1200]);
    await h.clock.advance(1);
    expect(h.timesOf('a')).toEqual([0, 100, 300, 700, 1200, 1200, 1300]);
    expect(h.errors).toEqual(['a: boom 0', 'a: boom 1', 'a: boom 2', 'a: boom 3', 'a: boom 5']);
  });

  test('backoff is per key: one failing key does not delay another', async () => {
    const h = harness((key) => {
      if (key === 'bad') throw new Error('no');
    });
    h.queue.start();
    h.queue.add('bad');
    await h.queue.onIdle();
    h.queue.add('good');
    await h.queue.onIdle();
    expect(h.keys()).toEqual(['bad', 'good']);
  });

  test('requeueAfter runs the key again after that delay without counting a failure', async () => {
    const h = harness(
      (_key, run) => {
        if (run === 0) throw new Error('first');
        if (run === 1) return { requeueAfterMs: 5_000 };
        if (run === 2) throw new Error('third');
      },
      { baseDelayMs: 100 },
    );
    h.queue.start();
    h.queue.add('a');
    await h.queue.onIdle();
    await h.clock.advance(100); // backoff after the first failure
    // Idle although the key comes back later: only due work counts.
    await h.queue.onIdle();
    expect(h.timesOf('a')).toEqual([0, 100]);

    await h.clock.advance(4_999);
    expect(h.timesOf('a')).toHaveLength(2);
    await h.clock.advance(1);
    expect(h.timesOf('a')).toEqual([0, 100, 5_100]);

    // The requeue was a success, so this failure backs off from the base again.
    await h.clock.advance(100);
    expect(h.timesOf('a')).toEqual([0, 100, 5_100, 5_200]);
  });

  test('addAfter delays a key; the earliest pending delay wins', async () => {
    const h = harness();
    h.queue.start();
    h.queue.addAfter('a', 1_000);
    h.queue.addAfter('a', 300);
    h.queue.addAfter('a', 2_000);
    expect(h.queue.length).toBe(0);
    await h.clock.advance(299);
    expect(h.keys()).toEqual([]);
    await h.clock.advance(1);
    expect(h.timesOf('a')).toEqual([300]);
    await h.clock.advance(5_000);
    expect(h.timesOf('a')).toEqual([300]);
  });

  test('the overall token bucket limits every dequeue after the burst', async () => {
    const h = harness(undefined, { ratePerSecond: 10, burst: 2, concurrency: 4 });
    h.queue.start();
    for (const k of ['a', 'b', 'c', 'd', 'e']) h.queue.add(k);
    await h.clock.flush();
    expect(h.keys()).toEqual(['a', 'b']);
    expect(h.queue.length).toBe(3);
    await h.clock.advance(1_000);
    expect(h.runs).toEqual([
      { key: 'a', at: 0 },
      { key: 'b', at: 0 },
      { key: 'c', at: 100 },
      { key: 'd', at: 200 },
      { key: 'e', at: 300 },
    ]);
    // Idle time refills the bucket up to the burst, no further.
    await h.clock.advance(10_000);
    for (const k of ['f', 'g', 'h']) h.queue.add(k);
    await h.clock.flush();
    expect(h.keys().slice(5)).toEqual(['f', 'g']);
  });

  test('retries go through the rate limit too', async () => {
    const h = harness(
      (_key, run) => {
        if (run === 0) throw new Error('x');
      },
      { ratePerSecond: 1, burst: 1, baseDelayMs: 10 },
    );
    h.queue.start();
    h.queue.add('a');
    await h.clock.advance(2_000);
    expect(h.timesOf('a')).toEqual([0, 1_000]);
  });

  test('stop waits for running handlers, dispatches nothing more, and start resumes', async () => {
    const gate = deferred();
    const h = harness((key) => (key === 'slow' ? gate.promise : undefined), { concurrency: 1 });
    h.queue.start();
    h.queue.add('slow');
    await settle();
    h.queue.add('next');
    h.queue.addAfter('later', 100);

    let stopped = false;
    const stopping = h.queue.stop().then(() => (stopped = true));
    await settle();
    expect(stopped).toBe(false);
    gate.resolve();
    await stopping;
    expect(stopped).toBe(true);

    await h.clock.advance(1_000);
    expect(h.keys()).toEqual(['slow']);
    expect(h.queue.length).toBe(1);
    expect(h.clock.pendingTimers).toBe(0); // nothing left to keep a process alive

    h.queue.start();
    await h.queue.onIdle();
    expect(h.keys()).toEqual(['slow', 'next', 'later']);
  });

  test('length counts waiting keys only, not running or delayed ones', async () => {
    const gate = deferred();
    const h = harness(() => gate.promise, { concurrency: 1 });
    expect(h.queue.length).toBe(0);
    h.queue.add('a');
    h.queue.add('b');
    h.queue.addAfter('c', 1_000);
    expect(h.queue.length).toBe(2);
    h.queue.start();
    await settle();
    expect(h.queue.length).toBe(1); // a runs, b waits, c is delayed
    gate.resolve();
    await h.queue.onIdle();
    expect(h.queue.length).toBe(0);
  });

  test('onIdle waits for running handlers', async () => {
    const gate = deferred();
    const h = harness(() => gate.promise);
    h.queue.start();
    h.queue.add('a');
    let idle = false;
    const waiting = h.queue.onIdle().then(() => (idle = true));
    await settle();
    expect(idle).toBe(false);
    gate.resolve();
    await waiting;
    expect(idle).toBe(true);
  });
});
