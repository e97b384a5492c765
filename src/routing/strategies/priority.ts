// priority: strictly in the order the backendRefs are written (primary, then
// secondary, ...); tiers already ordered them by their priority number.
import type { TierOrder } from './candidate.js';

export const priorityOrder: TierOrder = (tier) => [...tier].sort((a, b) => a.index - b.index);
