// The learned router with its recipe chosen by nested cross-validation: for
// every held-out split, each candidate recipe of model v2 (ridge × length prior)
// is scored on inner folds of the training part only, split the way the
// protocol splits (unseen subjects for unseen subjects), and the best one is
// trained on the whole training part and scored on the test part. Beside it,
// on the same splits: the fixed recipe the product ships (chosen while looking
// at seed 1 of these protocols) and the length rule. If the two learned
// columns agree, choosing the recipe did not flatter the published table.
// Prints JSON, then a markdown table. Run: npm run bench:router-nested (minutes; --quick: CI sizes)
import {
  evaluateSplits,
  nestedRecipe,
  type RecipeCandidate,
  type RouterRecipe,
  type Summary,
} from '../src/routing/difficulty/learned/evaluate.js';
import { benchFlags } from './flags.js';
import { heldOutProtocols, loadRouteLLM } from './routellm-data.js';
import { buildScorerFromFile } from './router-recipe.js';

const { quick } = benchFlags('bench/router-nested.ts');
// --quick: one seed, two candidates, on a subset (the selection still runs on inner folds).
const SEEDS = quick ? [11] : [11, 12];
const RIDGES = quick ? [0.1] : [0.01, 0.1, 1];
const LENGTH_PRIORS = quick ? [0, 0.5] : [0, 0.25, 0.5, 1];
const data = loadRouteLLM({ quick });

const learned =
  (options: { ridge?: number; lengthPrior?: number } = {}): RouterRecipe =>
  (train, test, seed) => {
    const model = buildScorerFromFile(train, seed, options);
    return test.map((e) => model.score(e.prompt));
  };

const candidates: RecipeCandidate[] = RIDGES.flatMap((ridge) =>
  LENGTH_PRIORS.map((lengthPrior) => ({
    name: `ridge ${ridge}, lengthPrior ${lengthPrior}`,
    recipe: learned({ ridge, lengthPrior }),
  })),
);

const started = Date.now();
const r3 = (x: number) => Number(x.toFixed(3));
const summary = (s: Summary) => ({ mean: r3(s.mean), sd: r3(s.sd) });
const results = heldOutProtocols(data, SEEDS).map((protocol) => {
  const choices: Record<string, number> = {};
  const result = evaluateSplits(protocol.splits, {
    nested: nestedRecipe(candidates, protocol.inner, (name) => {
      choices[name] = (choices[name] ?? 0) + 1;
    }),
    shipped: learned(),
    length: (_train, test) => test.map((e) => e.prompt.length),
  });
  process.stderr.write(`${protocol.name}: ${Math.round((Date.now() - started) / 1000)} s\n`);
  return {
    protocol: protocol.name,
    splits: result.splits,
    apgr: Object.fromEntries(
      Object.entries(result.routers).map(([name, m]) => [name, summary(m.apgr)]),
    ),
    choices,
  };
});

process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'difficulty-router-nested-selection',
      quick,
      data: data.source,
      seeds: SEEDS,
      candidates: candidates.map((c) => c.name),
      seconds: Math.round((Date.now() - started) / 1000),
      results,
    },
    null,
    2,
  )}\n\n`,
);
const cell = (s: { mean: number; sd: number } | undefined) =>
  s ? `${s.mean.toFixed(3)} ± ${s.sd.toFixed(3)}` : 'n/a';
process.stdout.write(
  [
    '| held-out protocol (folds × 2 seeds) | learned, recipe by nested CV | learned, shipped recipe | length rule | recipes the inner folds chose |',
    '| --- | ---: | ---: | ---: | --- |',
    ...results.map(
      (r) =>
        `| ${r.protocol} | ${cell(r.apgr.nested)} | ${cell(r.apgr.shipped)} | ${cell(r.apgr.length)} | ${Object.entries(
          r.choices,
        )
          .sort((a, b) => b[1] - a[1])
          .map(([name, n]) => `${name} (${n})`)
          .join('; ')} |`,
    ),
  ].join('\n') + '\n',
);
