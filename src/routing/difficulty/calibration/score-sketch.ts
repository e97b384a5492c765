// A mergeable sketch of a route's difficulty scores: a fixed histogram over
// 0..1 with fractional weights, so it can decay (old requests count less),
// be summed over a fleet of proxies, and answer "which score has a share q of
// the traffic below it". Scores are calibrated to 0..1, so fixed bins need no
// rebalancing; within a bin, mass is taken as spread evenly.
import { z } from 'zod';

/** Number of bins over 0..1: a quantile is exact to within 1/SKETCH_BINS of score. */
export const SKETCH_BINS = 256;

const weight = z
  .number()
  .refine((w) => Number.isFinite(w) && w >= 0, 'must be a finite weight ≥ 0');

/** The sketch on the wire (proxy stats, tables): non-empty bins only, as [bin, weight] pairs. */
export const scoreSketchWire = z.strictObject({
  bins: z.literal(SKETCH_BINS),
  weights: z
    .array(
      z.tuple([
        z
          .int()
          .min(0)
          .max(SKETCH_BINS - 1),
        weight,
      ]),
    )
    .max(SKETCH_BINS),
});
export type ScoreSketchWire = z.infer<typeof scoreSketchWire>;

const binOf = (score: number): number =>
  score >= 1 ? SKETCH_BINS - 1 : score > 0 ? Math.floor(score * SKETCH_BINS) : 0;

export class ScoreSketch {
  private readonly weights = new Float64Array(SKETCH_BINS);
  private sum = 0;

  /**
   * A sketch of `total` weight spread evenly over 0..1: what a model's own
   * calibration says (a calibrated score of x is harder than a share x of
   * its training prompts), used as the prior before any traffic is seen.
   */
  static uniform(total: number): ScoreSketch {
    const s = new ScoreSketch();
    if (total > 0) {
      s.weights.fill(total / SKETCH_BINS);
      s.sum = total;
    }
    return s;
  }

  /** Parses a wire sketch (untrusted: proxy stats, pushed tables); throws on anything malformed. */
  static fromWire(value: unknown): ScoreSketch {
    const wire = scoreSketchWire.parse(value);
    const s = new ScoreSketch();
    for (const [bin, w] of wire.weights) s.weights[bin] = (s.weights[bin] as number) + w;
    s.sum = s.weights.reduce((a, b) => a + b, 0);
    return s;
  }

  /** Total weight. */
  get total(): number {
    return this.sum;
  }

  add(score: number, w = 1): void {
    if (!Number.isFinite(score) || !(w > 0)) return;
    const b = binOf(score);
    this.weights[b] = (this.weights[b] as number) + w;
    this.sum += w;
  }

  /** Multiplies every weight by `factor` (0..1): exponential forgetting. */
  scale(factor: number): void {
    if (!(factor >= 0) || factor === 1) return;
    for (let i = 0; i < SKETCH_BINS; i++) this.weights[i] = (this.weights[i] as number) * factor;
    this.sum *= factor;
  }

  /** Adds another sketch's weights, times `factor`. */
  merge(other: ScoreSketch, factor = 1): void {
    if (!(factor > 0)) return;
    for (let i = 0; i < SKETCH_BINS; i++)
      this.weights[i] = (this.weights[i] as number) + (other.weights[i] as number) * factor;
    this.sum += other.sum * factor;
  }

  clone(): ScoreSketch {
    const s = new ScoreSketch();
    s.merge(this);
    return s;
  }

  /**
   * The score with a share `q` (0..1) of the weight below it. An empty
   * sketch answers q itself (the calibration's promise).
   */
  quantile(q: number): number {
    const target = Math.min(1, Math.max(0, q)) * this.sum;
    if (!(this.sum > 0)) return Math.min(1, Math.max(0, q));
    let below = 0;
    for (let i = 0; i < SKETCH_BINS; i++) {
      const w = this.weights[i] as number;
      if (w > 0 && below + w >= target) {
        const within = (target - below) / w;
        return (i + within) / SKETCH_BINS;
      }
      below += w;
    }
    return 1;
  }

  /** The share of the weight at or above `score` (bins split evenly at the score). */
  shareAtOrAbove(score: number): number {
    if (!(this.sum > 0)) return 0;
    const x = Math.min(1, Math.max(0, score)) * SKETCH_BINS;
    const b = Math.min(SKETCH_BINS - 1, Math.floor(x));
    let above = (this.weights[b] as number) * (b + 1 - x);
    for (let i = b + 1; i < SKETCH_BINS; i++) above += this.weights[i] as number;
    return Math.min(1, above / this.sum);
  }

  /** Non-empty bins, weights rounded to 4 significant digits (a sketch, not a ledger). */
  toWire(): ScoreSketchWire {
    const weights: Array<[number, number]> = [];
    for (let i = 0; i < SKETCH_BINS; i++) {
      const w = this.weights[i] as number;
      if (w > 0) weights.push([i, Number(w.toPrecision(4))]);
    }
    return { bins: SKETCH_BINS, weights };
  }
}
