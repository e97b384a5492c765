// One rule's learning loop, the same code in the controller, `modelroute dev`
// and `modelroute router replay`: a bounded window of the rule's most recent
// labels; when enough new ones arrived, a challenger is trained on the older
// part of the window (warm-started from the prior) and compared with the
// champion on the most recent part, which it never saw; it is promoted only if
// the paired bootstrap interval of the APGR difference lies above 0. Promoted
// versions are numbered 1, 2, … (0 is the prior) and the last few are kept for
// pinning and rollback. The whole state serialises to a few hundred KB of JSON
// (toState/fromState), so it fits one ConfigMap.
import { z } from 'zod';
import {
  difficultyModelFileV2,
  difficultyModelFromJson,
  type DifficultyModelFileV2,
} from '../routing/difficulty/learned/model.js';
import { featureSetIdV2 } from '../routing/difficulty/learned/features-v2.js';
import { seededRandom } from '../routing/random.js';
import { fitChallenger, rawScoreOfFile } from './challenger.js';
import { FeedbackBaselines, gainOf } from './gain.js';
import { decidePromotion, type HeldOutReport } from './promotion.js';
import { LabelWindow } from './window.js';
import { LEARNING_FEATURE_COUNT, learningOutcome, type LearningOutcome } from './wire.js';

export const DEFAULT_WINDOW = 2_000;
export const DEFAULT_HELD_OUT_SHARE = 0.2;
export const DEFAULT_KEEP_VERSIONS = 5;
/** JSON of a full window's state stays under this (a ConfigMap holds 1 MiB). */
export const MAX_STATE_BYTES = 512 * 1024;
export const STATE_KIND = 'modelroute.io/rule-learner';
export const STATE_VERSION = 1;

export interface RuleLearnerOptions {
  /** Version 0: the model the proxies score with when nothing was promoted. */
  prior: DifficultyModelFileV2;
  /** Labels in the window before the first retrain. */
  minLabels: number;
  /** Labels kept (the most recent; default 2,000). */
  window?: number;
  /** Share of the window, the most recent labels, held out of training to decide promotion (default 0.2). */
  heldOutShare?: number;
  /** New labels between retrains (default a tenth of the window, at least 1). */
  retrainEvery?: number;
  seed: number;
  now: () => number;
  /** Bootstrap resamples of a promotion decision (default 1,000). */
  resamples?: number;
  /** Promoted versions kept for pin and rollback (default 5). */
  keepVersions?: number;
  /** Ridge strength of the challenger (default `cv`: chosen on the training labels). */
  ridge?: number | 'cv';
}

/** What `add` accepts: a proxy's labelled vector, or the same three fields. */
export interface LearnerLabel {
  features: ArrayLike<number>;
  outcome: LearningOutcome;
  atMs: number;
}

export interface ModelVersion {
  version: number;
  file: DifficultyModelFileV2;
}

export interface RetrainReport {
  promoted: boolean;
  /** The new version, when promoted. */
  version?: number;
  /** Labels the challenger was trained on. */
  trainLabels: number;
  heldOut: HeldOutReport;
  /** The challenger's ridge strength (null: only the prior's order kept). */
  ridge: number | null;
  reason: string;
  atMs: number;
}

export interface LearnerSummary {
  /** Labels in the window now. */
  labels: number;
  /** Labels ever added. */
  labelsTotal: number;
  retrains: number;
  promotions: number;
  /** The champion's version (0: the prior). */
  latestVersion: number;
  /** Promoted versions still kept (for pin and rollback), oldest first. */
  versions: number[];
  /** The last retrain's held-out figures, if any. */
  heldOut?: HeldOutReport;
  lastReason?: string;
  lastRetrainAtMs?: number;
}

const heldOutReport = z.strictObject({
  labels: z.int().min(0),
  champion: z.number().nullable(),
  challenger: z.number().nullable(),
  prior: z.number().nullable(),
  difference: z.strictObject({ point: z.number(), lo: z.number(), hi: z.number() }).nullable(),
});

const tierPair = z.strictObject({ cheap: z.number().min(0), strong: z.number().min(0) });

export const ruleLearnerState = z.strictObject({
  kind: z.literal(STATE_KIND),
  stateVersion: z.literal(STATE_VERSION),
  featureSet: z.string().min(1),
  /** Checksum of the prior the versions were trained from (informative: a new prior keeps the labels). */
  prior: z.string(),
  labelsTotal: z.int().min(0),
  retrains: z.int().min(0),
  promotions: z.int().min(0),
  newSinceRetrain: z.int().min(0),
  latestVersion: z.int().min(0),
  window: z.strictObject({
    count: z.int().min(0),
    features: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
    gains: z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64'),
  }),
  baselines: z.strictObject({ sums: tierPair, counts: tierPair }),
  versions: z.array(
    z.strictObject({
      version: z.int().min(1),
      promotedAtMs: z.int().min(0),
      file: difficultyModelFileV2,
    }),
  ),
  last: z
    .strictObject({
      atMs: z.int().min(0),
      promoted: z.boolean(),
      reason: z.string(),
      heldOut: heldOutReport,
    })
    .optional(),
});
export type RuleLearnerState = z.infer<typeof ruleLearnerState>;

/** A stored state that cannot be used; the message says what is wrong. */
export class RuleLearnerStateError extends Error {
  override name = 'RuleLearnerStateError';
}

interface StoredVersion extends ModelVersion {
  promotedAtMs: number;
}

function positiveInt(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new Error(`RuleLearner: ${name} must be a whole number ≥ ${min}, not ${value}`);
  return value;
}

export class RuleLearner {
  private readonly prior: DifficultyModelFileV2;
  private readonly minLabels: number;
  private readonly heldOutShare: number;
  private readonly retrainEvery: number;
  private readonly seed: number;
  private readonly now: () => number;
  private readonly resamples: number | undefined;
  private readonly keepVersions: number;
  private readonly ridge: number | 'cv';
  private window: LabelWindow;
  private baselines = new FeedbackBaselines();
  private versions: StoredVersion[] = [];
  private labelsTotal = 0;
  private retrains = 0;
  private promotions = 0;
  private newSinceRetrain = 0;
  private latestVersion = 0;
  private last: RuleLearnerState['last'];

  constructor(options: RuleLearnerOptions) {
    this.prior = options.prior;
    const capacity = positiveInt('window', options.window ?? DEFAULT_WINDOW, 3);
    this.minLabels = positiveInt('minLabels', options.minLabels, 3);
    this.heldOutShare = options.heldOutShare ?? DEFAULT_HELD_OUT_SHARE;
    if (!(this.heldOutShare > 0 && this.heldOutShare < 1))
      throw new Error(
        `RuleLearner: heldOutShare must be between 0 and 1, not ${this.heldOutShare}`,
      );
    this.retrainEvery = positiveInt(
      'retrainEvery',
      options.retrainEvery ?? Math.max(1, Math.round(capacity / 10)),
      1,
    );
    this.seed = options.seed;
    this.now = options.now;
    this.resamples = options.resamples;
    this.keepVersions = positiveInt(
      'keepVersions',
      options.keepVersions ?? DEFAULT_KEEP_VERSIONS,
      1,
    );
    this.ridge = options.ridge ?? 'cv';
    this.window = new LabelWindow(capacity);
  }

  /** Adds labels in arrival order; throws (adding none) if one has the wrong number of features or a bad outcome. */
  add(labels: readonly LearnerLabel[]): void {
    labels.forEach((l, i) => {
      if (l.features.length !== LEARNING_FEATURE_COUNT)
        throw new Error(
          `label ${i}: ${l.features.length} features, feature set v2 has ${LEARNING_FEATURE_COUNT}`,
        );
      for (let j = 0; j < l.features.length; j++)
        if (!Number.isFinite(l.features[j]))
          throw new Error(`label ${i}: feature ${j} is not a finite number`);
      const parsed = learningOutcome.safeParse(l.outcome);
      if (!parsed.success)
        throw new Error(`label ${i}: bad outcome: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
    });
    for (const l of labels) {
      const gain = gainOf(l.outcome, this.baselines.current());
      this.baselines.observe(l.outcome);
      this.window.push(l.features, gain);
      this.labelsTotal++;
      this.newSinceRetrain++;
    }
  }

  /** Enough labels in the window, and enough new ones since the last retrain. */
  due(): boolean {
    return this.window.length >= this.minLabels && this.newSinceRetrain >= this.retrainEvery;
  }

  /** Trains a challenger on the window's older labels and decides on the most recent ones. */
  retrain(): RetrainReport {
    const all = this.window.all();
    const held = Math.max(1, Math.round(all.length * this.heldOutShare));
    const train = all.slice(0, all.length - held);
    const test = all.slice(all.length - held);
    const atMs = this.now();
    if (train.length < 2)
      throw new Error(
        `RuleLearner: ${all.length} labels leave ${train.length} to train on; wait for minLabels (due() says when)`,
      );
    const round = this.retrains;
    const candidate = this.latestVersion + 1;
    const challenger = fitChallenger(this.prior, train, {
      seed: mix(this.seed, round),
      ridge: this.ridge,
      name: `${this.prior.name}-v${candidate}`,
      calibrationFeatures: all.map((l) => l.features),
    });
    const champion = this.champion()?.file ?? this.prior;
    const scores = (file: DifficultyModelFileV2) =>
      Float64Array.from(test, (l) => rawScoreOfFile(file, l.features));
    const decision = decidePromotion({
      gains: test.map((l) => l.gain),
      champion: scores(champion),
      challenger: scores(challenger.file),
      prior: scores(this.prior),
      rng: seededRandom(mix(this.seed ^ 0x5bd1e995, round)),
      ...(this.resamples !== undefined ? { resamples: this.resamples } : {}),
    });
    this.retrains++;
    this.newSinceRetrain = 0;
    if (decision.promote) {
      this.latestVersion = candidate;
      this.promotions++;
      this.versions.push({ version: candidate, file: challenger.file, promotedAtMs: atMs });
      if (this.versions.length > this.keepVersions)
        this.versions.splice(0, this.versions.length - this.keepVersions);
    }
    this.last = {
      atMs,
      promoted: decision.promote,
      reason: decision.reason,
      heldOut: decision.heldOut,
    };
    return {
      promoted: decision.promote,
      ...(decision.promote ? { version: candidate } : {}),
      trainLabels: train.length,
      heldOut: decision.heldOut,
      ridge: Number.isFinite(challenger.ridge) ? challenger.ridge : null,
      reason: decision.reason,
      atMs,
    };
  }

  /** The latest promoted version; undefined while the prior is in use. */
  champion(): ModelVersion | undefined {
    return this.version(this.latestVersion);
  }

  /** A kept version (for pin and rollback); undefined for 0 (the prior) or one no longer kept. */
  version(v: number): ModelVersion | undefined {
    const found = this.versions.find((s) => s.version === v);
    return found && { version: found.version, file: found.file };
  }

  /** Versions still kept, oldest first. */
  keptVersions(): number[] {
    return this.versions.map((v) => v.version);
  }

  summary(): LearnerSummary {
    return {
      labels: this.window.length,
      labelsTotal: this.labelsTotal,
      retrains: this.retrains,
      promotions: this.promotions,
      latestVersion: this.latestVersion,
      versions: this.keptVersions(),
      ...(this.last
        ? {
            heldOut: this.last.heldOut,
            lastReason: this.last.reason,
            lastRetrainAtMs: this.last.atMs,
          }
        : {}),
    };
  }

  toState(): RuleLearnerState {
    return {
      kind: STATE_KIND,
      stateVersion: STATE_VERSION,
      featureSet: featureSetIdV2(),
      prior: this.prior.checksum,
      labelsTotal: this.labelsTotal,
      retrains: this.retrains,
      promotions: this.promotions,
      newSinceRetrain: this.newSinceRetrain,
      latestVersion: this.latestVersion,
      window: this.window.encode(),
      baselines: this.baselines.toJSON(),
      versions: this.versions.map((v) => ({
        version: v.version,
        promotedAtMs: v.promotedAtMs,
        file: v.file,
      })),
      ...(this.last ? { last: this.last } : {}),
    };
  }

  /**
   * A learner continuing from a stored state (options as for the constructor;
   * the window capacity may differ: the newest labels are kept). Throws
   * RuleLearnerStateError saying what is wrong with a state that cannot be used.
   */
  static fromState(state: unknown, options: RuleLearnerOptions): RuleLearner {
    const parsed = ruleLearnerState.safeParse(state);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new RuleLearnerStateError(
        `not a rule learner state: ${issue?.path.join('.') || '(root)'}: ${issue?.message}; delete it to start learning afresh from the prior`,
      );
    }
    const s = parsed.data;
    if (s.featureSet !== featureSetIdV2())
      throw new RuleLearnerStateError(
        `the stored labels are features of ${s.featureSet}, this build computes ${featureSetIdV2()}: they cannot be reused; delete the state to start learning afresh`,
      );
    const learner = new RuleLearner(options);
    try {
      learner.window = LabelWindow.decode(s.window, learner.window.capacity);
    } catch (err) {
      throw new RuleLearnerStateError(`bad rule learner state: ${(err as Error).message}`);
    }
    for (const v of s.versions)
      try {
        difficultyModelFromJson(v.file, `stored version ${v.version}`);
      } catch (err) {
        throw new RuleLearnerStateError(`bad rule learner state: ${(err as Error).message}`);
      }
    if (s.latestVersion > 0 && !s.versions.some((v) => v.version === s.latestVersion))
      throw new RuleLearnerStateError(
        `bad rule learner state: the champion, version ${s.latestVersion}, is not among the stored versions`,
      );
    learner.baselines = FeedbackBaselines.from(s.baselines);
    learner.versions = s.versions.slice(-learner.keepVersions);
    learner.labelsTotal = s.labelsTotal;
    learner.retrains = s.retrains;
    learner.promotions = s.promotions;
    learner.newSinceRetrain = s.newSinceRetrain;
    learner.latestVersion = s.latestVersion;
    learner.last = s.last;
    return learner;
  }
}

/** A 32-bit seed from a base seed and a round number. */
function mix(seed: number, round: number): number {
  return (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(round + 1, 0xc2b2ae35)) >>> 0;
}
