// The in-memory store's semantics are the ones the Redis store must share:
// a sliding 60 s window in 1 s buckets, concurrency as leases that expire.
import { MemoryQuotaStore } from './exact-store.js';

const KEY = 'backend:default/a' as const;

function setup() {
  let t = 10_000;
  const store = new MemoryQuotaStore(() => t);
  return { store, at: (ms: number) => (t = ms) };
}

test('rpm: admits up to the limit in a window, then refuses until the oldest second leaves', async () => {
  const { store, at } = setup();
  for (let i = 0; i < 3; i++)
    expect(await store.acquire(KEY, { rpm: 3 }, 0, 1000)).toMatchObject({ admitted: true });
  at(12_500);
  expect(await store.acquire(KEY, { rpm: 3 }, 0, 1000)).toEqual({
    admitted: false,
    reason: 'limit',
    retryAfterMs: 57_500,
  });
  at(70_000);
  expect(await store.acquire(KEY, { rpm: 3 }, 0, 1000)).toMatchObject({ admitted: true });
});

test('tpm counts the estimate until release corrects it with real usage', async () => {
  const { store } = setup();
  const first = await store.acquire(KEY, { tpm: 1000 }, 900, 1000);
  expect(await store.acquire(KEY, { tpm: 1000 }, 200, 1000)).toMatchObject({ admitted: false });
  if (first.admitted) first.release(100);
  expect(await store.acquire(KEY, { tpm: 1000 }, 200, 1000)).toMatchObject({ admitted: true });
});

test('concurrency: a lease is freed by release, or by expiry when its holder died', async () => {
  const { store, at } = setup();
  const held = await store.acquire(KEY, { maxConcurrency: 1 }, 0, 5_000);
  expect(await store.acquire(KEY, { maxConcurrency: 1 }, 0, 5_000)).toMatchObject({
    admitted: false,
    retryAfterMs: 1000,
  });
  if (held.admitted) held.release();
  const orphan = await store.acquire(KEY, { maxConcurrency: 1 }, 0, 5_000);
  expect(orphan.admitted).toBe(true);
  at(15_000); // never released: the lease expired
  expect(await store.acquire(KEY, { maxConcurrency: 1 }, 0, 5_000)).toMatchObject({
    admitted: true,
  });
});

test('keys are independent; a closed store is unavailable', async () => {
  const { store } = setup();
  await store.acquire(KEY, { rpm: 1 }, 0, 1000);
  expect(await store.acquire('tenant:default/x', { rpm: 1 }, 0, 1000)).toMatchObject({
    admitted: true,
  });
  await store.close();
  expect(await store.acquire(KEY, { rpm: 1 }, 0, 1000)).toMatchObject({
    admitted: false,
    reason: 'unavailable',
  });
});
