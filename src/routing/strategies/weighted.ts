// weighted: a random order in which each backend leads with probability
// proportional to its weight (successive weighted draws without replacement).
import type { Candidate, TierOrder } from './candidate.js';

export const weightedOrder: TierOrder = (tier, { rng }) => {
  const remaining = tier.filter((c) => c.weight > 0);
  const order: Candidate[] = [];
  let total = remaining.reduce((sum, c) => sum + c.weight, 0);
  while (remaining.length > 0) {
    let point = rng() * total;
    let pick = remaining.length - 1;
    for (let i = 0; i < remaining.length; i++) {
      point -= (remaining[i] as Candidate).weight;
      if (point < 0) {
        pick = i;
        break;
      }
    }
    const [chosen] = remaining.splice(pick, 1) as [Candidate];
    order.push(chosen);
    total -= chosen.weight;
  }
  return order;
};
