// cost-quality: send easy prompts to cheap backends and hard ones to strong
// backends. Difficulty (0..1) and backend quality (0..1) share one scale.
import { blendedPrice } from '../cost.js';
import type { Candidate, StrategyContext } from './candidate.js';

export interface CostQualityChoice {
  difficulty: number;
  threshold?: number | undefined;
  /** cheap: the cheapest backend leads; strong: the strongest leads; sufficient: the cheapest whose quality >= difficulty. */
  tier: 'cheap' | 'strong' | 'sufficient';
}

const quality = (c: Candidate) => c.backend.quality ?? 0;

function byCostThenStronger(a: Candidate, b: Candidate): number {
  return (
    blendedPrice(a.backend) - blendedPrice(b.backend) ||
    quality(b) - quality(a) ||
    a.index - b.index
  );
}

function byQualityThenCheaper(a: Candidate, b: Candidate): number {
  return (
    quality(b) - quality(a) ||
    blendedPrice(a.backend) - blendedPrice(b.backend) ||
    a.index - b.index
  );
}

/**
 * With a threshold: difficulty below it → cheapest first (then by cost);
 * at or above → strongest first (then by quality).
 * Without: the cheapest backend whose quality is at least the difficulty
 * leads, then the other sufficient ones by cost, then the rest by quality.
 */
export function costQualityOrder(
  tier: readonly Candidate[],
  ctx: StrategyContext,
): { order: Candidate[]; choice: CostQualityChoice } {
  const difficulty = ctx.difficulty ? ctx.difficulty() : ctx.facts.difficulty();
  const { threshold } = ctx;
  if (threshold !== undefined) {
    const strong = difficulty >= threshold;
    const order = [...tier].sort(strong ? byQualityThenCheaper : byCostThenStronger);
    return { order, choice: { difficulty, threshold, tier: strong ? 'strong' : 'cheap' } };
  }
  const sufficient = tier.filter((c) => quality(c) >= difficulty).sort(byCostThenStronger);
  const insufficient = tier.filter((c) => quality(c) < difficulty).sort(byQualityThenCheaper);
  return {
    order: [...sufficient, ...insufficient],
    choice: { difficulty, tier: sufficient.length > 0 ? 'sufficient' : 'strong' },
  };
}
