// How well the learned difficulty router ranks prompts, on RouteLLM's
// published per-prompt results (contaminated prompts removed). It leads with
// what a new route's traffic will see: cross-domain figures (train on some
// domains, test on one never seen) with paired bootstrap 95% intervals against
// the length rule, the heuristic and random on the same prompts, then
// in-sample beside held-out (memorisation shows as the gap), then the older
// within-set protocols, which are in-distribution and flatter a router.
// Prints JSON, then the README's markdown tables.
// Run: npm run bench:router   (ROUTELLM_DATA=<dir> to point elsewhere; --quick: CI sizes)
import { scoreDifficulty as heuristic } from '../src/routing/difficulty/heuristic.js';
import type { Estimate } from '../src/routing/difficulty/learned/bootstrap.js';
import type { Example } from '../src/routing/difficulty/learned/dataset.js';
import {
  evaluateSplits,
  type MetricSummary,
  type RouterRecipe,
  type Summary,
} from '../src/routing/difficulty/learned/evaluate.js';
import { shippedDifficultyModel } from '../src/routing/difficulty/learned/index.js';
import { crossDomainMarkdown } from './cross-domain-markdown.js';
import { crossDomainReport, goals, type ScopeReport } from './cross-domain.js';
import { benchFlags } from './flags.js';
import { FOLDS, ROUTELLM_MMLU, heldOutProtocols, loadRouteLLM } from './routellm-data.js';
import { buildScorerFromFile } from './router-recipe.js';

const { quick } = benchFlags('bench/router-table.ts');
// Not the seed used while choosing the recipe (1); --quick: one seed on a subset.
const SEEDS = quick ? [11] : [11, 12, 13, 14, 15];
// Paired resamples per interval; --quick keeps the code path at CI sizes.
const RESAMPLES = quick ? 50 : 1000;
const data = loadRouteLLM({ quick });
const { mmlu, gsm8k } = data;
const started = Date.now();
const elapsed = () => Math.round((Date.now() - started) / 1000);

const crossDomain = crossDomainReport(
  { mmlu: mmlu.examples, gsm8k: gsm8k.examples },
  {
    train: buildScorerFromFile,
    shipped: shippedDifficultyModel(),
    seeds: SEEDS,
    resamples: RESAMPLES,
    rngSeed: 2026,
  },
);
process.stderr.write(`cross-domain: ${elapsed()} s\n`);

const recipes: Record<string, RouterRecipe> = {
  learned: (train: readonly Example[], test: readonly Example[], seed: number) => {
    const model = buildScorerFromFile(train, seed);
    return test.map((e) => model.score(e.prompt));
  },
  length: (_train, test) => test.map((e) => e.prompt.length),
  heuristic: (_train, test) => test.map((e) => heuristic(e.prompt)),
};
// Within one data set: training and test prompts share its topics and style.
// (The cross-set protocol of heldOutProtocols is measured above, with intervals.)
const withinSet = heldOutProtocols(data, SEEDS).filter((p) =>
  p.splits.every((s) => s.train !== mmlu.examples),
);
const results = withinSet.map((p) => ({ protocol: p.name, ...evaluateSplits(p.splits, recipes) }));
process.stderr.write(`within-set: ${elapsed()} s\n`);

const r3 = (x: number) => Number(x.toFixed(3));
const estimate = (e: Estimate) => ({ point: r3(e.point), lo: r3(e.lo), hi: r3(e.hi) });
const scope = (s: ScopeReport) => ({
  n: s.n,
  learned: estimate(s.learned),
  learnedOverSeeds: { mean: r3(s.learnedOverSeeds.mean), sd: r3(s.learnedOverSeeds.sd) },
  length: estimate(s.length),
  heuristic: estimate(s.heuristic),
  random: { mean: r3(s.random.mean), lo: r3(s.random.lo), hi: r3(s.random.hi) },
  learnedMinus: {
    length: estimate(s.vs.length),
    heuristic: estimate(s.vs.heuristic),
    random: estimate(s.vs.random),
  },
});
const protocol = (p: typeof crossDomain.leaveOneDomainOut) => ({
  protocol: p.protocol,
  resamples: p.resamples,
  scopes: Object.fromEntries(Object.entries(p.scopes).map(([k, s]) => [k, scope(s)])),
});
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
  resamples: RESAMPLES,
  seconds: elapsed(),
  /** APGR figures: point on the data as given, 95% paired bootstrap interval; pooled = mean over domains. */
  crossDomain: protocol(crossDomain.leaveOneDomainOut),
  directions: crossDomain.directions.map(protocol),
  inSample: Object.fromEntries(
    Object.entries(crossDomain.inSample).map(([k, row]) => [
      k,
      {
        n: row.n,
        heldOut: estimate(row.heldOut),
        inSample: estimate(row.inSample),
        gap: estimate(row.gap),
        shipped: estimate(row.shipped),
      },
    ]),
  ),
  goals: goals(crossDomain).map((g) => ({
    ...g,
    apgr: r3(g.apgr),
    overLength: estimate(g.overLength),
  })),
  routellmPublishedMmlu: ROUTELLM_MMLU,
  /** In-distribution (training and test prompts from the same set): mean ± sd over folds × seeds. */
  folds: FOLDS,
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
const withinSetTable = [
  `| within-set protocol (in-distribution; mean ± sd over folds × ${SEEDS.length} seeds) | learned APGR | CPT(50%) | CPT(80%) | strong calls for 95% of strong quality | length rule APGR | heuristic APGR | random APGR |`,
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ...results.map((r) => {
    const m = r.routers;
    const learned = m.learned as MetricSummary;
    return `| ${r.protocol} (test n ≈ ${Math.round(r.testSize.mean)}) | ${cell(learned.apgr)} | ${cell(learned.cpt50, true)} | ${cell(learned.cpt80, true)} | ${cell(learned.strongShareFor95, true)} | ${cell(m.length?.apgr)} | ${cell(m.heuristic?.apgr)} | ${cell(m.random?.apgr)} |`;
  }),
];
process.stdout.write(
  `${crossDomainMarkdown(crossDomain, ROUTELLM_MMLU.apgr)}\n\nWithin one data set (in-distribution):\n\n${withinSetTable.join('\n')}\n`,
);
