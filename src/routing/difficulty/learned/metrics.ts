// Router quality metrics as RouteLLM defines them (arXiv 2406.18665 and its
// evaluation code): sweep a threshold over the deciles of the router's scores,
// record (share of strong calls, quality) at each, and summarise the curve.
import type { Example } from './dataset.js';

export interface CurvePoint {
  threshold: number;
  /** Share of prompts sent to the strong model, 0..1. */
  strongShare: number;
  /** Mean outcome when routed at this threshold. */
  quality: number;
}

export interface RouterMetrics {
  n: number;
  weakQuality: number;
  strongQuality: number;
  /** Average performance gap recovered: normalised area under the quality/strong-share curve. */
  apgr: number | null;
  /** Call-performance threshold: strong share needed to recover 50% / 80% of the gap (0..1). */
  cpt50: number | null;
  cpt80: number | null;
  /** Strong share needed to reach 95% of the strong model's quality (0..1). */
  strongShareFor95: number | null;
  curve: CurvePoint[];
}

/** Linear-interpolation quantile of sorted values (numpy's and pandas' default). */
export function quantileSorted(sorted: ArrayLike<number>, q: number): number {
  const n = sorted.length;
  if (n === 0) return NaN;
  const pos = q * (n - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(n - 1, lo + 1);
  const a = sorted[lo] as number;
  return a + (pos - lo) * ((sorted[hi] as number) - a);
}

/**
 * The threshold sweep: thresholds are the bin edges of `bins` equal-count
 * bins of the scores (min, the deciles, max); at each edge prompts scoring
 * at or above it go to the strong model (above it, for the last edge), so the
 * curve runs from 100% to 0% strong calls. Sorted by strong share.
 */
export function routingCurve(
  scores: ArrayLike<number>,
  weak: ArrayLike<number>,
  strong: ArrayLike<number>,
  bins = 10,
): CurvePoint[] {
  const n = scores.length;
  if (n === 0) return [];
  const sorted = Float64Array.from(scores).sort();
  const points: CurvePoint[] = [];
  for (let i = 0; i <= bins; i++) {
    const threshold = quantileSorted(sorted, i / bins);
    const last = i === bins;
    let calls = 0;
    let total = 0;
    for (let j = 0; j < n; j++) {
      const s = scores[j] as number;
      const toStrong = last ? s > threshold : s >= threshold;
      if (toStrong) calls++;
      total += toStrong ? (strong[j] as number) : (weak[j] as number);
    }
    points.push({ threshold, strongShare: calls / n, quality: total / n });
  }
  // Stable: equal shares keep their sweep order (they add no area either way).
  return points.sort((a, b) => a.strongShare - b.strongShare);
}

function trapezoid(curve: readonly CurvePoint[]): number {
  let area = 0;
  for (let i = 1; i < curve.length; i++) {
    const a = curve[i - 1] as CurvePoint;
    const b = curve[i] as CurvePoint;
    area += ((a.quality + b.quality) / 2) * (b.strongShare - a.strongShare);
  }
  return area;
}

/**
 * The smallest strong share at which the curve reaches `target`, by linear
 * interpolation between sweep points (RouteLLM's np.interp on a monotone
 * curve; on a non-monotone one, the first crossing). Null if never reached.
 */
export function shareForQuality(curve: readonly CurvePoint[], target: number): number | null {
  const first = curve[0];
  if (!first) return null;
  if (first.quality >= target) return first.strongShare;
  for (let i = 1; i < curve.length; i++) {
    const a = curve[i - 1] as CurvePoint;
    const b = curve[i] as CurvePoint;
    if (b.quality >= target) {
      if (b.quality === a.quality) return b.strongShare;
      return (
        a.strongShare +
        ((target - a.quality) / (b.quality - a.quality)) * (b.strongShare - a.strongShare)
      );
    }
  }
  return null;
}

export function mean(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i] as number;
  return xs.length === 0 ? NaN : s / xs.length;
}

/** All metrics for one router's scores on labelled prompts (scores[i] belongs to examples[i]). */
export function routerMetrics(
  scores: ArrayLike<number>,
  examples: readonly Pick<Example, 'weak' | 'strong'>[],
  bins = 10,
): RouterMetrics {
  if (scores.length !== examples.length)
    throw new Error(`routerMetrics: ${scores.length} scores for ${examples.length} examples`);
  const weak = examples.map((e) => e.weak);
  const strong = examples.map((e) => e.strong);
  const weakQuality = mean(weak);
  const strongQuality = mean(strong);
  const curve = routingCurve(scores, weak, strong, bins);
  const gap = strongQuality - weakQuality;
  const span =
    curve.length > 0
      ? (curve.at(-1) as CurvePoint).strongShare - (curve[0] as CurvePoint).strongShare
      : 0;
  const area = trapezoid(curve);
  const apgr = gap > 0 && span > 0 ? (area - weakQuality * span) / (gap * span) : null;
  const cpt = (p: number) => (gap > 0 ? shareForQuality(curve, weakQuality + p * gap) : null);
  return {
    n: examples.length,
    weakQuality,
    strongQuality,
    apgr,
    cpt50: cpt(0.5),
    cpt80: cpt(0.8),
    strongShareFor95: examples.length > 0 ? shareForQuality(curve, 0.95 * strongQuality) : null,
    curve,
  };
}

/** Mean metrics of a uniformly random router over `draws` seeded draws. */
export function randomRouterMetrics(
  examples: readonly Pick<Example, 'weak' | 'strong'>[],
  rng: () => number,
  draws = 20,
): Pick<RouterMetrics, 'apgr' | 'cpt50' | 'cpt80' | 'strongShareFor95'> {
  const acc = {
    apgr: [] as number[],
    cpt50: [] as number[],
    cpt80: [] as number[],
    s95: [] as number[],
  };
  for (let d = 0; d < draws; d++) {
    const scores = Float64Array.from(examples, () => rng());
    const m = routerMetrics(scores, examples);
    if (m.apgr !== null) acc.apgr.push(m.apgr);
    if (m.cpt50 !== null) acc.cpt50.push(m.cpt50);
    if (m.cpt80 !== null) acc.cpt80.push(m.cpt80);
    if (m.strongShareFor95 !== null) acc.s95.push(m.strongShareFor95);
  }
  const avg = (xs: number[]) => (xs.length === 0 ? null : mean(xs));
  return {
    apgr: avg(acc.apgr),
    cpt50: avg(acc.cpt50),
    cpt80: avg(acc.cpt80),
    strongShareFor95: avg(acc.s95),
  };
}
