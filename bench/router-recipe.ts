// The training recipe as the benchmarks run it: exactly what `modelroute
// router train` does (default options unless given), then the file is
// validated and loaded like the shipped one, so the tables measure what ships.
import type { Example } from '../src/routing/difficulty/learned/dataset.js';
import {
  difficultyModelFromJson,
  type DifficultyModel,
} from '../src/routing/difficulty/learned/model.js';
import {
  featureMatrix,
  serializeModel,
  trainDifficultyModel,
  type FeatureMatrix,
  type TrainOptions,
} from '../src/routing/difficulty/learned/train.js';

// Candidates of a nested selection train on the same inner folds: extract their features once.
const featuresOf = new WeakMap<readonly Example[], FeatureMatrix>();
function features(train: readonly Example[]): FeatureMatrix {
  let x = featuresOf.get(train);
  if (!x) {
    x = featureMatrix(train.map((e) => e.prompt));
    featuresOf.set(train, x);
  }
  return x;
}

export function buildScorerFromFile(
  train: readonly Example[],
  seed: number,
  options: Partial<TrainOptions> = {},
): DifficultyModel {
  const file = serializeModel(
    trainDifficultyModel(
      train,
      { ...options, seed, name: `heldout-seed-${seed}` },
      undefined,
      features(train),
    ),
  );
  return difficultyModelFromJson(JSON.parse(file), 'held-out model');
}
