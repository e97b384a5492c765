// Turns a route rule's `strongShare` into the threshold to use for the next
// request, so that the share of the rule's actual requests sent to the strong
// tier is the target, on traffic the model was never trained on. The proxy,
// local mode and `modelroute router replay` all run this class.
//
// Two parts:
// - A decayed sketch of the scores this proxy saw (half-life in requests),
//   plus a prior that answers the fleet's threshold while local traffic is
//   thin: the threshold is the (1 − target) quantile of the two together.
// - Feedback on the realised share: a deficit (target · decisions − strong,
//   slowly forgotten) shifts the quantile used, so a run of strong decisions
//   is paid back at once instead of being left to binomial luck.
// Pure: no clock (decay counts requests), no randomness, no I/O.
import { SKETCH_BINS, ScoreSketch, type ScoreSketchWire } from './score-sketch.js';

/**
 * How fast the local sketch forgets, in requests. A 1,000-request window must
 * hold the target, so a change of traffic has to be learned well within one:
 * at 500 the newest 800 requests carry ~2/3 of the weight, and the effective
 * sample size (2·H/ln 2 ≈ 1,440) puts the quantile within ±0.011 of share
 * (1 sd at 0.2), slow noise the feedback absorbs. In replays of MMLU, GSM8K
 * and half-way mixtures (bench/strong-share.ts) half-lives of 250, 500 and
 * 1,000 gave the same worst-window error: the feedback carries the lag.
 */
export const SKETCH_HALF_LIFE_REQUESTS = 500;
/** Weight of the fleet prior: a seventh of the steady local weight (H/ln 2 ≈ 720), so a quiet proxy follows the fleet. */
export const FLEET_PRIOR_WEIGHT = 100;
/**
 * Quantile shift per request of deficit. The deficit then settles with sd
 * √(s(1−s)/2k) = 2 requests at s = 0.2, so a 1,000-request window is off by
 * a few requests rather than the ±13 of binomial noise at a fixed threshold;
 * the price is a threshold that jitters by √(k·s(1−s)/2) ≈ 0.04 of share.
 * Replays (3 seeds, targets 0.1/0.2/0.5): gain 0.01 → worst window 0.029 at
 * 0.5 (too close to 0.03); 0.02 → 0.017, costing at 0.2 a mean 0.018 of the
 * quality gap against a fixed split that knew the stream in advance; 0.05 →
 * 0.011 for 0.034.
 */
export const FEEDBACK_GAIN = 0.02;
/**
 * The sketch decays every this many requests rather than on each: scaling
 * 256 bins of two sketches on every request cost 2–4 µs a request, in batches
 * 0.7–0.9 µs; the newest requests of a batch weigh at most 2% more than they
 * should.
 */
const DECAY_BATCH = 16;
/** The deficit forgets old debts slowly (a bias left over is this over the gain: < 2%). */
export const DEFICIT_HALF_LIFE_REQUESTS = 2_000;

export interface StrongShareCalibratorOptions {
  /** The rule's strongShare, 0..1. */
  targetStrongShare: number;
  /** The threshold the table carries (the fleet's, or the model calibration's prior). */
  fleetThreshold: number;
  halfLifeRequests?: number;
  priorWeight?: number;
  feedbackGain?: number;
  deficitHalfLifeRequests?: number;
}

export interface StrongShareSnapshot {
  targetStrongShare: number;
  /** The threshold the next request would get. */
  threshold: number;
  /** Cumulative decisions made with a strongShare threshold. */
  decisions: number;
  /** Of those, sent to the strong tier. */
  strong: number;
  /** Recent scores (decayed), observed traffic only: no prior mixed in. */
  sketch: ScoreSketchWire;
}

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const decayFor = (halfLife: number) => (halfLife > 0 ? 2 ** (-1 / halfLife) : 0);

/**
 * `weight` spread so that a share `share` lies at or above `threshold`, evenly
 * on each side: what "the fleet's threshold for this share" says about the
 * scores. At the calibration's own prior (threshold 1 − share) it is uniform.
 */
export function fleetPriorSketch(threshold: number, share: number, weight: number): ScoreSketch {
  const t = clamp01(threshold);
  const s = clamp01(share);
  const sketch = new ScoreSketch();
  for (let i = 0; i < SKETCH_BINS; i++) {
    const lo = i / SKETCH_BINS;
    const hi = (i + 1) / SKETCH_BINS;
    const below = t > 0 ? (Math.max(0, Math.min(hi, t) - lo) / t) * (1 - s) : 0;
    const above = t < 1 ? (Math.max(0, hi - Math.max(lo, t)) / (1 - t)) * s : 0;
    // Within a bin the sketch takes mass as even, so add each side where it lies.
    if (below > 0) sketch.add((lo + Math.min(hi, t)) / 2, below * weight);
    if (above > 0) sketch.add((Math.max(lo, t) + hi) / 2, above * weight);
  }
  // A threshold at an end of the scale: that side's mass sits on the end itself.
  if (t >= 1) sketch.add(1, s * weight);
  if (t <= 0) sketch.add(0, (1 - s) * weight);
  return sketch;
}

export class StrongShareCalibrator {
  private target: number;
  private fleetThreshold: number;
  private readonly local = new ScoreSketch();
  /** local + prior, kept up to date so a threshold costs one quantile scan. */
  private effective = new ScoreSketch();
  private prior: ScoreSketch;
  private deficit = 0;
  private decisionCount = 0;
  private strongCount = 0;
  private readonly decay: number;
  private undecayed = 0;
  private readonly deficitDecay: number;
  private readonly priorWeight: number;
  private readonly gain: number;

  constructor(options: StrongShareCalibratorOptions) {
    this.target = clamp01(options.targetStrongShare);
    this.fleetThreshold = clamp01(options.fleetThreshold);
    this.decay = decayFor(options.halfLifeRequests ?? SKETCH_HALF_LIFE_REQUESTS);
    this.deficitDecay = decayFor(options.deficitHalfLifeRequests ?? DEFICIT_HALF_LIFE_REQUESTS);
    this.priorWeight = options.priorWeight ?? FLEET_PRIOR_WEIGHT;
    this.gain = options.feedbackGain ?? FEEDBACK_GAIN;
    this.prior = fleetPriorSketch(this.fleetThreshold, this.target, this.priorWeight);
    this.effective.merge(this.prior);
  }

  get targetStrongShare(): number {
    return this.target;
  }

  /** A new table: its fleet threshold and target replace the old ones; local history stays. */
  setFleetThreshold(threshold: number, targetStrongShare = this.target): void {
    const target = clamp01(targetStrongShare);
    // A new target is a new promise: debts owed to the old one are void.
    if (target !== this.target) this.deficit = 0;
    this.target = target;
    this.fleetThreshold = clamp01(threshold);
    this.prior = fleetPriorSketch(this.fleetThreshold, this.target, this.priorWeight);
    this.effective = this.local.clone();
    this.effective.merge(this.prior);
  }

  /** The threshold for the next request: at or above it goes to the strong tier. */
  thresholdFor(): number {
    // All or nothing needs no estimate (and the deficit could not move it).
    if (this.target <= 0 || this.target >= 1) return this.fleetThreshold;
    return clamp01(this.effective.quantile(1 - this.target - this.gain * this.deficit));
  }

  /** Records a decided request: its score and whether it went to the strong tier. */
  record(score: number, strong: boolean): void {
    this.decisionCount += 1;
    if (strong) this.strongCount += 1;
    // Bounded where it already moves the quantile across the whole scale: a
    // share that cannot be met for a while (every score the same) must not
    // leave a debt that takes thousands of requests to unwind.
    const limit = this.gain > 0 ? 1 / this.gain : Infinity;
    const deficit = this.deficitDecay * this.deficit + this.target - (strong ? 1 : 0);
    this.deficit = Math.max(-limit, Math.min(limit, deficit));
    if (!Number.isFinite(score)) return;
    this.local.add(score);
    this.effective.add(score);
    if (++this.undecayed < DECAY_BATCH) return;
    const factor = this.decay ** this.undecayed;
    this.undecayed = 0;
    this.local.scale(factor);
    // effective = factor·local + prior, without rebuilding it.
    this.effective.scale(factor);
    this.effective.merge(this.prior, 1 - factor);
  }

  snapshot(): StrongShareSnapshot {
    return {
      targetStrongShare: this.target,
      threshold: this.thresholdFor(),
      decisions: this.decisionCount,
      strong: this.strongCount,
      sketch: this.local.toWire(),
    };
  }
}
