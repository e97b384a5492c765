import { describe, expect, test } from '@jest/globals';
import { poissonArrivals } from './quotas-demand.js';
import { exactReference } from './quotas-reference.js';

describe('exactReference: one limiter on the same arrivals', () => {
  test('never more than the limit in a sliding minute (1 s buckets: at most the limit per 60 s)', () => {
    const arrivals = poissonArrivals(1_200, 300_000, 5);
    const got = exactReference({
      arrivals,
      weight: 1,
      limit: 600,
      unit: 'requests',
      fromMs: 30_000,
      toMs: 300_000,
    });
    // A request counts from the start of its second for 60 s, so a sliding
    // 60 s span at the backend may hold one second's worth more than the limit.
    expect(got.max_admitted_per_minute).toBeLessThanOrEqual(600 + 20 * 2);
    expect(got.min_admitted_per_minute_saturated).not.toBeNull();
  });

  test('a standing start at twice the limit echoes: the first saturated minutes fall short', () => {
    const step = exactReference({
      arrivals: poissonArrivals(1_200, 300_000, 9),
      weight: 1,
      limit: 600,
      unit: 'requests',
      fromMs: 30_000,
      toMs: 300_000,
    });
    const ramp = exactReference({
      arrivals: poissonArrivals(1_200, 420_000, 9, 120_000),
      weight: 1,
      limit: 600,
      unit: 'requests',
      fromMs: 150_000,
      toMs: 420_000,
    });
    expect(step.min_admitted_per_minute_saturated!).toBeLessThan(
      ramp.min_admitted_per_minute_saturated!,
    );
  });

  test('tokens: a request of `weight` tokens is admitted only while it fits', () => {
    const got = exactReference({
      arrivals: [0, 1, 2, 3],
      weight: 200,
      limit: 500,
      unit: 'tokens',
      fromMs: 0,
      toMs: 60_000,
    });
    expect(got.max_admitted_per_minute).toBe(400);
  });
});
