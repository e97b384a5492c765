// The training recipe as the benchmarks run it: exactly what `modelroute
// router train` does (model v2, the shipped recipe unless options say
// otherwise), then the file is validated and loaded like the shipped one, so
// the tables measure what ships.
import type { Example } from '../src/routing/difficulty/learned/dataset.js';
import {
  difficultyModelFromJson,
  type DifficultyModel,
} from '../src/routing/difficulty/learned/model.js';
import { serializeModel } from '../src/routing/difficulty/learned/train.js';
import {
  featureMatrixV2,
  trainDifficultyModelV2,
  type FeatureMatrixV2,
  type TrainOptionsV2,
} from '../src/routing/difficulty/learned/train-v2.js';

// Candidates of a nested selection train on the same inner folds: extract their features once.
const featuresOf = new WeakMap<readonly Example[], FeatureMatrixV2>();
function features(train: readonly Example[]): FeatureMatrixV2 {
  let x = featuresOf.get(train);
  if (!x) {
    x = featureMatrixV2(train.map((e) => e.prompt));
    featuresOf.set(train, x);
  }
  return x;
}

export function buildScorerFromFile(
  train: readonly Example[],
  seed: number,
  options: Partial<TrainOptionsV2> = {},
): DifficultyModel {
  const file = serializeModel(
    trainDifficultyModelV2(
      train,
      { ...options, seed, name: `heldout-seed-${seed}` },
      features(train),
    ),
  );
  return difficultyModelFromJson(JSON.parse(file), 'held-out model');
}
