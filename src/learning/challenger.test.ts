import { difficultyModelFromJson } from '../routing/difficulty/learned/model.js';
import { routerMetrics } from '../routing/difficulty/learned/metrics.js';
import { RIDGE_GRID, fitChallenger, rawScoreOfFile, trainChallenger } from './challenger.js';
import { shippedPrior, syntheticLabels } from './__fixtures__/labels.js';

const prior = shippedPrior();
const apgr = (scores: ArrayLike<number>, gains: readonly number[]) =>
  routerMetrics(
    scores,
    gains.map((g) => ({ weak: 0, strong: g })),
  ).apgr as number;

test('the challenger is a format-2 file that loads like the shipped one and scores as the trainer fitted it', () => {
  const labels = syntheticLabels(400, 1);
  const c = fitChallenger(prior, labels, { seed: 3 });
  const model = difficultyModelFromJson(JSON.parse(JSON.stringify(c.file)), 'challenger');
  expect(model.checksum).toBe(c.file.checksum);
  for (const l of syntheticLabels(50, 2)) {
    const raw = model.rawScore(l.prompt);
    expect(raw).toBe(rawScoreOfFile(c.file, l.features));
    // The file holds float32 weights: equal to the float64 fit up to that rounding.
    expect(Math.abs(raw - c.score(l.features))).toBeLessThan(1e-4 * (1 + Math.abs(raw)));
    expect(model.score(l.prompt)).toBeGreaterThanOrEqual(0);
    expect(model.score(l.prompt)).toBeLessThanOrEqual(1);
  }
});

test('it learns what the route shows and the prior does not know, and is the same for the same labels and seed', () => {
  const train = syntheticLabels(500, 1);
  const test = syntheticLabels(500, 9);
  const file = trainChallenger(prior, train, { seed: 3 });
  const gains = test.map((l) => l.gain);
  const adapted = apgr(
    Float64Array.from(test, (l) => rawScoreOfFile(file, l.features)),
    gains,
  );
  const before = apgr(
    Float64Array.from(test, (l) => rawScoreOfFile(prior, l.features)),
    gains,
  );
  expect(adapted).toBeGreaterThan(before + 0.2);
  expect(trainChallenger(prior, train, { seed: 3 }).checksum).toBe(file.checksum);
  expect(file.training).toMatchObject({ kind: 'warm-start', prior: prior.checksum, labels: 500 });
});

test('with an infinite ridge it keeps the prior order; cross-validation tries every strength on the labels', () => {
  const labels = syntheticLabels(200, 4, 0);
  const kept = fitChallenger(prior, labels, { seed: 1, ridge: Infinity });
  const probe = syntheticLabels(100, 5);
  const order = (f: (x: Float64Array) => number) =>
    probe
      .map((l, i) => [f(l.features), i] as const)
      .sort((a, b) => a[0] - b[0])
      .map(([, i]) => i);
  expect(order((x) => rawScoreOfFile(kept.file, x))).toEqual(
    order((x) => rawScoreOfFile(prior, x)),
  );
  const cv = fitChallenger(prior, labels, { seed: 1 });
  expect(cv.cv?.map((c) => c.ridge)).toEqual(RIDGE_GRID);
  expect(RIDGE_GRID).toContain(cv.ridge);
});

test('labels of the wrong shape are refused with what is wrong', () => {
  expect(() =>
    fitChallenger(
      prior,
      [
        { features: [1, 2], gain: 1 },
        { features: [1, 2], gain: 0 },
      ],
      { seed: 1 },
    ),
  ).toThrow(/label 0 has 2 features, feature set v2 has 37/);
  expect(() => fitChallenger(prior, [], { seed: 1 })).toThrow(/at least 2 labels/);
});
