import { seededRandom } from '../../random.js';
import { SKETCH_BINS, ScoreSketch } from './score-sketch.js';
import { fixedThreshold, replayStrongShare, type ScoredOutcome } from './share-replay.js';
import { StrongShareCalibrator, fleetPriorSketch } from './strong-share-calibrator.js';

const GOAL = 0.03;

/** Scores only (outcomes do not matter for the share). */
const stream = (count: number, draw: (i: number) => number): ScoredOutcome[] =>
  Array.from({ length: count }, (_, i) => ({ score: draw(i), weak: 0, strong: 1 }));

const calibrator = (target: number, fleetThreshold = 1 - target) =>
  new StrongShareCalibrator({ targetStrongShare: target, fleetThreshold });

describe('StrongShareCalibrator', () => {
  it('holds the target in every 1,000-request window on skewed scores, where the fixed calibration threshold misses', () => {
    for (const target of [0.1, 0.2, 0.5]) {
      const rng = seededRandom(11);
      const scores = stream(6_000, () => rng() ** 3); // most traffic looks easy to the model
      const live = replayStrongShare(scores, calibrator(target), { targetStrongShare: target });
      const fixed = replayStrongShare(scores, fixedThreshold(1 - target), {
        targetStrongShare: target,
      });
      expect(live.windows).toBe(4_501);
      expect(live.max_window_error).toBeLessThanOrEqual(GOAL);
      expect(fixed.max_window_error).toBeGreaterThan(GOAL);
    }
  });

  it('holds it across a half-way shift of the traffic (easy prompts, then hard ones)', () => {
    for (const target of [0.1, 0.2, 0.5]) {
      const rng = seededRandom(12);
      const scores = stream(8_000, (i) => (i < 4_000 ? 0.4 * rng() : 0.5 + 0.5 * rng() ** 0.5));
      const live = replayStrongShare(scores, calibrator(target), { targetStrongShare: target });
      expect(live.max_window_error).toBeLessThanOrEqual(GOAL);
      expect(live.realized_strong_share).toBeCloseTo(target, 2);
    }
  });

  it('holds it on random score distributions and targets (seeded fuzz)', () => {
    const rng = seededRandom(13);
    const misses: Array<{ round: number; target: number; error: number | null }> = [];
    for (let round = 0; round < 25; round++) {
      const target = 0.05 + 0.9 * rng();
      // A mixture of two power-law bumps whose mix changes at a random point.
      const [p1, p2] = [0.2 + 4 * rng(), 0.2 + 4 * rng()];
      const [mixA, mixB] = [rng(), rng()];
      const shiftAt = 500 + Math.floor(rng() * 3_000);
      const scores = stream(4_000, (i) => {
        const mix = i < shiftAt ? mixA : mixB;
        return rng() < mix ? rng() ** p1 : 1 - rng() ** p2;
      });
      const live = replayStrongShare(scores, calibrator(target, rng()), {
        targetStrongShare: target,
      });
      if (live.max_window_error === null || live.max_window_error > GOAL)
        misses.push({ round, target, error: live.max_window_error });
    }
    expect(misses).toEqual([]);
  });

  it('recovers at once from a stretch where the share could not be met (every prompt scored 1)', () => {
    const rng = seededRandom(16);
    const scores = stream(3_000, (i) => (i < 1_000 ? 1 : rng()));
    const live = replayStrongShare(scores, calibrator(0.2), {
      targetStrongShare: 0.2,
      warmup: 1_200, // 1,000 stuck at 100% strong, then 200 requests to recover
    });
    expect(live.max_window_error).toBeLessThanOrEqual(GOAL);
  });

  it('still routes by the score: the strong calls go to the hardest prompts', () => {
    const rng = seededRandom(14);
    const scores = stream(5_000, () => rng());
    const c = calibrator(0.2);
    const strongScores: number[] = [];
    for (const { score } of scores) {
      const strong = score >= c.thresholdFor();
      c.record(score, strong);
      if (strong) strongScores.push(score);
    }
    // Of ~1,000 strong calls, nearly all lie in the true top fifth (≥ 0.8).
    const inTop = strongScores.filter((s) => s >= 0.75).length / strongScores.length;
    expect(inTop).toBeGreaterThan(0.95);
  });

  it('answers the fleet threshold before it sees traffic, and follows a new one from the table', () => {
    const c = calibrator(0.2, 0.63);
    expect(c.thresholdFor()).toBeCloseTo(0.63, 2);
    c.setFleetThreshold(0.41);
    expect(c.thresholdFor()).toBeCloseTo(0.41, 2);
    c.setFleetThreshold(0.41, 0.5);
    expect(c.targetStrongShare).toBe(0.5);
    expect(c.thresholdFor()).toBeCloseTo(0.41, 2);
  });

  it('leans on its own traffic once it has some, not on a wrong fleet threshold', () => {
    const c = calibrator(0.2, 0.9);
    const rng = seededRandom(15);
    for (let i = 0; i < 2_000; i++) {
      const score = 0.5 * rng(); // every score is below the fleet's 0.9
      c.record(score, score >= c.thresholdFor());
    }
    expect(c.thresholdFor()).toBeGreaterThan(0.3);
    expect(c.thresholdFor()).toBeLessThan(0.5);
  });

  it('target 0 or 1: the table threshold as is (nothing or everything goes strong)', () => {
    expect(calibrator(0, 1).thresholdFor()).toBe(1);
    expect(calibrator(1, 0).thresholdFor()).toBe(0);
  });

  it('snapshots counters and the observed traffic only, with no prior mixed in', () => {
    const c = calibrator(0.2);
    expect(c.snapshot()).toEqual({
      targetStrongShare: 0.2,
      threshold: expect.closeTo(0.8, 2),
      decisions: 0,
      strong: 0,
      sketch: { bins: 256, weights: [] },
    });
    c.record(0.9, true);
    c.record(0.1, false);
    c.record(Number.NaN, false); // a decision without a usable score still counts
    const snap = c.snapshot();
    expect(snap).toMatchObject({ decisions: 3, strong: 1 });
    const sketch = ScoreSketch.fromWire(snap.sketch);
    expect(sketch.total).toBeGreaterThan(1.99);
    expect(sketch.total).toBeLessThanOrEqual(2);
    expect(sketch.shareAtOrAbove(0.5)).toBeCloseTo(0.5, 2);
  });
});

describe('fleetPriorSketch', () => {
  it('puts the share at or above the fleet threshold, evenly on each side', () => {
    for (const [threshold, share] of [
      [0.8, 0.2],
      [0.37, 0.2],
      [0.9, 0.5],
      [0.05, 0.7],
    ] as const) {
      const s = fleetPriorSketch(threshold, share, 100);
      expect(s.total).toBeCloseTo(100, 9);
      // Exact to within a bin: the sketch takes each bin's mass as even.
      expect(Math.abs(s.quantile(1 - share) - threshold)).toBeLessThanOrEqual(1 / SKETCH_BINS);
      expect(Math.abs(s.shareAtOrAbove(threshold) - share)).toBeLessThanOrEqual(0.01);
    }
    // Thresholds at the ends keep the whole weight.
    expect(fleetPriorSketch(1, 0.2, 100).total).toBeCloseTo(100, 9);
    expect(fleetPriorSketch(0, 0.2, 100).total).toBeCloseTo(100, 9);
    expect(fleetPriorSketch(1, 0.2, 100).quantile(0.9)).toBeGreaterThan(1 - 1 / SKETCH_BINS);
    // The calibration's own prior is uniform.
    expect(fleetPriorSketch(0.8, 0.2, 100).quantile(0.5)).toBeCloseTo(0.5, 3);
  });
});
