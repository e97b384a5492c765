// What leaves a proxy for learning (issue 17), and the shapes the proxy, the
// controller and `router replay` share. Only numbers cross: a request's task
// features (feature set v2: counts and shares, never words) and a label. No
// prompt or answer text is ever part of these shapes. Readers ignore keys
// they do not know (a newer proxy may add some).
import { z } from 'zod';
import { DENSE_FEATURES_V2 } from '../routing/difficulty/learned/features-v2.js';

/** Length of every feature vector: feature set v2's dense features, in their order. */
export const LEARNING_FEATURE_COUNT = DENSE_FEATURES_V2.length;

/** Query parameter of GET /admin/v1/stats: `<epoch>:<seq>` of the last label the reader has. */
export const LABELS_AFTER_PARAM = 'labelsAfter';

/** Labels a proxy keeps for the controller to read (a ring: older ones are dropped and counted). */
export const PROXY_LABEL_RING = 4_096;
/** Labels one stats read returns at most; the reader asks again from the last one. */
export const LABELS_PER_READ = 1_000;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const count = z.int().min(0);

/**
 * How much the strong tier helped on one request, as a proxy observed it:
 * - `pairwise`: the judge compared both tiers' answers in both orders;
 *   gain in [−1, 1] (1: the strong answer won both times, −1: the weak one).
 * - `feedback`: a caller's score in [0, 1] for the answer of the tier that
 *   served it; the learner turns it into a gain estimate.
 */
export const learningOutcome = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('pairwise'), gain: z.number().min(-1).max(1) }),
  z.object({
    kind: z.literal('feedback'),
    tier: z.enum(['cheap', 'strong']),
    score: z.number().min(0).max(1),
  }),
]);
export type LearningOutcome = z.infer<typeof learningOutcome>;

/** One labelled request, as a proxy reports it. */
export const labelledVector = z.object({
  /** Position in the proxy's label sequence (per epoch), for the reader's cursor. */
  seq: count,
  /** `ruleKey(routeId, ruleName)`. */
  rule: z.string().min(1),
  /** Version of the rule's model that routed the request (0: the prior). */
  modelVersion: count,
  /** Feature set v2 of the prompt, LEARNING_FEATURE_COUNT numbers. */
  features: z.array(finite).length(LEARNING_FEATURE_COUNT),
  outcome: learningOutcome,
  /** Epoch ms when the label was made. */
  atMs: count,
});
export type LabelledVector = z.infer<typeof labelledVector>;

/** Cumulative counters per rule (since the proxy started); the controller takes deltas. */
export const ruleLearningCounters = z.object({
  /** Requests sampled for shadow judging. */
  sampled: count,
  /** Shadow requests sent to the other tier. */
  shadowCalls: count,
  /** Judge requests sent (two per judged sample: both orders). */
  judgeCalls: count,
  /** Samples that ended without a label (a shadow or judge call failed, or an unreadable verdict). */
  judgeFailures: count,
  /** Samples dropped because the shadow queue was full. */
  shadowDropped: count,
  /** Samples skipped because the day's maxShadowCostPerDay was spent. */
  overBudget: count,
  /** USD spent on shadow and judge calls. */
  costUsd: z.number().min(0),
  /** Feedback accepted. */
  feedbackAccepted: count,
  /** Feedback refused (unknown, expired, repeated or another caller's request id). */
  feedbackRefused: count,
  /** Labels made (pairwise and feedback). */
  labels: count,
});
export type RuleLearningCounters = z.infer<typeof ruleLearningCounters>;

export function emptyLearningCounters(): RuleLearningCounters {
  return {
    sampled: 0,
    shadowCalls: 0,
    judgeCalls: 0,
    judgeFailures: 0,
    shadowDropped: 0,
    overBudget: 0,
    costUsd: 0,
    feedbackAccepted: 0,
    feedbackRefused: 0,
    labels: 0,
  };
}

/** The `learning` member of a proxy's /admin/v1/stats. */
export const proxyLearningStats = z.object({
  /** Random id of this proxy process: a new epoch restarts `seq` at 0. */
  epoch: z.string().min(1),
  /** The seq the next label will get. */
  nextSeq: count,
  /** Labels after the reader's cursor (all kept ones if its epoch is not this one), oldest first, at most LABELS_PER_READ. */
  labels: z.array(labelledVector),
  /** Labels dropped from the ring before anyone read them, cumulative. */
  droppedLabels: count,
  /** Per rule key. */
  rules: z.record(z.string(), ruleLearningCounters),
});
export type ProxyLearningStats = z.infer<typeof proxyLearningStats>;

/** `<epoch>:<seq>` for LABELS_AFTER_PARAM. */
export function labelsCursor(epoch: string, seq: number): string {
  return `${epoch}:${seq}`;
}
