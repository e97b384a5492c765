// Synthetic labelled prompts for the learning tests: real prompts (so feature
// set v2 and its quantitative gate see what they would in traffic), with the
// strong tier helping on short chatty ones and not on numbered lists: the
// opposite of what the shipped prior expects, so learning has to show.
import { readFileSync } from 'node:fs';
import {
  FeatureBufferV2,
  extractFeaturesV2,
} from '../../routing/difficulty/learned/features-v2.js';
import { SHIPPED_MODEL_URL } from '../../routing/difficulty/learned/index.js';
import {
  difficultyModelFileV2,
  type DifficultyModelFileV2,
} from '../../routing/difficulty/learned/model.js';
import { seededRandom } from '../../routing/random.js';

export function shippedPrior(): DifficultyModelFileV2 {
  return difficultyModelFileV2.parse(JSON.parse(readFileSync(SHIPPED_MODEL_URL, 'utf8')));
}

export interface SyntheticLabel {
  prompt: string;
  features: Float64Array;
  gain: number;
}

const WORDS = ['river', 'market', 'theory', 'garden', 'signal', 'history', 'engine', 'policy'];

/** `n` prompts; `signal` 1: the strong tier helps exactly on prompts without a list (with 10% noise), −1: exactly on list prompts, 0: gains are coin flips. */
export function syntheticLabels(n: number, seed: number, signal = 1): SyntheticLabel[] {
  const rng = seededRandom(seed);
  const buffer = new FeatureBufferV2();
  return Array.from({ length: n }, (_, i) => {
    const list = rng() < 0.4;
    const words = Array.from(
      { length: 5 + Math.floor(rng() * 30) },
      () => WORDS[Math.floor(rng() * WORDS.length)],
    ).join(' ');
    const prompt = list
      ? `Item ${i}. Consider the following:\n1. ${words}\n2. ${words}\n3. the rest\nWhich is right?`
      : `Item ${i}: tell me about the ${words}.`;
    extractFeaturesV2(prompt, buffer);
    const noisy = rng() < 0.1;
    const helps = signal === 0 ? rng() < 0.5 : (signal === 1 ? !list : list) !== noisy;
    return { prompt, features: Float64Array.from(buffer.dense), gain: helps ? 1 : 0 };
  });
}
