import { backoffDelayMs, parseRetryAfter } from './retry.js';

describe('parseRetryAfter', () => {
  const now = Date.UTC(2015, 9, 21, 7, 28, 0); // Wed, 21 Oct 2015 07:28:00 GMT

  test.each<[string | undefined, number | undefined]>([
    ['0', 0],
    ['1', 1_000],
    ['120', 120_000],
    ['  30 ', 30_000],
    ['1.5', 1_500],
    ['Wed, 21 Oct 2015 07:28:30 GMT', 30_000], // future
    ['Wed, 21 Oct 2015 07:27:00 GMT', 0], // past: no wait
    ['Wed, 21 Oct 2015 07:28:00 GMT', 0], // now
    ['Wednesday, 21-Oct-15 07:29:00 GMT', 60_000], // RFC 850
    ['Wed Oct 21 07:28:10 2015', 10_000], // asctime, UTC
    [undefined, undefined],
    ['', undefined],
    ['soon', undefined],
    ['-5', undefined],
    ['1e3', undefined],
    ['10s', undefined],
    ['hello 2030', undefined],
    ['Wed, 32 Foo 2015 07:28:00 GMT', undefined],
  ])('%j → %j', (value, expected) => {
    expect(parseRetryAfter(value, now)).toBe(expected);
  });
});

describe('backoffDelayMs', () => {
  const rngs = [0, 0.25, 0.5, 0.999];

  test.each([
    // retry, base, max, capped delay before jitter
    [1, 100, 10_000, 100],
    [2, 100, 10_000, 200],
    [3, 100, 10_000, 400],
    [7, 100, 10_000, 6_400],
    [8, 100, 10_000, 10_000],
    [50, 100, 10_000, 10_000],
    [2000, 100, 10_000, 10_000], // 2^1999 overflows to Infinity: still the cap
    [1, 500, 200, 200], // max below base
  ])(
    'retry %i, base %i, max %i: within [capped/2, capped] (capped %i)',
    (retry, base, max, capped) => {
      for (const r of rngs) {
        const d = backoffDelayMs(retry, base, max, () => r);
        expect(d).toBeGreaterThanOrEqual(Math.floor(capped / 2));
        expect(d).toBeLessThanOrEqual(capped);
        expect(d).toBeLessThanOrEqual(max);
        expect(Number.isInteger(d)).toBe(true);
      }
      expect(backoffDelayMs(retry, base, max, () => 0)).toBe(Math.floor(capped / 2));
      expect(backoffDelayMs(retry, base, max, () => 0.999)).toBe(
        Math.floor(capped / 2 + 0.999 * (capped / 2)),
      );
    },
  );

  test('equal jitter spreads over the upper half', () => {
    const delays = Array.from({ length: 101 }, (_, i) =>
      backoffDelayMs(3, 100, 10_000, () => i / 101),
    );
    expect(Math.min(...delays)).toBe(200);
    expect(Math.max(...delays)).toBe(398); // 200 + 200 * 100/101
    expect(new Set(delays).size).toBeGreaterThan(50);
  });

  test.each([0, -1, 0.5])('retry %s is treated as the first retry', (retry) => {
    expect(backoffDelayMs(retry, 100, 10_000, () => 0)).toBe(50);
  });

  test('zero base means no wait; a broken rng cannot produce NaN', () => {
    expect(backoffDelayMs(3, 0, 1000, () => 0.7)).toBe(0);
    expect(backoffDelayMs(1, 100, 1000, () => Number.NaN)).toBe(50);
    expect(backoffDelayMs(1, 100, 1000, () => 5)).toBe(100);
  });
});
