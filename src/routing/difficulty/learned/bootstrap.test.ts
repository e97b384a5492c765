import { seededRandom } from '../../random.js';
import {
  apgrDifference,
  apgrEstimate,
  bootstrapApgr,
  randomBand,
  type BootstrapSet,
} from './bootstrap.js';
import { routerMetrics } from './metrics.js';

/**
 * n prompts; the strong model succeeds with probability 0.9, the weak one
 * with 0.9 − gain·hardness, where hardness is uniform: a router that knows the
 * hardness recovers most of the gap, one that does not recovers half.
 */
function labelled(n: number, seed: number) {
  const rng = seededRandom(seed);
  return Array.from({ length: n }, () => {
    const hardness = rng();
    return { hardness, weak: rng() < 0.9 - 0.6 * hardness ? 1 : 0, strong: rng() < 0.9 ? 1 : 0 };
  });
}

function routers(examples: ReturnType<typeof labelled>, seed: number): BootstrapSet['routers'] {
  const noise = seededRandom(seed);
  return {
    informed: examples.map((e) => e.hardness),
    noisy: examples.map((e) => e.hardness + noise() * 2),
    random: 'random',
  };
}

const set = (name: string, n: number, seed: number): BootstrapSet => {
  const examples = labelled(n, seed);
  return { name, examples, routers: routers(examples, seed + 1) };
};

describe('paired bootstrap of APGR', () => {
  const one = set('a', 2000, 1);
  const b = bootstrapApgr([one], { resamples: 300, rng: seededRandom(7) });

  test('the point figure is the APGR on the data as given, inside its 95% interval', () => {
    const e = apgrEstimate(b, 'informed', 'a');
    expect(e.point).toBeCloseTo(
      routerMetrics(one.routers.informed as number[], one.examples).apgr as number,
      12,
    );
    expect(e.lo).toBeLessThan(e.point);
    expect(e.hi).toBeGreaterThan(e.point);
    expect(Math.abs(e.mean - e.point)).toBeLessThan(0.01);
    expect(b.resamples).toBe(300);
  });

  test('a router that knows the hardness beats random with an interval above 0', () => {
    const d = apgrDifference(b, 'informed', 'random', 'a');
    expect(d.lo).toBeGreaterThan(0.1);
    expect(d.point).toBeCloseTo(
      (b.point.informed?.[0] as number) - (b.point.random?.[0] as number),
      12,
    );
  });

  test('a router against itself differs by exactly 0 on every resample', () => {
    const same = bootstrapApgr(
      [
        {
          name: 'a',
          examples: one.examples,
          routers: { x: one.routers.noisy as number[], y: one.routers.noisy as number[] },
        },
      ],
      { resamples: 50, rng: seededRandom(3) },
    );
    expect(apgrDifference(same, 'x', 'y')).toEqual({ point: 0, mean: 0, lo: 0, hi: 0 });
  });

  test('pairing: the difference is tighter than the two routers intervals side by side', () => {
    const d = apgrDifference(b, 'informed', 'noisy', 'a');
    const informed = apgrEstimate(b, 'informed', 'a');
    const noisy = apgrEstimate(b, 'noisy', 'a');
    expect(d.hi - d.lo).toBeLessThan(informed.hi - informed.lo + (noisy.hi - noisy.lo));
  });

  test('seeded: the same rng gives the same intervals, another seed others', () => {
    const small = [set('a', 300, 1)];
    const first = bootstrapApgr(small, { resamples: 100, rng: seededRandom(7) });
    const again = bootstrapApgr(small, { resamples: 100, rng: seededRandom(7) });
    expect(apgrEstimate(again, 'noisy', 'a')).toEqual(apgrEstimate(first, 'noisy', 'a'));
    const other = bootstrapApgr(small, { resamples: 100, rng: seededRandom(8) });
    expect(apgrEstimate(other, 'noisy', 'a').lo).not.toBe(apgrEstimate(first, 'noisy', 'a').lo);
  });

  test('the interval narrows as the set grows (about 1/√n)', () => {
    const width = (n: number) => {
      const e = apgrEstimate(
        bootstrapApgr([set('s', n, 5)], { resamples: 200, rng: seededRandom(1) }),
        'noisy',
      );
      return e.hi - e.lo;
    };
    const ratio = width(400) / width(6400);
    expect(ratio).toBeGreaterThan(2.5);
    expect(ratio).toBeLessThan(6.5);
  });
});

describe('pooling several sets', () => {
  test('the pooled figure is the mean of the per-set APGRs, and so is each resample', () => {
    const sets = [set('a', 800, 1), set('b', 300, 11), set('c', 1500, 21)];
    const b = bootstrapApgr(sets, { resamples: 100, rng: seededRandom(2) });
    const perSet = sets.map((s) => apgrEstimate(b, 'informed', s.name).point);
    expect(apgrEstimate(b, 'informed').point).toBeCloseTo(perSet.reduce((x, y) => x + y) / 3, 12);
    const pooledMean = apgrEstimate(b, 'informed').mean;
    const meanOfMeans = sets.map((s) => apgrEstimate(b, 'informed', s.name).mean);
    expect(pooledMean).toBeCloseTo(meanOfMeans.reduce((x, y) => x + y) / 3, 12);
  });

  test('telling the sets apart earns nothing: a router random within each set pools to ≈ 0.5', () => {
    // Set "hard": the weak model always fails; set "easy": it always succeeds on 90%.
    // Ranking the whole hard set above the easy one gives a high APGR over the
    // concatenation, but no threshold on one set's traffic can use that order.
    const rng = seededRandom(4);
    const hard = Array.from({ length: 1000 }, () => ({ weak: 0, strong: rng() < 0.8 ? 1 : 0 }));
    const easy = Array.from({ length: 1000 }, () => ({
      weak: rng() < 0.9 ? 1 : 0,
      strong: rng() < 0.95 ? 1 : 0,
    }));
    const byTopic = (offset: number) => Float64Array.from({ length: 1000 }, () => offset + rng());
    const concatenated = routerMetrics(Float64Array.from([...byTopic(10), ...byTopic(0)]), [
      ...hard,
      ...easy,
    ]).apgr as number;
    expect(concatenated).toBeGreaterThan(0.7);
    const b = bootstrapApgr(
      [
        { name: 'hard', examples: hard, routers: { topic: byTopic(10) } },
        { name: 'easy', examples: easy, routers: { topic: byTopic(0) } },
      ],
      { resamples: 200, rng: seededRandom(5) },
    );
    const pooled = apgrEstimate(b, 'topic');
    expect(pooled.lo).toBeLessThan(0.5);
    expect(pooled.hi).toBeGreaterThan(0.5);
  });

  test('property: on random data, intervals hold their point and differences mirror', () => {
    const rng = seededRandom(99);
    for (let trial = 0; trial < 15; trial++) {
      const sets = Array.from({ length: 1 + Math.floor(rng() * 3) }, (_, s) =>
        set(`s${s}`, 100 + Math.floor(rng() * 400), trial * 10 + s),
      );
      const b = bootstrapApgr(sets, { resamples: 60, rng: seededRandom(trial) });
      for (const scope of ['pooled', ...sets.map((s) => s.name)]) {
        const e = apgrEstimate(b, 'noisy', scope);
        expect(e.lo).toBeLessThanOrEqual(e.mean);
        expect(e.mean).toBeLessThanOrEqual(e.hi);
        const ab = apgrDifference(b, 'informed', 'noisy', scope);
        const ba = apgrDifference(b, 'noisy', 'informed', scope);
        expect(ba.lo).toBeCloseTo(-ab.hi, 12);
        expect(ba.hi).toBeCloseTo(-ab.lo, 12);
        expect(ba.point).toBeCloseTo(-ab.point, 12);
      }
      expect(b.resamples + b.skipped).toBe(60);
    }
  });
});

describe('the random router band', () => {
  test('centres on 0.5 and narrows as the set grows', () => {
    const small = randomBand([{ name: 's', examples: labelled(300, 1) }], 200, seededRandom(1));
    const large = randomBand([{ name: 'l', examples: labelled(5000, 2) }], 200, seededRandom(1));
    for (const band of [small.sets.s, large.sets.l]) {
      expect(band?.mean).toBeGreaterThan(0.47);
      expect(band?.mean).toBeLessThan(0.53);
      expect(band?.lo).toBeLessThan(0.5);
      expect(band?.hi).toBeGreaterThan(0.5);
    }
    const width = (e: { lo: number; hi: number } | undefined) => (e ? e.hi - e.lo : NaN);
    expect(width(small.sets.s)).toBeGreaterThan(2 * width(large.sets.l));
  });

  test('the pooled band averages the sets draw by draw (narrower than either set)', () => {
    const band = randomBand(
      [
        { name: 'a', examples: labelled(500, 1) },
        { name: 'b', examples: labelled(500, 2) },
      ],
      300,
      seededRandom(3),
    );
    const width = (e: { lo: number; hi: number } | undefined) => (e ? e.hi - e.lo : NaN);
    expect(width(band.pooled)).toBeLessThan(width(band.sets.a));
    expect(width(band.pooled)).toBeLessThan(width(band.sets.b));
  });
});

describe('bad input says what is wrong', () => {
  const examples = labelled(50, 1);
  test.each([
    [[], /no sets/],
    [[{ name: 'a', examples, routers: {} }], /no routers/],
    [
      [{ name: 'a', examples, routers: { x: [1, 2] } }],
      /router x has 2 scores for the 50 examples of set a/,
    ],
    [
      [
        { name: 'a', examples, routers: { x: examples.map(() => 0) } },
        { name: 'b', examples, routers: { y: examples.map(() => 0) } },
      ],
      /set b has routers y; every set needs x/,
    ],
    [
      [
        {
          name: 'flat',
          examples: [
            { weak: 1, strong: 1 },
            { weak: 1, strong: 0 },
          ],
          routers: { x: [0, 1] },
        },
      ],
      /APGR is undefined on set flat: the strong model \(0\.500\) is no better than the weak one \(1\.000\)/,
    ],
  ] as Array<[BootstrapSet[], RegExp]>)('%#', (sets, message) => {
    expect(() => bootstrapApgr(sets, { rng: seededRandom(1), resamples: 5 })).toThrow(message);
  });

  test('resamples must be a positive integer', () => {
    expect(() => bootstrapApgr([set('a', 50, 1)], { rng: seededRandom(1), resamples: 0 })).toThrow(
      /resamples must be a positive integer, got 0/,
    );
  });

  test('asking for a router or set that is not there names the ones that are', () => {
    const b = bootstrapApgr([set('a', 100, 1)], { rng: seededRandom(1), resamples: 5 });
    expect(() => apgrEstimate(b, 'oracle')).toThrow(
      /no router oracle \(routers: informed, noisy, random\)/,
    );
    expect(() => apgrEstimate(b, 'noisy', 'z')).toThrow(/no set z \(sets: a\)/);
  });
});
