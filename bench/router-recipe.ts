// The training recipe as the benchmark runs it: exactly what `modelroute
// router train` does (default options), then the file is validated and
// loaded like the shipped one, so the table measures what ships.
import type { Example } from '../src/routing/difficulty/learned/dataset.js';
import {
  difficultyModelFromJson,
  type DifficultyModel,
} from '../src/routing/difficulty/learned/model.js';
import { serializeModel, trainDifficultyModel } from '../src/routing/difficulty/learned/train.js';

export function buildScorerFromFile(train: readonly Example[], seed: number): DifficultyModel {
  const file = serializeModel(trainDifficultyModel(train, { seed, name: `heldout-seed-${seed}` }));
  return difficultyModelFromJson(JSON.parse(file), 'held-out model');
}
