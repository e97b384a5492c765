// Turns what a proxy observed about one request into the number the learner
// fits: the gain, how much the strong tier helped (strong − weak quality, in
// [−1, 1]).
import type { LearningOutcome } from './wire.js';

/** Mean feedback score of each tier on the rule so far (what a tier's answer usually scores). */
export interface TierBaselines {
  cheap: number;
  strong: number;
}

/** Before any feedback: no tier is assumed better than the other. */
export const NEUTRAL_BASELINES: TierBaselines = { cheap: 0.5, strong: 0.5 };

/**
 * The gain of one outcome.
 * - `pairwise`: the judge's verdict is already a gain (both orders combined).
 * - `feedback`: only the tier that served was scored, so the other tier's
 *   score is estimated by its baseline (the mean feedback of that tier on the
 *   rule): served by the cheap tier with score s, gain ≈ baseline(strong) − s;
 *   by the strong tier, gain ≈ s − baseline(cheap). Unbiased for ranking when
 *   the unseen tier's quality varies less between prompts than the seen
 *   one's; noisy either way, so feedback labels count like pairwise ones only
 *   in number, never in weight.
 */
export function gainOf(
  outcome: LearningOutcome,
  baselines: TierBaselines = NEUTRAL_BASELINES,
): number {
  const g =
    outcome.kind === 'pairwise'
      ? outcome.gain
      : outcome.tier === 'cheap'
        ? baselines.strong - outcome.score
        : outcome.score - baselines.cheap;
  return Math.max(-1, Math.min(1, g));
}

/** Running means of feedback scores per tier, starting from NEUTRAL_BASELINES with the weight of `priorCount` answers. */
export class FeedbackBaselines {
  private sums = { cheap: 0, strong: 0 };
  private counts = { cheap: 0, strong: 0 };

  constructor(private readonly priorCount = 10) {}

  observe(outcome: LearningOutcome): void {
    if (outcome.kind !== 'feedback') return;
    this.sums[outcome.tier] += outcome.score;
    this.counts[outcome.tier] += 1;
  }

  current(): TierBaselines {
    const of = (tier: keyof TierBaselines) =>
      (this.sums[tier] + NEUTRAL_BASELINES[tier] * this.priorCount) /
      (this.counts[tier] + this.priorCount);
    return { cheap: of('cheap'), strong: of('strong') };
  }

  toJSON(): { sums: TierBaselines; counts: TierBaselines } {
    return { sums: { ...this.sums }, counts: { ...this.counts } };
  }

  static from(
    state: { sums: TierBaselines; counts: TierBaselines },
    priorCount?: number,
  ): FeedbackBaselines {
    const b = new FeedbackBaselines(priorCount);
    b.sums = { ...state.sums };
    b.counts = { ...state.counts };
    return b;
  }
}
