// least-latency: lowest recent (EWMA) latency first. A backend with no
// observation yet goes first, so new or recovered backends get measured.
import { sortByKey, type TierOrder } from './candidate.js';

export const leastLatencyOrder: TierOrder = (tier, { live }) =>
  sortByKey(tier, (c) => live.latencyMs(c.backend.id) ?? -1);
