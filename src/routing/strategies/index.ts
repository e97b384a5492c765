// The strategy registry: how each named strategy orders a tier.
import type { Strategy } from '../../api/v1alpha1/index.js';
import type { TierOrder } from './candidate.js';
import { costQualityOrder } from './cost-quality.js';
import { leastBusyOrder } from './least-busy.js';
import { leastCostOrder } from './least-cost.js';
import { leastLatencyOrder } from './least-latency.js';
import { priorityOrder } from './priority.js';
import { weightedOrder } from './weighted.js';

export type { Candidate, StrategyContext, TierOrder } from './candidate.js';
export type { CostQualityChoice } from './cost-quality.js';
export { costQualityOrder };

export const TIER_ORDERS: Record<Exclude<Strategy, 'cost-quality'>, TierOrder> = {
  weighted: weightedOrder,
  priority: priorityOrder,
  'least-latency': leastLatencyOrder,
  'least-cost': leastCostOrder,
  'least-busy': leastBusyOrder,
};
