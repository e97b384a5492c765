// Champion/challenger: a retrained model replaces the one in use only when it
// ranks the held-out recent labels better by a margin the labels support: the
// paired bootstrap interval (95%) of APGR(challenger) − APGR(champion) on the
// same resampled labels must lie above 0. Otherwise the champion stays.
import {
  apgrDifference,
  bootstrapApgr,
  type Estimate,
} from '../routing/difficulty/learned/bootstrap.js';
import { routerMetrics } from '../routing/difficulty/learned/metrics.js';

export const DEFAULT_PROMOTION_RESAMPLES = 1000;

export interface HeldOutReport {
  /** Held-out labels the decision was made on. */
  labels: number;
  /** APGR on them (null: undefined, the strong tier did not help on average). */
  champion: number | null;
  challenger: number | null;
  prior: number | null;
  /** APGR(challenger) − APGR(champion) with its paired 95% bootstrap interval. */
  difference: { point: number; lo: number; hi: number } | null;
}

export interface PromotionDecision {
  promote: boolean;
  heldOut: HeldOutReport;
  /** One sentence a person reads in a log line or an Event. */
  reason: string;
}

export interface PromotionInput {
  /** Gains of the held-out labels. */
  gains: readonly number[];
  /** Raw scores of each model on those labels (same order). */
  champion: ArrayLike<number>;
  challenger: ArrayLike<number>;
  prior: ArrayLike<number>;
  rng: () => number;
  resamples?: number;
}

const r4 = (x: number) => Number(x.toFixed(4));
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(3)}`;

export function decidePromotion(input: PromotionInput): PromotionDecision {
  const examples = input.gains.map((g) => ({ weak: 0, strong: g }));
  const apgr = (scores: ArrayLike<number>) => {
    const a = examples.length > 0 ? routerMetrics(scores, examples).apgr : null;
    return a === null ? null : r4(a);
  };
  const heldOut: HeldOutReport = {
    labels: examples.length,
    champion: apgr(input.champion),
    challenger: apgr(input.challenger),
    prior: apgr(input.prior),
    difference: null,
  };
  if (heldOut.champion === null || heldOut.challenger === null)
    return {
      promote: false,
      heldOut,
      reason: `champion kept: APGR is undefined on the ${examples.length} held-out labels (the strong tier did not help on average there), so no model can be shown better`,
    };
  const b = bootstrapApgr(
    [
      {
        name: 'held-out',
        examples,
        routers: { champion: input.champion, challenger: input.challenger },
      },
    ],
    { rng: input.rng, resamples: input.resamples ?? DEFAULT_PROMOTION_RESAMPLES },
  );
  if (b.resamples === 0)
    return {
      promote: false,
      heldOut,
      reason: `champion kept: no bootstrap resample of the ${examples.length} held-out labels had a positive gain`,
    };
  const d: Estimate = apgrDifference(b, 'challenger', 'champion', 'held-out');
  heldOut.difference = { point: r4(d.point), lo: r4(d.lo), hi: r4(d.hi) };
  const figures = `held-out APGR ${heldOut.challenger.toFixed(3)} vs ${heldOut.champion.toFixed(3)} on ${examples.length} labels, difference ${signed(d.point)} [95% ${signed(d.lo)}, ${signed(d.hi)}]`;
  return d.lo > 0
    ? { promote: true, heldOut, reason: `challenger promoted: ${figures}` }
    : {
        promote: false,
        heldOut,
        reason: `champion kept: ${figures}; the interval does not lie above 0`,
      };
}
