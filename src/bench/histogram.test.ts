// Percentiles, summaries and overhead arithmetic of the benchmark's latency samples.
import { LatencySamples, overheadOf, percentile, ratio, round } from './histogram.js';

describe('percentile (nearest rank)', () => {
  const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1); // 1..100

  it('picks the smallest value with at least q of the samples at or below it', () => {
    expect(percentile(sorted, 0.5)).toBe(50);
    expect(percentile(sorted, 0.9)).toBe(90);
    expect(percentile(sorted, 0.99)).toBe(99);
    expect(percentile(sorted, 1)).toBe(100);
    expect(percentile(sorted, 0)).toBe(1);
  });

  it('handles one sample and none', () => {
    expect(percentile([7], 0.99)).toBe(7);
    expect(percentile([], 0.5)).toBeNaN();
  });
});

describe('LatencySamples', () => {
  it('grows past its initial capacity and summarises in milliseconds', () => {
    const s = new LatencySamples(16);
    for (let i = 1000; i >= 1; i--) s.addMicros(i * 10); // 10 us .. 10 ms, unsorted
    expect(s.count).toBe(1000);
    const sum = s.summary();
    expect(sum.count).toBe(1000);
    expect(sum.p50_ms).toBe(5);
    expect(sum.p99_ms).toBe(9.9);
    expect(sum.max_ms).toBe(10);
    expect(sum.mean_ms).toBeCloseTo(5.005, 3);
  });

  it('records hrtime spans as microseconds', () => {
    const s = new LatencySamples();
    s.addSpan(1_000_000n, 1_250_500n);
    expect(s.sorted()[0]).toBeCloseTo(250.5, 6);
  });

  it('summarises no samples as NaN figures', () => {
    const sum = new LatencySamples().summary();
    expect(sum.count).toBe(0);
    expect(sum.p50_ms).toBeNaN();
    expect(JSON.parse(JSON.stringify(sum)).p50_ms).toBeNull();
  });
});

describe('overhead and ratios', () => {
  it('subtracts percentile by percentile', () => {
    const direct = {
      count: 1,
      p50_ms: 20,
      p90_ms: 21,
      p99_ms: 22,
      p999_ms: 0,
      max_ms: 0,
      mean_ms: 0,
    };
    const path = { ...direct, p50_ms: 20.4, p90_ms: 21.7, p99_ms: 23.5 };
    expect(overheadOf(path, direct)).toEqual({ p50_ms: 0.4, p90_ms: 0.7, p99_ms: 1.5 });
  });

  it('gives NaN for a ratio to nothing', () => {
    expect(ratio(0.6, 0.3)).toBe(2);
    expect(ratio(0.6, 0)).toBeNaN();
    expect(ratio(0.6, -0.1)).toBeNaN();
    expect(round(1.23456, 2)).toBe(1.23);
  });
});
