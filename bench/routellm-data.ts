// RouteLLM's published per-prompt results (contaminated prompts removed) and
// the held-out protocols the router benchmarks run on them.
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadExamples, type Example } from '../src/routing/difficulty/learned/dataset.js';
import {
  kFoldByPrompt,
  leaveGroupsOut,
  type Split,
} from '../src/routing/difficulty/learned/evaluate.js';

const DATA =
  process.env.ROUTELLM_DATA ?? new URL('../../shared/data/routellm/', import.meta.url).pathname;
export const FOLDS = 5;
const COLUMNS = { weak: 'mistralai/Mixtral-8x7B-Instruct-v0.1', strong: 'gpt-4-1106-preview' };
/** RouteLLM paper, best MMLU router (matrix factorisation, trained with MMLU-derived labels), as quoted in the data's README. */
export const ROUTELLM_MMLU = { apgr: 0.603, cpt50: 0.354, cpt80: 0.703 };

const csvs = (dir: string) =>
  readdirSync(join(DATA, dir))
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => join(DATA, dir, f));
export const mmlu = loadExamples(csvs('mmlu'), COLUMNS, [
  join(DATA, 'mmlu/contaminated_prompts.jsonl'),
]);
export const gsm8k = loadExamples(csvs('gsm8k'), COLUMNS, [
  join(DATA, 'gsm8k/contaminated_prompts.jsonl'),
]);

export interface Protocol {
  name: string;
  splits: Split[];
  /**
   * How a nested selection splits a training part: the same way the protocol
   * splits the data (unseen subjects for unseen subjects, and for the
   * cross-domain protocol, where the test domain is unseen too).
   */
  inner: (train: readonly Example[], seed: number) => Split[];
}

const INNER_FOLDS = 3;
const byPrompt = (train: readonly Example[], seed: number) =>
  kFoldByPrompt(train, INNER_FOLDS, seed);
const bySubject = (train: readonly Example[], seed: number) =>
  leaveGroupsOut(train, INNER_FOLDS, seed);

export function heldOutProtocols(seeds: readonly number[]): Protocol[] {
  return [
    {
      name: 'MMLU, 5-fold by prompt',
      splits: seeds.flatMap((s) => kFoldByPrompt(mmlu.examples, FOLDS, s)),
      inner: byPrompt,
    },
    {
      name: 'MMLU, leave subjects out (5 folds of subjects)',
      splits: seeds.flatMap((s) => leaveGroupsOut(mmlu.examples, FOLDS, s)),
      inner: bySubject,
    },
    {
      name: 'GSM8K, 5-fold by prompt',
      splits: seeds.flatMap((s) => kFoldByPrompt(gsm8k.examples, FOLDS, s)),
      inner: byPrompt,
    },
    {
      name: 'trained on MMLU, tested on GSM8K',
      splits: seeds.map((seed) => ({ seed, fold: 0, train: mmlu.examples, test: gsm8k.examples })),
      inner: bySubject,
    },
  ];
}
