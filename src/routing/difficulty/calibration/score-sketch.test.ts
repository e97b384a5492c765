import { seededRandom } from '../../random.js';
import { SKETCH_BINS, ScoreSketch } from './score-sketch.js';

describe('ScoreSketch', () => {
  it('answers quantiles within one bin of the exact ones', () => {
    const rng = seededRandom(7);
    const scores = Array.from({ length: 5000 }, () => rng() ** 3); // skewed towards 0
    const s = new ScoreSketch();
    for (const x of scores) s.add(x);
    const sorted = [...scores].sort((a, b) => a - b);
    for (const q of [0.05, 0.2, 0.5, 0.8, 0.95]) {
      const exact = sorted[Math.floor(q * (sorted.length - 1))] as number;
      expect(Math.abs(s.quantile(q) - exact)).toBeLessThanOrEqual(1 / SKETCH_BINS + 0.005);
      expect(Math.abs(s.shareAtOrAbove(s.quantile(q)) - (1 - q))).toBeLessThan(1e-9);
    }
  });

  it('starts uniform (the calibration prior) and forgets by scaling', () => {
    const s = ScoreSketch.uniform(100);
    expect(s.quantile(0.8)).toBeCloseTo(0.8, 9);
    s.scale(0.01);
    for (let i = 0; i < 1000; i++) s.add(0.9);
    expect(s.quantile(0.5)).toBeGreaterThan(0.89);
    expect(s.total).toBeCloseTo(1001, 6);
  });

  it('merges fleets and round-trips the wire form', () => {
    const a = new ScoreSketch();
    const b = new ScoreSketch();
    for (let i = 0; i < 100; i++) a.add(0.1);
    for (let i = 0; i < 300; i++) b.add(0.7);
    const fleet = ScoreSketch.fromWire(JSON.parse(JSON.stringify(a.toWire())));
    fleet.merge(ScoreSketch.fromWire(b.toWire()));
    expect(fleet.total).toBe(400);
    expect(fleet.shareAtOrAbove(0.5)).toBeCloseTo(0.75, 9);
  });

  it('refuses malformed wire sketches and ignores non-finite scores', () => {
    expect(() => ScoreSketch.fromWire({ bins: 10, weights: [] })).toThrow();
    expect(() =>
      ScoreSketch.fromWire({ bins: SKETCH_BINS, weights: [[SKETCH_BINS, 1]] }),
    ).toThrow();
    expect(() => ScoreSketch.fromWire({ bins: SKETCH_BINS, weights: [[0, -1]] })).toThrow();
    const s = new ScoreSketch();
    s.add(Number.NaN);
    expect(s.total).toBe(0);
    expect(s.quantile(0.3)).toBe(0.3);
  });
});
