// Fixed-bucket latency histograms that add across proxies and hours: the
// proxies report cumulative bucket counts per route and backend, the ledger
// keeps hourly deltas, percentiles are read back the way Prometheus'
// histogram_quantile does (linear within the bucket that holds the rank).
import { z } from 'zod';

/** Upper bounds in ms of a whole request (embeddings: tens of ms; long generations: minutes). */
export const DURATION_BOUNDS_MS = [
  10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 20_000, 30_000, 60_000, 120_000,
] as const;
/** Upper bounds in ms of the time to the first streamed token. */
export const TTFT_BOUNDS_MS = [
  10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000,
] as const;

/** Per route and backend: counts per bucket, the last one is +Inf. */
export interface LatencyCounts {
  duration: number[];
  ttft: number[];
}

export const latencyRowSchema = z.object({
  route: z.string().max(512),
  backend: z.string().max(512),
  duration: z.array(z.number().int().min(0)).length(DURATION_BOUNDS_MS.length + 1),
  ttft: z.array(z.number().int().min(0)).length(TTFT_BOUNDS_MS.length + 1),
});
export type LatencyRow = z.infer<typeof latencyRowSchema>;

export function emptyLatency(): LatencyCounts {
  return {
    duration: new Array<number>(DURATION_BOUNDS_MS.length + 1).fill(0),
    ttft: new Array<number>(TTFT_BOUNDS_MS.length + 1).fill(0),
  };
}

export function bucketOf(bounds: readonly number[], valueMs: number): number {
  for (let i = 0; i < bounds.length; i++) if (valueMs <= (bounds[i] as number)) return i;
  return bounds.length;
}

export function addCounts(into: number[], more: readonly number[]): void {
  for (let i = 0; i < into.length; i++) into[i] = (into[i] ?? 0) + (more[i] ?? 0);
}

/**
 * The q-quantile (0..1) of counts over `bounds`, in ms; undefined when empty.
 * Past the last finite bound the answer is that bound (as histogram_quantile).
 */
export function quantileMs(
  bounds: readonly number[],
  counts: readonly number[],
  q: number,
): number | undefined {
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return undefined;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const here = counts[i] ?? 0;
    if (seen + here >= rank && here > 0) {
      if (i >= bounds.length) return bounds[bounds.length - 1];
      const lower = i === 0 ? 0 : (bounds[i - 1] as number);
      const upper = bounds[i] as number;
      return lower + (upper - lower) * ((rank - seen) / here);
    }
    seen += here;
  }
  return bounds[bounds.length - 1];
}
