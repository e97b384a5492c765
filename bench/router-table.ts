// Held-out evaluation of the learned difficulty router on RouteLLM's published
// per-prompt results (contaminated prompts removed), with the baselines scored
// on the same test folds. Prints JSON, then the README's markdown table.
// Run: npm run bench:router   (ROUTELLM_DATA=<dir> to point elsewhere; --quick: CI sizes)
import { scoreDifficulty as heuristic } from '../src/routing/difficulty/heuristic.js';
import type { Example } from '../src/routing/difficulty/learned/dataset.js';
import {
  evaluateSplits,
  type MetricSummary,
  type RouterRecipe,
  type Summary,
} from '../src/routing/difficulty/learned/evaluate.js';
import { benchFlags } from './flags.js';
import { FOLDS, ROUTELLM_MMLU, heldOutProtocols, loadRouteLLM } from './routellm-data.js';
import { buildScorerFromFile } from './router-recipe.js';

const { quick } = benchFlags('bench/router-table.ts');
// Not the seed used while choosing the recipe (1); --quick: one seed on a subset.
const SEEDS = quick ? [11] : [11, 12, 13, 14, 15];
const data = loadRouteLLM({ quick });
const { mmlu, gsm8k } = data;

const recipes: Record<string, RouterRecipe> = {
  learned: (train: readonly Example[], test: readonly Example[], seed: number) => {
    const model = buildScorerFromFile(train, seed);
    return test.map((e) => model.score(e.prompt));
  },
  length: (_train, test) => test.map((e) => e.prompt.length),
  heuristic: (_train, test) => test.map((e) => heuristic(e.prompt)),
};

const protocols = heldOutProtocols(data, SEEDS);

const started = Date.now();
const results = protocols.map((p) => ({ protocol: p.name, ...evaluateSplits(p.splits, recipes) }));
const r3 = (x: number) => Number(x.toFixed(3));
const json = {
  benchmark: 'difficulty-router-heldout',
  quick,
  data: {
    source: data.source,
    mmlu: mmlu.examples.length,
    mmluExcluded: mmlu.excluded,
    gsm8k: gsm8k.examples.length,
    gsm8kExcluded: gsm8k.excluded,
  },
  seeds: SEEDS,
  folds: FOLDS,
  seconds: Math.round((Date.now() - started) / 1000),
  routellmPublishedMmlu: ROUTELLM_MMLU,
  results: results.map((r) => ({
    protocol: r.protocol,
    splits: r.splits,
    testSize: r3(r.testSize.mean),
    routers: Object.fromEntries(
      Object.entries(r.routers).map(([name, m]) => [
        name,
        Object.fromEntries(
          (Object.entries(m) as Array<[string, Summary]>).map(([k, s]) => [
            k,
            { mean: r3(s.mean), sd: r3(s.sd) },
          ]),
        ),
      ]),
    ),
  })),
};
process.stdout.write(`${JSON.stringify(json, null, 2)}\n\n`);

const cell = (s: Summary | undefined, pct = false) =>
  s === undefined || !Number.isFinite(s.mean)
    ? 'n/a'
    : pct
      ? `${(s.mean * 100).toFixed(1)}% ± ${(s.sd * 100).toFixed(1)}`
      : `${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)}`;
const lines = [
  `| held-out protocol (mean ± sd over folds × ${SEEDS.length} seeds) | learned APGR | CPT(50%) | CPT(80%) | strong calls for 95% of strong quality | length rule APGR | heuristic APGR | random APGR | RouteLLM published APGR |`,
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...results.map((r) => {
    const m = r.routers;
    const learned = m.learned as MetricSummary;
    const published = r.protocol.startsWith('MMLU') ? String(ROUTELLM_MMLU.apgr) : '—';
    return `| ${r.protocol} (test n ≈ ${Math.round(r.testSize.mean)}) | ${cell(learned.apgr)} | ${cell(learned.cpt50, true)} | ${cell(learned.cpt80, true)} | ${cell(learned.strongShareFor95, true)} | ${cell(m.length?.apgr)} | ${cell(m.heuristic?.apgr)} | ${cell(m.random?.apgr)} | ${published} |`;
  }),
];
process.stdout.write(`${lines.join('\n')}\n`);
