// Learning over a labelled data set played as a stream (what `modelroute
// router replay --feedback-rate R` and bench/learning.ts run): each prompt
// before the evaluation tail yields a label with probability R (seeded), its
// gain taken from the data's weak and strong columns, and goes to a
// RuleLearner, which retrains and promotes as it would in the controller. The
// tail yields no labels: the prior and the champion at the end of the labelled
// part are both measured on it.
import type { Example } from '../routing/difficulty/learned/dataset.js';
import { FeatureBufferV2, extractFeaturesV2 } from '../routing/difficulty/learned/features-v2.js';
import type { DifficultyModelFileV2 } from '../routing/difficulty/learned/model.js';
import { routerMetrics } from '../routing/difficulty/learned/metrics.js';
import { seededRandom } from '../routing/random.js';
import { rawScoreOfFile } from './challenger.js';
import { RuleLearner, type RetrainReport, type RuleLearnerOptions } from './rule-learner.js';

/** Synthetic clock of a replay: one request per second from 0. */
const MS_PER_REQUEST = 1000;

export interface LearningReplayOptions {
  prior: DifficultyModelFileV2;
  /** Share of requests before the tail that yield a label, 0..1. */
  feedbackRate: number;
  seed: number;
  /** Index of the stream where the evaluation tail starts. */
  evalFrom: number;
  /** Learner settings (prior, seed and clock come from the replay). */
  learner: Omit<RuleLearnerOptions, 'prior' | 'seed' | 'now'>;
}

export interface LearningReplayResult {
  n: number;
  /** Requests before the tail (where labels come from). */
  labelled_part: number;
  eval_n: number;
  labels: number;
  retrains: number;
  promotions: number;
  /** The champion's version at the end of the labelled part (0: the prior). */
  champion_version: number;
  /** APGR on the tail of the prior's and the final champion's scores. */
  apgr_prior: number | null;
  apgr_adapted: number | null;
  /** The longest retrain, CPU milliseconds (user + system). */
  retrain_cpu_ms_max: number | null;
  reports: RetrainReport[];
}

export interface LearningReplayRun {
  result: LearningReplayResult;
  /** The tail, and the raw scores of the prior and of the final champion on it (for intervals). */
  tail: Example[];
  priorScores: Float64Array;
  adaptedScores: Float64Array;
  learner: RuleLearner;
}

const r4 = (x: number | null) => (x === null ? null : Number(x.toFixed(4)));

/** Plays `stream` (already in its seeded order) through a RuleLearner. */
export function replayLearning(
  stream: readonly Example[],
  options: LearningReplayOptions,
): LearningReplayRun {
  const { evalFrom, feedbackRate } = options;
  if (!(feedbackRate >= 0 && feedbackRate <= 1))
    throw new Error(`the feedback rate must be between 0 and 1, not ${feedbackRate}`);
  if (!Number.isSafeInteger(evalFrom) || evalFrom < 0 || evalFrom >= stream.length)
    throw new Error(
      `the evaluation tail must start inside the stream of ${stream.length} requests, not at ${evalFrom}`,
    );
  let clock = 0;
  const learner = new RuleLearner({
    ...options.learner,
    prior: options.prior,
    seed: options.seed,
    now: () => clock,
  });
  const draw = seededRandom((options.seed ^ 0x27d4eb2d) >>> 0);
  const buffer = new FeatureBufferV2();
  const features = (prompt: string) => {
    extractFeaturesV2(prompt, buffer);
    return Float64Array.from(buffer.dense);
  };
  const reports: RetrainReport[] = [];
  let cpuMax: number | null = null;
  let labels = 0;
  for (let i = 0; i < evalFrom; i++) {
    clock = i * MS_PER_REQUEST;
    if (draw() >= feedbackRate) continue;
    const e = stream[i] as Example;
    const gain = Math.max(-1, Math.min(1, e.strong - e.weak));
    learner.add([
      { features: features(e.prompt), outcome: { kind: 'pairwise', gain }, atMs: clock },
    ]);
    labels++;
    if (learner.due()) {
      const before = process.cpuUsage();
      reports.push(learner.retrain());
      const used = process.cpuUsage(before);
      cpuMax = Math.max(cpuMax ?? 0, (used.user + used.system) / 1000);
    }
  }
  const tail = stream.slice(evalFrom);
  const tailFeatures = tail.map((e) => features(e.prompt));
  const adapted = learner.champion()?.file ?? options.prior;
  const priorScores = Float64Array.from(tailFeatures, (x) => rawScoreOfFile(options.prior, x));
  const adaptedScores = Float64Array.from(tailFeatures, (x) => rawScoreOfFile(adapted, x));
  const summary = learner.summary();
  return {
    result: {
      n: stream.length,
      labelled_part: evalFrom,
      eval_n: tail.length,
      labels,
      retrains: summary.retrains,
      promotions: summary.promotions,
      champion_version: summary.latestVersion,
      apgr_prior: r4(routerMetrics(priorScores, tail).apgr),
      apgr_adapted: r4(routerMetrics(adaptedScores, tail).apgr),
      retrain_cpu_ms_max: cpuMax === null ? null : Math.round(cpuMax),
      reports,
    },
    tail,
    priorScores,
    adaptedScores,
    learner,
  };
}
