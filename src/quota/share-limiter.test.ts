import { seededRandom } from '../routing/random.js';
import type { LimitAmounts } from './protocol.js';
import { QuotaState } from './quota-state.js';
import { ShareLimiter } from './share-limiter.js';

const KEY = 'tenant:team-a/batch' as const;

test('concurrency: in flight up to the share, freed by finish', () => {
  const limiter = new ShareLimiter(KEY, () => 0);
  limiter.setShare({ maxConcurrency: 2 });
  const a = limiter.admit(0);
  limiter.admit(0);
  expect(limiter.canAdmit(0)).toBe(false);
  expect(limiter.load()).toBe(1);
  limiter.finish(0, undefined, a);
  expect(limiter.canAdmit(0)).toBe(true);
});

test('a share of 0 admits nothing and counts as full', () => {
  const limiter = new ShareLimiter(KEY, () => 0);
  limiter.setShare({ rpm: 0 });
  expect(limiter.canAdmit(0)).toBe(false);
  expect(limiter.load()).toBe(Infinity);
});

test('a smaller share keeps what the window counted; retryAfter is when the oldest second leaves', () => {
  let t = 10_000;
  const limiter = new ShareLimiter(KEY, () => t);
  limiter.setShare({ rpm: 10 });
  for (let i = 0; i < 5; i++) limiter.admit(0);
  limiter.setShare({ rpm: 5 });
  expect(limiter.canAdmit(0)).toBe(false);
  t = 13_500;
  expect(limiter.retryAfterMs()).toBe(56_500);
  t = 70_000; // second 10 has left the window
  expect(limiter.canAdmit(0)).toBe(true);
});

test('tokens: the estimate is corrected by real usage, in the window and the cumulative count', () => {
  const limiter = new ShareLimiter(KEY, () => 0);
  limiter.setShare({ tpm: 1000 });
  const at = limiter.admit(800);
  expect(limiter.canAdmit(300)).toBe(false);
  limiter.finish(800, 200, at);
  expect(limiter.canAdmit(300)).toBe(true);
  expect(limiter.usage()).toMatchObject({
    admitted: 1,
    tokens: 200,
    windowTokens: 200,
    inFlight: 0,
  });
});

/**
 * The property the fleet bound rests on: whatever assignments arrive (shares
 * up and down, expiry to safe) and whatever the traffic, this proxy never
 * admits more requests in any sliding 60 s window than the largest share in
 * force during that window, and never more than its share when the share
 * held the whole window.
 */
test('property: random assignments and traffic never admit more than the share in any 60 s window', () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rng = seededRandom(seed);
    let t = 1_000_000 + Math.floor(rng() * 1000);
    const state = new QuotaState({ mode: 'fleet', now: () => t });
    const limiter = new ShareLimiter('backend:default/a', () => t);
    const limit: LimitAmounts = { rpm: 200 };
    let epoch = -1;
    const admittedAt: number[] = [];
    /** [from, share] each time the rpm share in force changed. */
    const shares: [number, number][] = [];
    let sequence = 0;
    for (let step = 0; step < 3000; step++) {
      t += Math.floor(rng() * 400);
      if (rng() < 0.01) {
        const share = Math.floor(rng() * 150);
        state.apply({
          sequence: ++sequence,
          term: 't',
          issuedAtMs: t,
          validForMs: 5_000 + Math.floor(rng() * 20_000),
          limits: [
            {
              key: 'backend:default/a',
              share: { rpm: share },
              safe: { rpm: Math.floor(share / 3) },
              limit,
            },
          ],
          budgets: [],
        });
      }
      if (state.epoch() !== epoch) {
        epoch = state.epoch();
        const { amounts } = state.shareOf('backend:default/a', limit);
        limiter.setShare(amounts);
        shares.push([t, amounts.rpm ?? Infinity]);
      }
      const burst = 1 + Math.floor(rng() * 5);
      for (let i = 0; i < burst; i++) {
        if (limiter.canAdmit(0)) {
          const at = limiter.admit(0);
          admittedAt.push(t);
          limiter.finish(0, undefined, at);
        } else limiter.refuse();
      }
    }
    // Every window (aligned to whole seconds, as the limiter counts) of admissions.
    let first = 0;
    let shareIndex = 0;
    let checked = 0;
    for (let i = 0; i < admittedAt.length; i++) {
      const end = admittedAt[i] as number;
      const windowStart = (Math.floor(end / 1000) - 59) * 1000;
      while ((admittedAt[first] as number) < windowStart) first++;
      while (
        shareIndex + 1 < shares.length &&
        (shares[shareIndex + 1] as [number, number])[0] <= end
      )
        shareIndex++;
      // The share in force at the window's last admission bounds the whole window.
      const inForce = (shares[shareIndex] as [number, number])[1];
      if (i - first + 1 > inForce)
        throw new Error(
          `seed ${seed}: ${i - first + 1} admitted in the minute to ${end}, share ${inForce}`,
        );
      checked++;
    }
    expect(checked).toBe(admittedAt.length);
    expect(limiter.usage().refused).toBeGreaterThan(0); // the traffic did press against the shares
  }
});

test('blockingLimit names what one more request would exceed: concurrency first, then rpm, then tpm', () => {
  const limiter = new ShareLimiter(KEY, () => 0);
  limiter.setShare({ rpm: 2, tpm: 100, maxConcurrency: 1 });
  expect(limiter.blockingLimit(10)).toBeUndefined();
  const at = limiter.admit(10);
  expect(limiter.blockingLimit(10)).toBe('maxConcurrency');
  limiter.finish(10, undefined, at);
  expect(limiter.blockingLimit(95)).toBe('tpm');
  limiter.finish(0, undefined, limiter.admit(10));
  expect(limiter.blockingLimit(0)).toBe('rpm');
});
