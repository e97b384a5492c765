// One learning rule as the leader keeps it (issue 17): the learner, which
// labels of which proxy process it already has (labels are read again after
// a leader change, and must count once), the proxies' cumulative counters as
// last seen (their deltas are the cost of learning), and what the last
// retraining decided. It is stored whole in the rule's ConfigMap.
import { z } from 'zod';
import type { LearningStatus } from '../api/v1alpha1/index.js';
import type { LabelledVector, RuleLearningCounters } from '../learning/wire.js';
import { emptyLearningCounters, ruleLearningCounters } from '../learning/wire.js';
import type { LearnedModel } from '../routing/compile.js';

/** What the controller needs of a rule's learner (src/learning's RuleLearner). */
export interface RuleLearnerPort {
  add(labels: readonly LabelledVector[]): void;
  /** Enough new labels since the last retraining. */
  due(): boolean;
  retrain(): RetrainOutcome;
  /** The promoted model in use; undefined: the prior. */
  champion(): LearnedModel | undefined;
  /** A kept version (for pins and rollbacks); undefined when not kept or 0. */
  version(v: number): LearnedModel | undefined;
  summary(): { labels: number; labelsTotal: number; promotions: number; latestVersion: number };
  toState(): unknown;
}

export interface RetrainOutcome {
  promoted: boolean;
  version?: number | undefined;
  heldOut: {
    labels: number;
    champion: number | null;
    challenger: number | null;
    prior: number | null;
  };
  /** A sentence with the paired bootstrap interval. */
  reason: string;
}

export interface LearnerSettings {
  minLabels: number;
}

/** Makes and restores learners; restore throws a clear error for a state it cannot use. */
export interface LearnerFactory {
  create(rule: string, settings: LearnerSettings): RuleLearnerPort;
  restore(rule: string, state: unknown, settings: LearnerSettings): RuleLearnerPort;
}

const count = z.int().min(0);
/** Proxy processes remembered per rule; the least recently seen beyond it are forgotten. */
const MAX_EPOCHS = 1_024;
const EPOCH_RETENTION_MS = 7 * 24 * 3_600_000;

const storedRecord = z.object({
  format: z.literal(1),
  learner: z.unknown(),
  /** Per proxy process (epoch): the last label seq taken and its counters as last seen. */
  epochs: z.record(
    z.string(),
    z.object({ seq: z.int().min(-1), seenMs: count, counters: ruleLearningCounters.optional() }),
  ),
  totals: ruleLearningCounters,
  lastTrainedMs: count.optional(),
  lastPromotedMs: count.optional(),
  lastDecision: z.string().max(512).optional(),
  heldOut: z
    .object({ labels: count, champion: z.number().nullable(), prior: z.number().nullable() })
    .optional(),
});
export type StoredRuleLearning = z.infer<typeof storedRecord>;

export const ZERO_COUNTERS: Readonly<RuleLearningCounters> = emptyLearningCounters();
const COUNTER_NAMES = Object.keys(ZERO_COUNTERS) as (keyof RuleLearningCounters)[];

/** `current − previous`, or all of `current` when a counter went down (another process). */
function counterDelta(
  current: RuleLearningCounters,
  previous: RuleLearningCounters | undefined,
): RuleLearningCounters {
  const reset = previous === undefined || COUNTER_NAMES.some((k) => current[k] < previous[k]);
  const out = { ...ZERO_COUNTERS };
  for (const k of COUNTER_NAMES) out[k] = reset ? current[k] : current[k] - (previous[k] ?? 0);
  return out;
}

const round = (x: number, digits: number): number => Number(x.toFixed(digits));
const rfc3339 = (ms: number | undefined): string | undefined =>
  ms === undefined ? undefined : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

export class RuleLearningRecord {
  private epochs = new Map<
    string,
    { seq: number; seenMs: number; counters?: RuleLearningCounters }
  >();
  private totals: RuleLearningCounters = { ...ZERO_COUNTERS };
  private lastTrainedMs: number | undefined;
  private lastPromotedMs: number | undefined;
  private lastDecision: string | undefined;
  private heldOut: StoredRuleLearning['heldOut'];
  /** Changed since it was last stored. */
  dirty = false;

  private constructor(
    readonly rule: string,
    readonly learner: RuleLearnerPort,
  ) {}

  static create(rule: string, learner: RuleLearnerPort): RuleLearningRecord {
    return new RuleLearningRecord(rule, learner);
  }

  /** Reads a stored record back; throws, saying why, when it cannot be used. */
  static restore(
    rule: string,
    stored: unknown,
    factory: LearnerFactory,
    settings: LearnerSettings,
  ): RuleLearningRecord {
    const parsed = storedRecord.safeParse(stored);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `learning state of ${rule} is not readable: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`,
      );
    }
    const s = parsed.data;
    const record = new RuleLearningRecord(rule, factory.restore(rule, s.learner, settings));
    record.epochs = new Map(Object.entries(s.epochs));
    record.totals = s.totals;
    record.lastTrainedMs = s.lastTrainedMs;
    record.lastPromotedMs = s.lastPromotedMs;
    record.lastDecision = s.lastDecision;
    record.heldOut = s.heldOut;
    return record;
  }

  /**
   * Takes one proxy process's labels for this rule (those it has not taken
   * yet) and its cumulative counters; returns how many labels were new.
   */
  absorb(
    epoch: string,
    labels: readonly LabelledVector[],
    counters: RuleLearningCounters | undefined,
    nowMs: number,
  ): number {
    const seen = this.epochs.get(epoch) ?? { seq: -1, seenMs: nowMs };
    const fresh = labels.filter((l) => l.seq > seen.seq);
    if (fresh.length > 0) {
      this.learner.add(fresh);
      seen.seq = Math.max(...fresh.map((l) => l.seq));
      this.dirty = true;
    }
    if (counters) {
      const delta = counterDelta(counters, seen.counters);
      if (COUNTER_NAMES.some((k) => delta[k] !== 0)) this.dirty = true;
      for (const k of COUNTER_NAMES) this.totals[k] += delta[k];
      seen.counters = counters;
    }
    seen.seenMs = nowMs;
    this.epochs.delete(epoch); // re-inserted last: least recently seen first
    this.epochs.set(epoch, seen);
    this.forgetOldEpochs(nowMs);
    return fresh.length;
  }

  private forgetOldEpochs(nowMs: number): void {
    for (const [epoch, e] of this.epochs)
      if (this.epochs.size > MAX_EPOCHS || nowMs - e.seenMs > EPOCH_RETENTION_MS)
        this.epochs.delete(epoch);
      else break;
  }

  /** Retrains when the learner has enough new labels; undefined when it had not. */
  retrainIfDue(nowMs: number): RetrainOutcome | undefined {
    if (!this.learner.due()) return undefined;
    const outcome = this.learner.retrain();
    this.lastTrainedMs = nowMs;
    if (outcome.promoted) this.lastPromotedMs = nowMs;
    this.lastDecision = outcome.reason.slice(0, 512);
    const { labels, prior } = outcome.heldOut;
    // The model in use after the decision: the challenger if it was promoted.
    const inUse = outcome.promoted ? outcome.heldOut.challenger : outcome.heldOut.champion;
    this.heldOut = { labels, champion: inUse, prior };
    this.dirty = true;
    return outcome;
  }

  /** The model to push: the pinned version (0: the prior), else the champion. */
  served(pinnedVersion: number | undefined): LearnedModel | undefined {
    if (pinnedVersion === undefined) return this.learner.champion();
    if (pinnedVersion === 0) return undefined;
    return this.learner.version(pinnedVersion) ?? this.learner.champion();
  }

  status(ruleName: string, pinnedVersion: number | undefined): LearningStatus {
    const summary = this.learner.summary();
    const served = this.served(pinnedVersion);
    const version = served?.version ?? 0;
    const pinnedMissing =
      pinnedVersion !== undefined && pinnedVersion !== 0 && served?.version !== pinnedVersion;
    const apgrs =
      this.heldOut?.champion != null && this.heldOut.prior != null
        ? ` ${this.heldOut.champion.toFixed(2)}/${this.heldOut.prior.toFixed(2)}`
        : '';
    const name = version === 0 ? 'prior' : `v${version}`;
    const status: LearningStatus = {
      rule: ruleName,
      model: `${name}${pinnedVersion !== undefined ? ' pinned' : ''}${apgrs} (${summary.labels} labels)`,
      modelVersion: version,
      pinned: pinnedVersion !== undefined,
      latestVersion: summary.latestVersion,
      labels: summary.labels,
      labelsTotal: summary.labelsTotal,
      promotions: summary.promotions,
      costUSD: round(this.totals.costUsd, 6),
      shadowCalls: this.totals.shadowCalls,
      feedback: this.totals.feedbackAccepted,
    };
    if (this.heldOut) {
      status.heldOut = { labels: this.heldOut.labels };
      if (this.heldOut.champion !== null) status.heldOut.champion = round(this.heldOut.champion, 4);
      if (this.heldOut.prior !== null) status.heldOut.prior = round(this.heldOut.prior, 4);
    }
    const decision = pinnedMissing
      ? `pinnedVersion ${pinnedVersion} is not kept; serving ${name} instead (set a version the learner keeps, or 0 for the prior)`
      : this.lastDecision;
    if (decision !== undefined) status.lastDecision = decision.slice(0, 512);
    const trained = rfc3339(this.lastTrainedMs);
    if (trained) status.lastTrainedTime = trained;
    const promoted = rfc3339(this.lastPromotedMs);
    if (promoted) status.lastPromotedTime = promoted;
    return status;
  }

  toStored(): StoredRuleLearning {
    const stored: StoredRuleLearning = {
      format: 1,
      learner: this.learner.toState(),
      epochs: Object.fromEntries(this.epochs),
      totals: this.totals,
    };
    if (this.lastTrainedMs !== undefined) stored.lastTrainedMs = this.lastTrainedMs;
    if (this.lastPromotedMs !== undefined) stored.lastPromotedMs = this.lastPromotedMs;
    if (this.lastDecision !== undefined) stored.lastDecision = this.lastDecision;
    if (this.heldOut !== undefined) stored.heldOut = this.heldOut;
    return stored;
  }
}
