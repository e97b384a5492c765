// Exponentially weighted moving average: a cheap "recent typical value" for latencies.

export class Ewma {
  private current: number | undefined;
  private readonly alpha: number;

  /** `alpha` is the weight of a new sample (0..1]; e.g. 0.2 remembers roughly the last 10 samples. */
  constructor(alpha: number) {
    // Out-of-range alphas would make the average diverge or never move.
    this.alpha = Number.isFinite(alpha) ? Math.min(1, Math.max(Number.EPSILON, alpha)) : 1;
  }

  update(sample: number): void {
    // One NaN would poison the average forever.
    if (!Number.isFinite(sample)) return;
    // The first sample is the best estimate there is; starting from 0 would bias it low.
    this.current =
      this.current === undefined ? sample : this.current + this.alpha * (sample - this.current);
  }

  /** Undefined until the first sample. */
  get value(): number | undefined {
    return this.current;
  }
}
