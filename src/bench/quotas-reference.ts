// What one exact sliding-window limiter would admit of the same arrivals: the
// floor the fleet's figures are read against. A proxy fleet splits a limit
// into many windows, but even one limiter loses capacity when demand jumps
// from 0 to above the limit: the first minute's admissions leave the window in
// a burst a minute later, while requests arrive at the same rate as slots
// free, so freed slots wait (the "echo" of a standing start). Replayed offline
// with an injected clock, on the arrival times the bench sent.
import { RateLimiter } from '../proxy/resilience/rate-limiter.js';
import { windowFigures, type Arrival } from './quotas-windows.js';

export interface ReferenceFigures {
  max_admitted_per_minute: number;
  min_admitted_per_minute_saturated: number | null;
}

/**
 * Replays `arrivals` (offsets in ms, any order, each of `weight`) through one
 * limiter of `limit` per minute (requests, or tokens when `unit` is 'tokens')
 * and returns the sliding-window figures over [fromMs, toMs].
 */
export function exactReference(input: {
  arrivals: readonly number[];
  weight: number;
  limit: number;
  unit: 'requests' | 'tokens';
  fromMs: number;
  toMs: number;
}): ReferenceFigures {
  let now = 0;
  const limiter = new RateLimiter(
    input.unit === 'requests' ? { rpm: input.limit } : { tpm: input.limit },
    () => now,
  );
  const admitted: Arrival[] = [];
  const tokens = input.unit === 'tokens' ? input.weight : 0;
  for (const at of [...input.arrivals].sort((a, b) => a - b)) {
    now = at;
    if (!limiter.canAccept(tokens)) continue;
    limiter.record(tokens);
    admitted.push({ atMs: at, weight: input.weight });
  }
  const w = windowFigures(admitted, input.fromMs, input.toMs);
  return { max_admitted_per_minute: w.max, min_admitted_per_minute_saturated: w.minFull };
}
