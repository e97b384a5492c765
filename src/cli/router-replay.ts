// `modelroute router replay`: labelled prompts, in seeded random order,
// through the StrongShareCalibrator the proxy runs (the class itself, not a
// copy), to see what a route's strongShare would give on that traffic; with
// --feedback-rate, through the route learning loop (src/learning) instead.
import { readFileSync } from 'node:fs';
import { replayLearning } from '../learning/replay.js';
import { SHIPPED_MODEL_URL } from '../routing/difficulty/learned/index.js';
import {
  replayStrongShare,
  shuffledStream,
} from '../routing/difficulty/calibration/share-replay.js';
import { StrongShareCalibrator } from '../routing/difficulty/calibration/strong-share-calibrator.js';
import type { Example } from '../routing/difficulty/learned/dataset.js';
import {
  difficultyModelFileV2,
  difficultyModelFromJson,
  type DifficultyModel,
  type DifficultyModelFileV2,
} from '../routing/difficulty/learned/model.js';
import { strongShareThreshold } from '../routing/compile.js';
import { seededRandom } from '../routing/random.js';
import type { CommandIO } from './validate.js';

export interface ReplaySettings {
  targetStrongShare: number;
  seed: number;
  warmup: number;
  window: number;
  /** Stream length; default one shuffled pass over the prompts. */
  requests: number | undefined;
  excluded: number;
  json: boolean;
}

export function replayCommand(
  io: CommandIO,
  model: DifficultyModel,
  examples: readonly Example[],
  settings: ReplaySettings,
): number {
  const { targetStrongShare, warmup, window } = settings;
  const scored = examples.map((e) => ({
    score: model.score(e.prompt),
    weak: e.weak,
    strong: e.strong,
  }));
  const stream = shuffledStream(
    scored,
    seededRandom(settings.seed),
    settings.requests ?? scored.length,
  );
  // A fresh proxy: the table's threshold is the model calibration's prior.
  const calibrator = new StrongShareCalibrator({
    targetStrongShare,
    fleetThreshold: strongShareThreshold(targetStrongShare),
  });
  const result = replayStrongShare(stream, calibrator, { targetStrongShare, warmup, window });
  if (result.windows === 0)
    io.err(
      `router replay: ${stream.length} requests leave no full ${window}-request window after a warm-up of ${warmup}: max_window_error is null (--requests ${warmup + window} or more replays the prompts in further shuffled passes)`,
    );
  const report = { model: model.name, seed: settings.seed, excluded: settings.excluded, ...result };
  if (settings.json) {
    io.out(JSON.stringify(report));
    return 0;
  }
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  io.out(
    `${report.model}, strongShare ${pct(targetStrongShare)}, ${report.n} requests (seed ${report.seed}, ${settings.excluded} prompts excluded)`,
  );
  io.out(
    `after ${warmup} requests of warm-up: ${pct(report.realized_strong_share)} went strong; worst ${window}-request window off by ${pct(report.max_window_error)} (${report.windows} windows)`,
  );
  io.out(
    `quality ${report.quality} (best fixed split of the same prompts at that share: ${report.offline_quality_at_share}; weak ${report.weak_quality}, strong ${report.strong_quality}); APGR of the scores ${report.apgr}`,
  );
  return 0;
}

export interface LearningReplaySettings {
  feedbackRate: number;
  /** Share of the stream at its end that yields no labels and is measured. */
  evalShare: number;
  seed: number;
  minLabels: number;
  window: number;
  heldOutShare: number;
  retrainEvery: number | undefined;
  excluded: number;
  json: boolean;
}

/**
 * `--model` as a format-2 file for the learner (its raw weights are what a
 * challenger warm-starts from); an error message when it is not one.
 */
export function readModelFileV2(spec: string): DifficultyModelFileV2 | string {
  const source = spec === 'shipped' ? SHIPPED_MODEL_URL : spec;
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(source, 'utf8'));
  } catch (err) {
    return `${spec}: cannot read the difficulty model: ${(err as Error).message}`;
  }
  try {
    difficultyModelFromJson(json, spec);
  } catch (err) {
    return (err as Error).message;
  }
  const parsed = difficultyModelFileV2.safeParse(json);
  return parsed.success
    ? parsed.data
    : `${spec}: --feedback-rate learns from a format-2 model (feature set v2); retrain this one with \`modelroute router train\``;
}

/** `router replay --feedback-rate R`: the learning loop over the data as a stream. */
export function learningReplayCommand(
  io: CommandIO,
  prior: DifficultyModelFileV2,
  examples: readonly Example[],
  settings: LearningReplaySettings,
): number {
  const stream = shuffledStream(examples, seededRandom(settings.seed));
  const evalFrom = stream.length - Math.max(1, Math.round(stream.length * settings.evalShare));
  if (evalFrom < 1) {
    io.err(
      `router replay: ${stream.length} prompts leave none to label before the evaluation tail (--eval-share ${settings.evalShare})`,
    );
    return 1;
  }
  const { result } = replayLearning(stream, {
    prior,
    feedbackRate: settings.feedbackRate,
    seed: settings.seed,
    evalFrom,
    learner: {
      minLabels: settings.minLabels,
      window: settings.window,
      heldOutShare: settings.heldOutShare,
      ...(settings.retrainEvery !== undefined ? { retrainEvery: settings.retrainEvery } : {}),
    },
  });
  const report = {
    model: prior.name,
    seed: settings.seed,
    excluded: settings.excluded,
    feedback_rate: settings.feedbackRate,
    eval_share: settings.evalShare,
    ...result,
  };
  if (settings.json) {
    io.out(JSON.stringify(report));
    return 0;
  }
  io.out(
    `${report.model}, ${report.n} requests (seed ${report.seed}, ${settings.excluded} prompts excluded): labels from the first ${report.labelled_part} at rate ${settings.feedbackRate}, measured on the last ${report.eval_n} (no labels from them)`,
  );
  for (const r of result.reports)
    io.out(
      `  retrain on ${r.trainLabels} labels: ${r.reason}${r.promoted ? ` (version ${r.version})` : ''}`,
    );
  io.out(`labels ${report.labels}`);
  io.out(
    `promotions ${report.promotions} (champion: version ${report.champion_version}, 0 = the prior)`,
  );
  io.out(`apgr_prior ${report.apgr_prior ?? 'n/a'}`);
  io.out(`apgr_adapted ${report.apgr_adapted ?? 'n/a'}`);
  io.out(`longest retrain ${report.retrain_cpu_ms_max ?? 'n/a'} ms of CPU`);
  return 0;
}
