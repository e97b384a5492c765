// Latency samples kept exactly (microseconds in a growable Float64Array) and their percentiles.

export interface LatencySummary {
  count: number;
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  mean_ms: number;
}

/** Nearest-rank percentile of ascending samples: the smallest value with at least q of them at or below it. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const rank = Math.min(n, Math.max(1, Math.ceil(q * n)));
  return sorted[rank - 1] as number;
}

/** Rounds to `digits` decimals; NaN stays NaN (JSON prints it as null). */
export function round(value: number, digits = 3): number {
  if (!Number.isFinite(value)) return NaN;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** Exact samples in microseconds; 16 bytes per 2 samples, so a million cost 8 MB. */
export class LatencySamples {
  private data: Float64Array;
  private n = 0;

  constructor(initialCapacity = 1024) {
    this.data = new Float64Array(Math.max(16, initialCapacity));
  }

  get count(): number {
    return this.n;
  }

  /** Adds one sample given in microseconds. */
  addMicros(us: number): void {
    if (this.n === this.data.length) {
      const bigger = new Float64Array(this.data.length * 2);
      bigger.set(this.data);
      this.data = bigger;
    }
    this.data[this.n++] = us;
  }

  /** Adds the time between two process.hrtime.bigint() readings. */
  addSpan(startNs: bigint, endNs: bigint): void {
    this.addMicros(Number(endNs - startNs) / 1000);
  }

  /** A sorted copy of the samples, in microseconds. */
  sorted(): Float64Array {
    return this.data.slice(0, this.n).sort();
  }

  summary(): LatencySummary {
    const s = this.sorted();
    let sum = 0;
    for (let i = 0; i < s.length; i++) sum += s[i] as number;
    const ms = (us: number) => round(us / 1000, 3);
    return {
      count: s.length,
      p50_ms: ms(percentile(s, 0.5)),
      p90_ms: ms(percentile(s, 0.9)),
      p99_ms: ms(percentile(s, 0.99)),
      p999_ms: ms(percentile(s, 0.999)),
      max_ms: ms(s.length > 0 ? (s[s.length - 1] as number) : NaN),
      mean_ms: ms(s.length > 0 ? sum / s.length : NaN),
    };
  }
}

export interface Overhead {
  p50_ms: number;
  p90_ms: number;
  p99_ms: number;
}

/** Path minus direct, percentile by percentile (not a distribution of differences). */
export function overheadOf(path: LatencySummary, direct: LatencySummary): Overhead {
  return {
    p50_ms: round(path.p50_ms - direct.p50_ms),
    p90_ms: round(path.p90_ms - direct.p90_ms),
    p99_ms: round(path.p99_ms - direct.p99_ms),
  };
}

/** a / b, or NaN when b is not a positive number (a ratio to a zero floor means nothing). */
export function ratio(a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b > 0 ? round(a / b, 2) : NaN;
}
