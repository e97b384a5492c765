import { seededRandom } from '../../random.js';
import { randomRouterMetrics, routerMetrics, routingCurve } from './metrics.js';

/** n prompts; the strong model is always right; the weak one fails on a share `gain` of them. */
function synthetic(n: number, gain: number) {
  return Array.from({ length: n }, (_, i) => ({ weak: i < n * gain ? 0 : 1, strong: 1 }));
}

describe('RouteLLM metrics on data with known answers', () => {
  const data = synthetic(10_000, 0.1);
  const rng = seededRandom(3);
  const noise = Float64Array.from(data, () => rng() * 1e-3); // breaks ties inside each class

  test('oracle: every strong call lands on a prompt only the strong model gets right', () => {
    const m = routerMetrics(
      data.map((e, i) => e.strong - e.weak + (noise[i] as number)),
      data,
    );
    // Recovers the whole gap by the first decile: area = 0.1/2 + 0.9.
    expect(m.apgr).toBeCloseTo(0.95, 6);
    expect(m.cpt50).toBeCloseTo(0.05, 6);
    expect(m.cpt80).toBeCloseTo(0.08, 6);
    expect(m.weakQuality).toBeCloseTo(0.9, 10);
    expect(m.strongQuality).toBe(1);
  });

  test('anti-oracle: the useful prompts are sent last', () => {
    const m = routerMetrics(
      data.map((e, i) => e.weak - e.strong + (noise[i] as number)),
      data,
    );
    expect(m.apgr).toBeCloseTo(0.05, 6);
    expect(m.cpt50).toBeCloseTo(0.95, 6);
  });

  test('random: ≈ 0.5, and CPT(x) ≈ x', () => {
    const m = randomRouterMetrics(data, seededRandom(9), 20);
    expect(m.apgr).toBeGreaterThan(0.48);
    expect(m.apgr).toBeLessThan(0.52);
    expect(m.cpt50).toBeCloseTo(0.5, 1);
    expect(m.cpt80).toBeCloseTo(0.8, 1);
  });

  test('random on a numeric-score data set is ≈ 0.5 too', () => {
    const r = seededRandom(5);
    const numeric = Array.from({ length: 5_000 }, () => ({ weak: r() * 6, strong: 2 + r() * 8 }));
    const m = randomRouterMetrics(numeric, seededRandom(1), 20);
    expect(Math.abs((m.apgr as number) - 0.5)).toBeLessThan(0.02);
  });

  test('the sweep runs from 0% to 100% strong calls over the deciles, also with tied scores', () => {
    const curve = routingCurve(
      [1, 1, 1, 2, 2, 3, 3, 3, 3, 3],
      [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    );
    expect(curve).toHaveLength(11);
    expect(curve[0]?.strongShare).toBe(0);
    expect(curve.at(-1)?.strongShare).toBe(1);
    for (let i = 1; i < curve.length; i++)
      expect(curve[i]?.strongShare).toBeGreaterThanOrEqual(curve[i - 1]?.strongShare as number);
  });

  test('95% of the strong quality: the strong share needed, 0 when the weak model already gets there', () => {
    const m = routerMetrics(
      data.map((e, i) => e.strong - e.weak + (noise[i] as number)),
      data,
    );
    expect(m.strongShareFor95).toBeCloseTo(0.05, 6); // 0.9 + 0.1·(s/0.1) ≥ 0.95 at s = 0.05
    const easy = synthetic(1_000, 0.02);
    expect(
      routerMetrics(
        easy.map(() => 0),
        easy,
      ).strongShareFor95,
    ).toBe(0);
  });

  test('no gap between the models: APGR and CPT are undefined (null), not a number', () => {
    const same = [
      { weak: 1, strong: 1 },
      { weak: 0, strong: 0 },
    ];
    const m = routerMetrics([0.1, 0.2], same);
    expect(m.apgr).toBeNull();
    expect(m.cpt50).toBeNull();
  });

  test('scores and examples must line up', () => {
    expect(() => routerMetrics([0.1], synthetic(2, 0.5))).toThrow(/1 scores for 2 examples/);
  });
});
