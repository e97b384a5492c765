// least-busy: fewest requests in flight per unit of weight first (weighted
// least-request); ties are broken at random so equal backends share load.
import type { TierOrder } from './candidate.js';

export const leastBusyOrder: TierOrder = (tier, { live, rng }) =>
  tier
    .map((c) => ({ c, load: live.inFlight(c.backend.id) / Math.max(c.weight, 1), tie: rng() }))
    .sort((a, b) => a.load - b.load || a.tie - b.tie)
    .map((e) => e.c);
