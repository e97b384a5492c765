import { RefreshingCredential, type Expiring } from './refreshing-credential.js';
import { CredentialUnavailableError } from './types.js';

function source(now: { t: number }, lifetimeMs = 3_600_000) {
  const calls: number[] = [];
  let fail = false;
  const fetchCredential = async (): Promise<Expiring<string>> => {
    calls.push(now.t);
    await Promise.resolve();
    if (fail) throw new CredentialUnavailableError('token endpoint said no');
    return { value: `token-${calls.length}`, expiresAtMs: now.t + lifetimeMs };
  };
  return {
    calls,
    failNext: (v: boolean) => (fail = v),
    credential: new RefreshingCredential(fetchCredential, { now: () => now.t }),
  };
}

test('fetches once for concurrent callers, then serves the cached value without waiting', async () => {
  const now = { t: 0 };
  const { calls, credential } = source(now);
  const [a, b] = await Promise.all([credential.get(), credential.get()]);
  expect([a, b]).toEqual(['token-1', 'token-1']);
  expect(calls).toHaveLength(1);
  now.t = 10 * 60_000;
  expect(credential.get()).toBe('token-1'); // a value, not a Promise
});

test('refreshes in the background within five minutes of expiry and keeps serving meanwhile', async () => {
  const now = { t: 0 };
  const { calls, credential } = source(now);
  await credential.get();
  now.t = 3_600_000 - 4 * 60_000;
  expect(credential.get()).toBe('token-1');
  await new Promise((r) => setImmediate(r));
  expect(calls).toHaveLength(2);
  expect(credential.get()).toBe('token-2');
});

test('an expired credential is fetched again before use', async () => {
  const now = { t: 0 };
  const { credential } = source(now);
  await credential.get();
  now.t = 3_600_001;
  const next = credential.get();
  expect(next).toBeInstanceOf(Promise);
  await expect(next).resolves.toBe('token-2');
});

test('a failed refresh keeps the still-valid credential; with none, callers get the error and a later retry', async () => {
  const now = { t: 0 };
  const s = source(now);
  await s.credential.get();
  s.failNext(true);
  now.t = 3_600_000 - 60_000;
  expect(s.credential.get()).toBe('token-1');
  await new Promise((r) => setImmediate(r));
  now.t = 3_600_001;
  await expect(s.credential.get()).rejects.toThrow('token endpoint said no');
  const tries = s.calls.length;
  // Within a second, the failure is answered without another fetch.
  await expect(s.credential.get()).rejects.toThrow('token endpoint said no');
  expect(s.calls).toHaveLength(tries);
  s.failNext(false);
  now.t += 1_000;
  await expect(s.credential.get()).resolves.toMatch(/^token-/);
});

test('a refused credential is fetched again, at most every 30 s', async () => {
  const now = { t: 0 };
  const { calls, credential } = source(now);
  await credential.get();
  credential.refused();
  await expect(credential.get()).resolves.toBe('token-2');
  // Refused again at once (no permission, say): the new token is kept for now.
  credential.refused();
  expect(credential.get()).toBe('token-2');
  now.t = 30_000;
  credential.refused();
  await expect(credential.get()).resolves.toBe('token-3');
  expect(calls).toHaveLength(3);
});
