import { difficultyModelFromJson } from '../routing/difficulty/learned/model.js';
import {
  MAX_STATE_BYTES,
  RuleLearner,
  RuleLearnerStateError,
  type LearnerLabel,
} from './rule-learner.js';
import { shippedPrior, syntheticLabels } from './__fixtures__/labels.js';

const prior = shippedPrior();

function labels(n: number, seed: number, signal = 1): LearnerLabel[] {
  return syntheticLabels(n, seed, signal).map((l, i) => ({
    features: l.features,
    outcome: { kind: 'pairwise', gain: l.gain },
    atMs: i,
  }));
}

function learner(extra: Partial<ConstructorParameters<typeof RuleLearner>[0]> = {}): RuleLearner {
  let now = 1_000;
  return new RuleLearner({
    prior,
    minLabels: 100,
    retrainEvery: 100,
    seed: 7,
    now: () => now++,
    resamples: 300,
    ...extra,
  });
}

test('it retrains when enough labels came, promotes a challenger that beats the prior on held-out labels, and numbers versions', () => {
  const l = learner();
  l.add(labels(99, 1));
  expect(l.due()).toBe(false);
  expect(l.champion()).toBeUndefined();
  l.add(labels(201, 2));
  expect(l.due()).toBe(true);
  const report = l.retrain();
  expect(report).toMatchObject({
    promoted: true,
    version: 1,
    trainLabels: 240,
    heldOut: { labels: 60 },
  });
  expect(report.heldOut.challenger as number).toBeGreaterThan(report.heldOut.prior as number);
  expect(report.reason).toMatch(/^challenger promoted: .*\[95% \+/);
  expect(l.due()).toBe(false);
  const champion = l.champion();
  expect(champion?.version).toBe(1);
  expect(() => difficultyModelFromJson(champion?.file, 'champion')).not.toThrow();
  expect(l.version(0)).toBeUndefined();
  expect(l.version(1)?.file.checksum).toBe(champion?.file.checksum);
  expect(l.summary()).toMatchObject({
    labels: 300,
    labelsTotal: 300,
    retrains: 1,
    promotions: 1,
    latestVersion: 1,
    heldOut: report.heldOut,
    lastRetrainAtMs: report.atMs,
  });
});

test('on labels with no signal the champion stays, saying why', () => {
  const l = learner();
  l.add(labels(400, 3, 0));
  const report = l.retrain();
  expect(report.promoted).toBe(false);
  expect(report.version).toBeUndefined();
  expect(report.reason).toMatch(/^champion kept: /);
  expect(l.champion()).toBeUndefined();
  expect(l.summary().promotions).toBe(0);
});

test('the window keeps the newest labels; only the last few promoted versions are kept', () => {
  const l = learner({ window: 200, keepVersions: 2, minLabels: 100, retrainEvery: 200 });
  // The route's traffic flips between two opposite rules: each challenger beats the champion.
  for (let round = 0; round < 4; round++) {
    l.add(labels(200, 20 + round, round % 2 === 0 ? 1 : -1));
    expect(l.retrain()).toMatchObject({ promoted: true, version: round + 1 });
  }
  expect(l.summary()).toMatchObject({
    labels: 200,
    labelsTotal: 800,
    promotions: 4,
    latestVersion: 4,
    versions: [3, 4],
  });
  expect(l.version(2)).toBeUndefined();
  expect(l.version(3)?.version).toBe(3);
  expect(l.champion()?.version).toBe(4);
});

test('the state survives JSON and a restart: the restored learner retrains exactly like the original', () => {
  const a = learner();
  a.add(labels(300, 5));
  a.retrain();
  a.add(labels(150, 6));
  const text = JSON.stringify(a.toState());
  const b = RuleLearner.fromState(JSON.parse(text), {
    prior,
    minLabels: 100,
    retrainEvery: 100,
    seed: 7,
    now: () => 5_000,
    resamples: 300,
  });
  expect(b.summary()).toEqual(a.summary());
  expect(b.champion()).toEqual(a.champion());
  expect(b.due()).toBe(a.due());
  const ra = a.retrain();
  const rb = b.retrain();
  expect({ ...rb, atMs: 0 }).toEqual({ ...ra, atMs: 0 });
  expect(b.champion()?.file.checksum).toBe(a.champion()?.file.checksum);
});

test('a full 2,000-label window stores in less than 512 KB of JSON', () => {
  const l = learner({ window: 2_000, minLabels: 200 });
  l.add(labels(2_100, 8));
  l.retrain();
  const bytes = Buffer.byteLength(JSON.stringify(l.toState()));
  expect(l.summary().labels).toBe(2_000);
  expect(bytes).toBeLessThanOrEqual(MAX_STATE_BYTES);
});

test('bad labels and bad states are refused with what is wrong', () => {
  const l = learner();
  expect(() =>
    l.add([{ features: [1, 2, 3], outcome: { kind: 'pairwise', gain: 1 }, atMs: 0 }]),
  ).toThrow(/label 0: 3 features, feature set v2 has 37/);
  const good = labels(1, 1)[0] as LearnerLabel;
  expect(() => l.add([{ ...good, outcome: { kind: 'pairwise', gain: 3 } }])).toThrow(
    /label 0: bad outcome/,
  );
  expect(l.summary().labelsTotal).toBe(0);
  const options = { prior, minLabels: 100, seed: 1, now: () => 0 };
  expect(() => RuleLearner.fromState({ kind: 'x' }, options)).toThrow(RuleLearnerStateError);
  expect(() => RuleLearner.fromState({ kind: 'x' }, options)).toThrow(
    /not a rule learner state: kind: .*delete it/,
  );
  const a = learner();
  a.add(labels(300, 5));
  a.retrain();
  const state = a.toState();
  expect(() =>
    RuleLearner.fromState({ ...state, window: { ...state.window, count: 7 } }, options),
  ).toThrow(/window.features holds \d+ values, 7 labels × 37 features expected/);
  expect(() => RuleLearner.fromState({ ...state, featureSet: 'fs2-00000000' }, options)).toThrow(
    /features of fs2-00000000, this build computes/,
  );
  expect(() => RuleLearner.fromState({ ...state, latestVersion: 9 }, options)).toThrow(
    /version 9, is not among the stored versions/,
  );
  const file = state.versions[0]?.file;
  if (file)
    expect(() =>
      RuleLearner.fromState(
        { ...state, versions: [{ ...state.versions[0], file: { ...file, bias: file.bias + 1 } }] },
        options,
      ),
    ).toThrow(/stored version 1: checksum mismatch/);
});
