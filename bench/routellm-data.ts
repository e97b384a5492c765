// RouteLLM's published per-prompt results (contaminated prompts removed) and
// the held-out protocols the router benchmarks run on them.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadExamples, type Example } from '../src/routing/difficulty/learned/dataset.js';
import {
  kFoldByPrompt,
  leaveGroupsOut,
  type Split,
} from '../src/routing/difficulty/learned/evaluate.js';
import { seededRandom } from '../src/routing/random.js';

const DATA =
  process.env.ROUTELLM_DATA ?? new URL('../../shared/data/routellm/', import.meta.url).pathname;
export const FOLDS = 5;
const COLUMNS = { weak: 'mistralai/Mixtral-8x7B-Instruct-v0.1', strong: 'gpt-4-1106-preview' };
/** RouteLLM paper, best MMLU router (matrix factorisation, trained with MMLU-derived labels), as quoted in the data's README. */
export const ROUTELLM_MMLU = { apgr: 0.603, cpt50: 0.354, cpt80: 0.703 };
/** --quick: this many MMLU subjects (leave-subjects-out needs at least FOLDS) and examples per set. */
const QUICK_SUBJECTS = 6;
const QUICK_EXAMPLES = 300;

export interface Dataset {
  examples: Example[];
  excluded: number;
}

export interface RouteLLMData {
  /** Where the examples came from: the data directory, or why it was not used. */
  source: string;
  mmlu: Dataset;
  gsm8k: Dataset;
}

const csvs = (dir: string) =>
  readdirSync(join(DATA, dir))
    .filter((f) => f.endsWith('.csv'))
    .sort()
    .map((f) => join(DATA, dir, f));

/** Every k-th example, so a quick run keeps each subject's share and stays deterministic. */
function thinned(d: Dataset, max: number): Dataset {
  if (d.examples.length <= max) return d;
  const step = d.examples.length / max;
  return {
    examples: Array.from({ length: max }, (_, i) => d.examples[Math.floor(i * step)] as Example),
    excluded: d.excluded,
  };
}

/**
 * Real MMLU subject names, so synthetic groups fall into every domain of
 * domains.ts and the cross-domain protocols have domains to leave out.
 */
const SYNTHETIC_SUBJECTS = [
  'abstract_algebra',
  'philosophy',
  'sociology',
  'nutrition',
  'college_physics',
  'world_religions',
];

/**
 * Prompts with outcomes that depend on their length and wording, in
 * QUICK_SUBJECTS groups: only for --quick where the data is not checked
 * out (CI), so the training and evaluation code still runs end to end.
 */
function synthetic(name: 'mmlu' | 'gsm8k', count: number, seed: number): Dataset {
  const rng = seededRandom(seed);
  const words = ['prove', 'explain', 'list', 'compute', 'integral', 'name', 'why', 'matrix'];
  const examples = Array.from({ length: count }, (_, i) => {
    const length = 3 + Math.floor(rng() * 40);
    const prompt = Array.from({ length }, () => words[Math.floor(rng() * words.length)]).join(' ');
    const hard = length / 43 + (prompt.includes('prove') ? 0.3 : 0);
    return {
      prompt: `${prompt} #${i}`,
      weak: rng() > hard ? 1 : 0,
      strong: rng() > hard / 3 ? 1 : 0,
      group:
        name === 'mmlu'
          ? `mmlu_${SYNTHETIC_SUBJECTS[i % SYNTHETIC_SUBJECTS.length] as string}`
          : `gsm8k_${i % QUICK_SUBJECTS}`,
    };
  });
  return { examples, excluded: 0 };
}

export function loadRouteLLM(options: { quick: boolean }): RouteLLMData {
  if (!existsSync(join(DATA, 'mmlu'))) {
    const reason = `no RouteLLM data at ${DATA} (set ROUTELLM_DATA to its directory)`;
    if (!options.quick) throw new Error(reason);
    process.stderr.write(`${reason}: --quick runs on synthetic examples instead\n`);
    return {
      source: `synthetic (${reason})`,
      mmlu: synthetic('mmlu', QUICK_EXAMPLES, 1),
      gsm8k: synthetic('gsm8k', QUICK_EXAMPLES, 2),
    };
  }
  const mmluFiles = csvs('mmlu');
  const mmlu = loadExamples(
    options.quick ? mmluFiles.slice(0, QUICK_SUBJECTS) : mmluFiles,
    COLUMNS,
    [join(DATA, 'mmlu/contaminated_prompts.jsonl')],
  );
  const gsm8k = loadExamples(csvs('gsm8k'), COLUMNS, [
    join(DATA, 'gsm8k/contaminated_prompts.jsonl'),
  ]);
  return options.quick
    ? {
        source: `${DATA} (--quick: ${QUICK_SUBJECTS} MMLU subjects, at most ${QUICK_EXAMPLES} examples per set)`,
        mmlu: thinned(mmlu, QUICK_EXAMPLES),
        gsm8k: thinned(gsm8k, QUICK_EXAMPLES),
      }
    : { source: DATA, mmlu, gsm8k };
}

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

export function heldOutProtocols(data: RouteLLMData, seeds: readonly number[]): Protocol[] {
  const { mmlu, gsm8k } = data;
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
