// cost-quality: send easy prompts to cheap backends and hard ones to strong
// backends. Difficulty (0..1) and backend quality (0..1) share one scale.
import { blendedPrice } from '../cost.js';
import type { CompiledBackend } from '../table.js';
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

/**
 * The backends that lead each tier of a cost-quality rule's first priority
 * tier, as costQualityOrder puts them first: the cheapest (a "cheap"
 * decision) and the strongest (a "strong" one). Shadow judging (issue 17)
 * asks the tier a request did not get. Weight-0 (drained) refs are left out,
 * as routing leaves them out; undefined when no backend of the rule resolves.
 */
export function tierLeaders(
  refs: readonly { backendId: string; weight: number; priority: number }[],
  backendById: ReadonlyMap<string, CompiledBackend>,
): { cheapest: CompiledBackend; strongest: CompiledBackend } | undefined {
  const candidates: Candidate[] = [];
  refs.forEach((ref, index) => {
    const backend = backendById.get(ref.backendId);
    if (backend && ref.weight > 0)
      candidates.push({ backend, weight: ref.weight, priority: ref.priority, index });
  });
  if (candidates.length === 0) return undefined;
  const first = Math.min(...candidates.map((c) => c.priority));
  const tier = candidates.filter((c) => c.priority === first);
  return {
    cheapest: ([...tier].sort(byCostThenStronger)[0] as Candidate).backend,
    strongest: ([...tier].sort(byQualityThenCheaper)[0] as Candidate).backend,
  };
}
