// least-cost: cheapest estimated cost for this request first.
import { sortByKey, type TierOrder } from './candidate.js';

export const leastCostOrder: TierOrder = (tier, ctx) =>
  sortByKey(tier, (c) => ctx.estimatedCostUsd(c.backend));
