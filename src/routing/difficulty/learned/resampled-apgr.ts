// APGR of a bootstrap resample in O(n), with the threshold sweep of
// routerMetrics (metrics.ts) to the last bit of the definition. A resample of
// a set's prompts is the set with multiplicities (weights), so the prompts
// are sorted by score once per router and every resample is one weighted walk
// over that order: no sort per resample. routerMetrics on each resample cost
// ~14 ms per router on 15,000 prompts; 1,000 resamples × six routers made the
// bench's intervals take minutes, this takes seconds.
import type { Example } from './dataset.js';

/** A router's scores on a set, sorted once: prompt indices by ascending score, and those scores. */
export interface RankedScores {
  order: Uint32Array;
  sorted: Float64Array;
}

export function rankScores(scores: ArrayLike<number>): RankedScores {
  const order = Uint32Array.from({ length: scores.length }, (_, i) => i).sort(
    (a, b) => (scores[a] as number) - (scores[b] as number),
  );
  return { order, sorted: Float64Array.from(order, (i) => scores[i] as number) };
}

/**
 * A uniformly random ranking of n prompts (a random router): a shuffled
 * order with scores 0..n-1, in O(n) rather than a sort of random scores.
 */
export function randomRanking(n: number, rng: () => number): RankedScores {
  const order = Uint32Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const k = Math.floor(rng() * (i + 1));
    const t = order[i] as number;
    order[i] = order[k] as number;
    order[k] = t;
  }
  return { order, sorted: Float64Array.from({ length: n }, (_, i) => i) };
}

/** The number of sorted values below `t` (or at most `t` with `inclusive`). */
function countBelow(sorted: Float64Array, t: number, inclusive: boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid] as number;
    if (v < t || (inclusive && v === t)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first position whose cumulative weight exceeds `rank` (cumulative[k] = weight of the first k). */
function atRank(cumulative: Float64Array, rank: number): number {
  let lo = 0;
  let hi = cumulative.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((cumulative[mid + 1] as number) > rank) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/**
 * APGR over the prompts of a set taken `weights[i]` times each (a resample),
 * exactly as routerMetrics(scores, resampled examples).apgr with `bins`
 * equal-count bins; null when the strong model is no better than the weak
 * one on the resample.
 */
export function resampledApgr(
  ranked: RankedScores,
  examples: readonly Pick<Example, 'weak' | 'strong'>[],
  weights: ArrayLike<number>,
  bins = 10,
): number | null {
  const { order, sorted } = ranked;
  const m = order.length;
  // Prefix sums in ascending score order: weight, and gain of the strong over the weak model.
  const count = new Float64Array(m + 1);
  const gain = new Float64Array(m + 1);
  let weakTotal = 0;
  let strongTotal = 0;
  for (let k = 0; k < m; k++) {
    const i = order[k] as number;
    const w = weights[i] as number;
    const e = examples[i] as Pick<Example, 'weak' | 'strong'>;
    weakTotal += w * e.weak;
    strongTotal += w * e.strong;
    count[k + 1] = (count[k] as number) + w;
    gain[k + 1] = (gain[k] as number) + w * (e.strong - e.weak);
  }
  const n = count[m] as number;
  if (n === 0) return null;
  const value = (rank: number) => sorted[atRank(count, rank)] as number;
  const points: Array<{ share: number; quality: number }> = [];
  for (let b = 0; b <= bins; b++) {
    // quantileSorted of the resample's sorted scores at b / bins.
    const pos = (b / bins) * (n - 1);
    const lo = Math.floor(pos);
    const a = value(lo);
    const threshold = a + (pos - lo) * (value(Math.min(n - 1, lo + 1)) - a);
    // Strong calls: scores at or above the threshold (above it, for the last edge).
    const below = countBelow(sorted, threshold, b === bins);
    const calls = n - (count[below] as number);
    const routedGain = (gain[m] as number) - (gain[below] as number);
    points.push({ share: calls / n, quality: (weakTotal + routedGain) / n });
  }
  points.sort((x, y) => x.share - y.share);
  let area = 0;
  for (let k = 1; k < points.length; k++) {
    const p = points[k - 1] as { share: number; quality: number };
    const q = points[k] as { share: number; quality: number };
    area += ((p.quality + q.quality) / 2) * (q.share - p.share);
  }
  const weakQuality = weakTotal / n;
  const gap = strongTotal / n - weakQuality;
  const span = (points.at(-1)?.share ?? 0) - (points[0]?.share ?? 0);
  return gap > 0 && span > 0 ? (area - weakQuality * span) / (gap * span) : null;
}
