import { seededRandom } from '../../random.js';
import { routerMetrics } from './metrics.js';
import { rankScores, resampledApgr } from './resampled-apgr.js';

describe('APGR of a resample by weights', () => {
  test('property: equals routerMetrics on the resample written out, ties and all', () => {
    const rng = seededRandom(17);
    for (let trial = 0; trial < 300; trial++) {
      const n = 1 + Math.floor(rng() * 200);
      // Few distinct scores in some trials: ties at the thresholds are where sweeps go wrong.
      const levels = rng() < 0.5 ? 1 + Math.floor(rng() * 6) : 0;
      const scores = Float64Array.from({ length: n }, () =>
        levels > 0 ? Math.floor(rng() * levels) / levels : rng(),
      );
      const examples = Array.from({ length: n }, () => ({
        weak: rng() < 0.4 ? 1 : 0,
        strong: rng() < 0.7 ? 1 : 0,
      }));
      const weights = new Uint32Array(n);
      for (let i = 0; i < n; i++) {
        const j = Math.floor(rng() * n);
        weights[j] = (weights[j] as number) + 1;
      }
      const index = Array.from({ length: n }, (_, i) => i).flatMap((i) =>
        Array.from({ length: weights[i] as number }, () => i),
      );
      const expected = routerMetrics(
        index.map((i) => scores[i] as number),
        index.map((i) => examples[i] as { weak: number; strong: number }),
      ).apgr;
      const got = resampledApgr(rankScores(scores), examples, weights);
      if (expected === null) expect(got).toBeNull();
      else expect(got).toBeCloseTo(expected, 10);
    }
  });

  test('with unit weights it is the APGR of the set as given', () => {
    const rng = seededRandom(2);
    const examples = Array.from({ length: 1000 }, () => ({
      weak: rng() < 0.5 ? 1 : 0,
      strong: rng() < 0.8 ? 1 : 0,
    }));
    const scores = examples.map((e) => e.strong - e.weak + rng());
    expect(resampledApgr(rankScores(scores), examples, new Uint32Array(1000).fill(1))).toBeCloseTo(
      routerMetrics(scores, examples).apgr as number,
      12,
    );
  });

  test('no weight, or no gap, has no APGR', () => {
    const examples = [
      { weak: 0, strong: 1 },
      { weak: 1, strong: 1 },
    ];
    expect(resampledApgr(rankScores([0, 1]), examples, [0, 0])).toBeNull();
    expect(resampledApgr(rankScores([0, 1]), examples, [0, 2])).toBeNull();
  });
});
