import { describe, expect, it } from '@jest/globals';
import { costUsd } from './cost.js';

const pricing = {
  inputPerMillion: 3,
  outputPerMillion: 15,
  cachedInputPerMillion: 0.3,
  cacheWriteInputPerMillion: 3.75,
};

describe('costUsd', () => {
  it('prices plain, cache-read, cache-written and output tokens each at their own rate', () => {
    // 1M prompt tokens: 600k read from the cache, 100k written to it, 300k plain.
    const cost = costUsd(pricing, {
      input: 1_000_000,
      cachedInput: 600_000,
      cacheWriteInput: 100_000,
      output: 1_000_000,
    });
    expect(cost).toBeCloseTo(0.3 * 3 + 0.6 * 0.3 + 0.1 * 3.75 + 15, 10);
  });

  it('prices cache writes at the input rate in tables compiled before they were priced', () => {
    const { cacheWriteInputPerMillion: _, ...older } = pricing;
    expect(costUsd(older, { input: 1_000_000, cacheWriteInput: 1_000_000, output: 0 })).toBe(3);
  });

  it('never prices a negative remainder when the provider over-reports cached tokens', () => {
    expect(costUsd(pricing, { input: 10, cachedInput: 20, output: 0 })).toBeCloseTo(
      (20 * 0.3) / 1e6,
      15,
    );
  });
});
