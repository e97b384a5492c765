// Exact mode's store (issue 14) against a real redis-server: several store
// clients stand for several proxies sharing one Redis. Time is injected, so a
// test drives minutes in milliseconds; each test uses its own key namespace.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createRedisQuotaStore, type RedisQuotaStore } from '../../src/quota/redis-store.js';
import type { LimitAmounts, QuotaKey } from '../../src/quota/protocol.js';
import { seededRandom } from '../../src/routing/random.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { startTestRedis, type TestRedis } from '../testenv/redis.js';

// Generous for a loaded 2-core machine; the tests bound work by counts, not time.
jest.setTimeout(60_000);

let redis: TestRedis;
let namespaceCount = 0;
const lines: string[] = [];
const logger = createLogger({ level: 'debug', write: (line) => lines.push(line) });

beforeAll(async () => {
  redis = await startTestRedis();
}, 300_000);

afterAll(async () => {
  await redis?.close();
});

/** A clock the test moves by hand, shared by every client of a test (one fleet). */
function manualClock(startMs: number) {
  let nowMs = startMs;
  return {
    now: () => nowMs,
    set: (ms: number) => (nowMs = ms),
    advance: (ms: number) => (nowMs += ms),
  };
}

async function openStores(
  count: number,
  now: () => number,
  url = redis.url,
): Promise<RedisQuotaStore[]> {
  const namespace = `modelroute:quota:test-${++namespaceCount}`;
  const stores = Array.from({ length: count }, () =>
    createRedisQuotaStore(url, { logger, now, namespace, commandTimeoutMs: 250 }),
  );
  await Promise.all(stores.map((s) => s.ready(10_000)));
  return stores;
}

const KEY: QuotaKey = 'backend:team-a/gpt';

async function acquireAdmitted(store: RedisQuotaStore, limits: LimitAmounts, tokens = 0) {
  const result = await store.acquire(KEY, limits, tokens, 30_000);
  if (!result.admitted) throw new Error(`expected admission, got ${JSON.stringify(result)}`);
  return result;
}

/**
 * Drives `proxies` store clients through 200 s of a shared manual clock in
 * 1-3 s steps; `step` counts what it admitted in the current second. Returns
 * the most counted in any window a request counts in (60 s from the start of
 * its second: seconds [S-59, S]).
 */
async function driveFleet(
  proxies: number,
  seed: number,
  step: (
    stores: RedisQuotaStore[],
    random: () => number,
    count: (n: number) => void,
  ) => Promise<void>,
): Promise<number> {
  const clock = manualClock(1_000_000_000_000 + seed * 1_000_000);
  const stores = await openStores(proxies, clock.now);
  const random = seededRandom(seed);
  const countedAt = new Map<number, number>();
  const startSecond = Math.floor(clock.now() / 1000);
  const seconds = 200;
  while (Math.floor(clock.now() / 1000) - startSecond < seconds) {
    const second = Math.floor(clock.now() / 1000);
    await step(stores, random, (n) => countedAt.set(second, (countedAt.get(second) ?? 0) + n));
    clock.advance(1000 + Math.floor(random() * 2000));
  }
  await Promise.all(stores.map((s) => s.close()));
  let max = 0;
  for (let s = startSecond; s < startSecond + seconds; s++) {
    let inWindow = 0;
    for (let t = s - 59; t <= s; t++) inWindow += countedAt.get(t) ?? 0;
    max = Math.max(max, inWindow);
  }
  return max;
}

describe('exact quota store on a shared redis-server', () => {
  it('never admits more than the rpm limit in any sliding 60 s window, across four proxies racing', async () => {
    const rpm = 50;
    // Each proxy sends a concurrent burst of 0-6 requests per 1-3 s step:
    // demand well above the limit most of the time.
    const maxInWindow = await driveFleet(4, 14, async (stores, random, count) => {
      const bursts = stores.flatMap((store) =>
        Array.from({ length: Math.floor(random() * 7) }, () =>
          store.acquire(KEY, { rpm }, 1, 30_000),
        ),
      );
      for (const result of await Promise.all(bursts)) {
        expect(result.admitted || result.reason === 'limit').toBe(true);
        if (result.admitted) count(1);
      }
    });
    expect(maxInWindow).toBeLessThanOrEqual(rpm);
    // Not just refusing everything: the demand saturates the limit.
    expect(maxInWindow).toBe(rpm);
  });

  it('never admits more tokens than the tpm limit in any window, with estimates corrected on release', async () => {
    const tpm = 5000;
    const maxTokens = await driveFleet(3, 7, async (stores, random, count) => {
      const attempts = stores.flatMap((store) =>
        Array.from({ length: Math.floor(random() * 4) }, async () => {
          const estimate = 100 + Math.floor(random() * 900);
          // Real usage is at most the estimate (max_tokens bounds it).
          const actual = Math.floor(estimate * random());
          const result = await store.acquire(KEY, { tpm }, estimate, 30_000);
          if (!result.admitted) return;
          result.release(actual);
          count(actual);
        }),
      );
      await Promise.all(attempts);
    });
    expect(maxTokens).toBeLessThanOrEqual(tpm);
    // Corrections freed room: with estimates alone (about twice the real
    // usage on average) the real tokens in a window would stay near tpm / 2.
    expect(maxTokens).toBeGreaterThan(tpm / 2);
  });

  it('corrects tokens in the bucket of the admission second, and drops a correction whose second left the window', async () => {
    const clock = manualClock(1_200_000_000_500);
    const [store] = (await openStores(1, clock.now)) as [RedisQuotaStore];
    const limits = { tpm: 1000 };
    const first = await acquireAdmitted(store, limits, 600);
    expect(await store.acquire(KEY, limits, 600, 30_000)).toMatchObject({
      admitted: false,
      reason: 'limit',
    });
    // Released with 100 real tokens: 500 freed now, in the same window.
    clock.advance(10_000);
    first.release(100);
    await acquireAdmitted(store, limits, 600);
    await acquireAdmitted(store, limits, 300);
    const full = await store.acquire(KEY, limits, 1, 30_000);
    // The 100 tokens of the first request leave the window at its second + 60 s.
    expect(full).toEqual({ admitted: false, reason: 'limit', retryAfterMs: 49_500 });

    // A late correction (its second already out of the window) changes nothing.
    clock.advance(70_000);
    const late = await acquireAdmitted(store, limits, 1000);
    clock.advance(61_000);
    const now = await acquireAdmitted(store, limits, 1000);
    late.release(0);
    expect(await store.acquire(KEY, limits, 1, 30_000)).toMatchObject({ admitted: false });
    now.release(1000);
    await store.close();
  });

  it('names how long until the oldest request leaves the window', async () => {
    const clock = manualClock(1_300_000_010_500);
    const [a, b] = (await openStores(2, clock.now)) as [RedisQuotaStore, RedisQuotaStore];
    for (let i = 0; i < 3; i++) await acquireAdmitted(i % 2 ? a : b, { rpm: 3 });
    clock.set(1_300_000_020_200);
    // Counted in second ...010, which leaves the window at ...070.000: 49.8 s from now.
    expect(await a.acquire(KEY, { rpm: 3 }, 0, 30_000)).toEqual({
      admitted: false,
      reason: 'limit',
      retryAfterMs: 49_800,
    });
    clock.set(1_300_000_070_000);
    await acquireAdmitted(b, { rpm: 3 });
    // Other keys are not touched by this one.
    expect(await a.acquire('tenant:team-a/batch', { rpm: 3 }, 0, 30_000)).toMatchObject({
      admitted: true,
    });
    await Promise.all([a.close(), b.close()]);
  });

  it("holds concurrency as leases: released slots free at once, a crashed proxy's slots free when their leases expire", async () => {
    const clock = manualClock(1_400_000_000_000);
    const [crashing, survivor] = (await openStores(2, clock.now)) as [
      RedisQuotaStore,
      RedisQuotaStore,
    ];
    const limits = { maxConcurrency: 2 };
    const held = await Promise.all([
      crashing.acquire(KEY, limits, 0, 5_000),
      crashing.acquire(KEY, limits, 0, 5_000),
    ]);
    expect(held.map((r) => r.admitted)).toEqual([true, true]);
    expect(await survivor.acquire(KEY, limits, 0, 5_000)).toEqual({
      admitted: false,
      reason: 'limit',
      retryAfterMs: 1000,
    });
    // The proxy dies without releasing.
    await crashing.close();
    clock.advance(4_999);
    expect(await survivor.acquire(KEY, limits, 0, 5_000)).toMatchObject({ admitted: false });
    clock.advance(2);
    const one = await acquireAdmitted(survivor, limits);
    await acquireAdmitted(survivor, limits);
    expect(await survivor.acquire(KEY, limits, 0, 5_000)).toMatchObject({ admitted: false });
    one.release();
    await acquireAdmitted(survivor, limits);
    await survivor.close();
  });

  it('refuses as unavailable at once when the store is down or hung, and admits again after it restarts', async () => {
    const clock = manualClock(1_500_000_000_000);
    const stores = await openStores(2, clock.now);
    await acquireAdmitted(stores[0] as RedisQuotaStore, { rpm: 100 });

    // Hung (SIGSTOP): connections stay open, commands time out.
    redis.pause();
    const hungStarted = Date.now();
    const hung = await Promise.all(
      stores.flatMap((s) => [1, 2, 3].map(() => s.acquire(KEY, { rpm: 100 }, 0, 5_000))),
    );
    const hungMs = Date.now() - hungStarted;
    redis.resume();
    for (const r of hung) expect(r).toMatchObject({ admitted: false, reason: 'unavailable' });
    // 250 ms command timeout; 5 s only so a loaded 2-core machine cannot flake it.
    expect(hungMs).toBeLessThan(5_000);

    await redis.kill();
    const downStarted = Date.now();
    const down: Awaited<ReturnType<RedisQuotaStore['acquire']>>[] = [];
    for (let i = 0; i < 50; i++)
      down.push(await (stores[i % 2] as RedisQuotaStore).acquire(KEY, { rpm: 100 }, 0, 5_000));
    const downMs = Date.now() - downStarted;
    for (const r of down) expect(r).toMatchObject({ admitted: false, reason: 'unavailable' });
    // 50 refusals without a server: no queue, no wait for a reconnect (ms each, 5 s bound for a loaded machine).
    expect(downMs).toBeLessThan(5_000);

    await redis.start();
    await Promise.all(stores.map((s) => s.ready(15_000)));
    // The restarted server is empty (no persistence) and has no cached script: both recover.
    await acquireAdmitted(stores[1] as RedisQuotaStore, { rpm: 1 });
    expect(await (stores[0] as RedisQuotaStore).acquire(KEY, { rpm: 1 }, 0, 5_000)).toMatchObject({
      admitted: false,
      reason: 'limit',
    });
    await Promise.all(stores.map((s) => s.close()));
    // One warning per outage and client, not one per reconnect attempt or request.
    const warnings = lines.filter((l) => l.includes('quota store unavailable'));
    expect(warnings.length).toBeGreaterThanOrEqual(2);
    expect(warnings.length).toBeLessThanOrEqual(4);
  });
});

describe('exact quota store with a password', () => {
  let guarded: TestRedis;
  const password = 'q7-very-secret-store-password';
  beforeAll(async () => {
    guarded = await startTestRedis({ requirePass: password });
  }, 300_000);
  afterAll(async () => {
    await guarded?.close();
  });

  it('authenticates from the URL and never writes the password to logs or errors', async () => {
    const clock = manualClock(1_600_000_000_000);
    const [store] = (await openStores(
      1,
      clock.now,
      `redis://:${password}@127.0.0.1:${guarded.port}`,
    )) as [RedisQuotaStore];
    await acquireAdmitted(store, { rpm: 5 });
    await store.close();

    const wrong = createRedisQuotaStore(`redis://:not-${password}@127.0.0.1:${guarded.port}/0`, {
      logger,
      now: clock.now,
    });
    const refused = await wrong.acquire(KEY, { rpm: 5 }, 0, 5_000);
    expect(refused).toMatchObject({ admitted: false, reason: 'unavailable' });
    expect(JSON.stringify(refused)).toContain(`redis://127.0.0.1:${guarded.port}/0`);
    await wrong.close();
    expect(JSON.stringify(refused)).not.toContain(password);
    expect(lines.join('\n')).not.toContain(password);
  });
});

describe('quota store URLs', () => {
  it('refuses what is not redis:// or rediss:// with a message saying what to write', () => {
    expect(() => createRedisQuotaStore('http://redis:6379', { logger })).toThrow(
      'the quota store URL must start with redis:// or rediss:// (TLS), not http://',
    );
    expect(() => createRedisQuotaStore('redis:6379', { logger })).toThrow('must name a host');
    expect(() => createRedisQuotaStore('redis://redis:6379/quota', { logger })).toThrow(
      "the quota store URL's path is the database number (such as /0), not /quota",
    );
  });
});
