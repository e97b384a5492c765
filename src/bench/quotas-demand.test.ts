import { poissonArrivals, shuffled, streamSeed, zipfWeights } from './quotas-demand.js';

describe('skewed demand', () => {
  test('Zipf weights sum to 1 and fall with rank', () => {
    const w = zipfWeights(20, 1.1);
    expect(w.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    for (let i = 1; i < w.length; i++) expect(w[i]).toBeLessThan(w[i - 1] as number);
    expect((w[0] as number) / (w[19] as number)).toBeCloseTo(20 ** 1.1, 6);
  });

  test('a seeded shuffle is a permutation and the same for the same seed', () => {
    const items = Array.from({ length: 20 }, (_, i) => i);
    const a = shuffled(items, 7);
    expect([...a].sort((x, y) => x - y)).toEqual(items);
    expect(shuffled(items, 7)).toEqual(a);
    expect(shuffled(items, 8)).not.toEqual(a);
  });

  test('Poisson arrivals are ascending, inside the span, and near the asked rate', () => {
    for (let seed = 0; seed < 20; seed++) {
      const t = poissonArrivals(600, 600_000, streamSeed(3, seed));
      for (let i = 1; i < t.length; i++) expect(t[i]).toBeGreaterThan(t[i - 1] as number);
      expect(t.every((x) => x >= 0 && x < 600_000)).toBe(true);
      // 6000 expected; a Poisson count's sd is ~77, so 5% either side is > 3.8 sd.
      expect(Math.abs(t.length - 6000)).toBeLessThan(300);
    }
  });

  test('no demand, no arrivals', () => {
    expect(poissonArrivals(0, 60_000, 1)).toEqual([]);
    expect(poissonArrivals(10, 0, 1)).toEqual([]);
  });

  test('stream seeds differ per stream and per run', () => {
    const seeds = new Set<number>();
    for (let run = 0; run < 5; run++) for (let s = 0; s < 50; s++) seeds.add(streamSeed(run, s));
    expect(seeds.size).toBe(250);
  });

  test('a ramp thins the first rampMs linearly and leaves the rest at the full rate', () => {
    const full = poissonArrivals(600, 240_000, 3);
    const ramped = poissonArrivals(600, 240_000, 3, 120_000);
    const inSpan = (xs: number[], from: number, to: number) =>
      xs.filter((t) => t >= from && t < to).length;
    // First minute of the ramp: a quarter of the full rate on average (∫0..1/2 of 2x dx).
    expect(inSpan(ramped, 0, 60_000)).toBeGreaterThan(0.15 * 600);
    expect(inSpan(ramped, 0, 60_000)).toBeLessThan(0.35 * 600);
    expect(inSpan(ramped, 120_000, 240_000)).toBeGreaterThan(
      0.9 * inSpan(full, 120_000, 240_000) - 60,
    );
    expect([...ramped].sort((a, b) => a - b)).toEqual(ramped);
  });
});
