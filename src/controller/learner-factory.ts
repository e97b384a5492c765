// The learners the controller (and local mode) runs for rules with
// costQuality.learning: src/learning's RuleLearner, warm-started from the
// shipped difficulty model, the prior every proxy scores with until a rule's
// own model is promoted. Seeded from the rule key, so a rule retrains the
// same way on every controller.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { RuleLearner } from '../learning/rule-learner.js';
import { SHIPPED_MODEL_URL } from '../routing/difficulty/learned/index.js';
import {
  difficultyModelFileV2,
  type DifficultyModelFileV2,
} from '../routing/difficulty/learned/model.js';
import type { LearnerFactory, LearnerSettings } from './rule-learning-record.js';

let shipped: DifficultyModelFileV2 | undefined;
function shippedPrior(): DifficultyModelFileV2 {
  shipped ??= difficultyModelFileV2.parse(JSON.parse(readFileSync(SHIPPED_MODEL_URL, 'utf8')));
  return shipped;
}

const seedOf = (rule: string): number => createHash('sha256').update(rule).digest().readUInt32LE(0);

export function defaultLearnerFactory(
  options: { prior?: DifficultyModelFileV2; now?: () => number } = {},
): LearnerFactory {
  const settings = (rule: string, s: LearnerSettings) => ({
    prior: options.prior ?? shippedPrior(),
    minLabels: s.minLabels,
    seed: seedOf(rule),
    now: options.now ?? Date.now,
  });
  return {
    create: (rule, s) => new RuleLearner(settings(rule, s)),
    restore: (rule, state, s) => RuleLearner.fromState(state, settings(rule, s)),
  };
}
