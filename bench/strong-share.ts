// What `strongShare` delivers on traffic the threshold was not calibrated on:
// RouteLLM's MMLU and GSM8K prompts scored by the shipped model, streamed in
// seeded random order (each set alone, and two mixtures whose composition
// changes half-way), through the live StrongShareCalibrator the proxy runs
// and, on the same streams, through today's fixed threshold (the model
// calibration's 1 − share). For each: the realised share after a warm-up of
// 500, the worst |realised − target| over every 1,000-request window (goal
// ≤ 0.03), the APGR of the scores, and the share of the quality gap the
// decisions recovered beside the best fixed split of the same prompts at the
// same share (what the feedback costs). Prints JSON, then a markdown table.
// Run: npm run bench:strong-share   (seconds; --quick: CI sizes, synthetic data without the checkout)
import {
  fixedThreshold,
  halfwayShift,
  replayStrongShare,
  shuffledStream,
  type ReplayResult,
  type ScoredOutcome,
  type ThresholdPolicy,
} from '../src/routing/difficulty/calibration/share-replay.js';
import { StrongShareCalibrator } from '../src/routing/difficulty/calibration/strong-share-calibrator.js';
import type { Example } from '../src/routing/difficulty/learned/dataset.js';
import { shippedDifficultyModel } from '../src/routing/difficulty/learned/index.js';
import { strongShareThreshold } from '../src/routing/compile.js';
import { seededRandom } from '../src/routing/random.js';
import { benchFlags } from './flags.js';
import { loadRouteLLM } from './routellm-data.js';

const { quick } = benchFlags('bench/strong-share.ts');
const SEEDS = quick ? [1] : [1, 2, 3];
const TARGETS = [0.1, 0.2, 0.5];
const GOAL = 0.03;
const WARMUP = 500;
const WINDOW = 1_000;
/** GSM8K has ~1,300 prompts: shuffled passes make streams long enough for many windows. */
const LONG = quick ? 2_000 : 5_000;
const MIXED = quick ? 3_000 : 10_000;

const started = Date.now();
const data = loadRouteLLM({ quick });
const model = shippedDifficultyModel();
const scored = (examples: readonly Example[]): ScoredOutcome[] =>
  examples.map((e) => ({ score: model.score(e.prompt), weak: e.weak, strong: e.strong }));
const mmlu = scored(data.mmlu.examples);
const gsm8k = scored(data.gsm8k.examples);

const streams: Record<string, (rng: () => number) => ScoredOutcome[]> = {
  mmlu: (rng) => shuffledStream(mmlu, rng, Math.max(mmlu.length, LONG)),
  gsm8k: (rng) => shuffledStream(gsm8k, rng, LONG),
  'mmlu, then gsm8k': (rng) => halfwayShift(mmlu, gsm8k, rng, MIXED, 1, 0),
  'mmlu/gsm8k 80/20, then 20/80': (rng) => halfwayShift(mmlu, gsm8k, rng, MIXED, 0.8, 0.2),
};

const r4 = (x: number) => Number(x.toFixed(4));
const meanOf = (rs: ReplayResult[], key: keyof ReplayResult) => {
  const xs = rs.map((r) => r[key]).filter((x): x is number => typeof x === 'number');
  return xs.length === 0 ? null : r4(xs.reduce((a, b) => a + b, 0) / xs.length);
};
const maxOf = (rs: ReplayResult[], key: keyof ReplayResult) => {
  const xs = rs.map((r) => r[key]).filter((x): x is number => typeof x === 'number');
  return xs.length === 0 ? null : r4(Math.max(...xs));
};
const summary = (rs: ReplayResult[]) => ({
  realized_strong_share: meanOf(rs, 'realized_strong_share'),
  max_window_error: maxOf(rs, 'max_window_error'),
  apgr: meanOf(rs, 'apgr'),
  pgr: meanOf(rs, 'pgr'),
  offline_pgr: meanOf(rs, 'offline_pgr'),
});

const results = Object.entries(streams).flatMap(([stream, make]) =>
  TARGETS.map((target) => {
    const runs = { live: [] as ReplayResult[], fixed: [] as ReplayResult[] };
    for (const seed of SEEDS) {
      const items = make(seededRandom(seed));
      const options = { targetStrongShare: target, warmup: WARMUP, window: WINDOW };
      const policies: Record<keyof typeof runs, ThresholdPolicy> = {
        live: new StrongShareCalibrator({
          targetStrongShare: target,
          fleetThreshold: strongShareThreshold(target),
        }),
        fixed: fixedThreshold(strongShareThreshold(target)),
      };
      for (const name of ['live', 'fixed'] as const)
        runs[name].push(replayStrongShare(items, policies[name], options));
    }
    return {
      stream,
      target,
      n: runs.live[0]?.n ?? 0,
      live: summary(runs.live),
      fixed: summary(runs.fixed),
    };
  }),
);

const worst = (which: 'live' | 'fixed') =>
  Math.max(...results.map((r) => r[which].max_window_error ?? Infinity));
process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'strong-share-calibration',
      quick,
      data: data.source,
      model: model.name,
      seeds: SEEDS,
      warmup: WARMUP,
      window: WINDOW,
      goal: `|realised − target| ≤ ${GOAL} in every ${WINDOW}-request window after ${WARMUP}`,
      goal_met: worst('live') <= GOAL,
      worst_window_error: { live: r4(worst('live')), fixed: r4(worst('fixed')) },
      seconds: Math.round((Date.now() - started) / 1000),
      results,
    },
    null,
    2,
  )}\n\n`,
);
const cell = (x: number | null) => (x === null ? 'n/a' : x.toFixed(3));
process.stdout.write(
  [
    `| stream (${SEEDS.length} seeds) | target | realised live / fixed | worst window live / fixed | PGR live / best fixed split at that share | APGR |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
    ...results.map(
      (r) =>
        `| ${r.stream} | ${r.target} | ${cell(r.live.realized_strong_share)} / ${cell(r.fixed.realized_strong_share)} | ${cell(r.live.max_window_error)} / ${cell(r.fixed.max_window_error)} | ${cell(r.live.pgr)} / ${cell(r.live.offline_pgr)} | ${cell(r.live.apgr)} |`,
    ),
  ].join('\n') + '\n',
);
