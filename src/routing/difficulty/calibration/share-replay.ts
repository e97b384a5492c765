// Replays a stream of scored prompts through a threshold policy (the live
// StrongShareCalibrator, or a fixed threshold) and measures what an operator
// who set `strongShare` would see: the realised share after a warm-up, the
// worst 1,000-request window, and the quality the decisions bought against
// the best fixed threshold at the same share on the same prompts.
import { routerMetrics } from '../learned/metrics.js';

export interface ScoredOutcome {
  score: number;
  /** Outcomes of the weak and strong model on this prompt (higher is better). */
  weak: number;
  strong: number;
}

/** What decides each request: the calibrator, or a fixed threshold. */
export interface ThresholdPolicy {
  thresholdFor(): number;
  record(score: number, strong: boolean): void;
}

export function fixedThreshold(threshold: number): ThresholdPolicy {
  return { thresholdFor: () => threshold, record: () => {} };
}

export interface ReplayOptions {
  targetStrongShare: number;
  /** Requests before the share is measured (default 500). */
  warmup?: number;
  /** Window length for the worst-window error (default 1,000). */
  window?: number;
}

export interface ReplayResult {
  n: number;
  warmup: number;
  window: number;
  target_strong_share: number;
  /** Strong share after the warm-up. */
  realized_strong_share: number | null;
  /** Largest |realised − target| over every full window after the warm-up; null if none fits. */
  max_window_error: number | null;
  windows: number;
  /** APGR of the scores over the whole stream (RouteLLM's threshold sweep). */
  apgr: number | null;
  /** After the warm-up: mean outcome of the decisions made. */
  quality: number | null;
  /** After the warm-up: mean outcome of the best fixed split at the same number of strong calls. */
  offline_quality_at_share: number | null;
  weak_quality: number | null;
  strong_quality: number | null;
  /** Share of the strong–weak gap the decisions recovered, and the offline split's at the same share. */
  pgr: number | null;
  offline_pgr: number | null;
}

const r4 = (x: number | null) => (x === null || !Number.isFinite(x) ? null : Number(x.toFixed(4)));

/** Seeded Fisher–Yates order of `count` requests: whole shuffled passes over the items. */
export function shuffledStream<T>(
  items: readonly T[],
  rng: () => number,
  count = items.length,
): T[] {
  const out: T[] = [];
  while (out.length < count && items.length > 0) {
    const pass = [...items];
    for (let i = pass.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [pass[i], pass[j]] = [pass[j] as T, pass[i] as T];
    }
    out.push(...pass.slice(0, count - out.length));
  }
  return out;
}

export function replayStrongShare(
  stream: readonly ScoredOutcome[],
  policy: ThresholdPolicy,
  options: ReplayOptions,
): ReplayResult {
  const warmup = options.warmup ?? 500;
  const window = options.window ?? 1_000;
  const target = options.targetStrongShare;
  const decisions = new Uint8Array(stream.length);
  for (let i = 0; i < stream.length; i++) {
    const { score } = stream[i] as ScoredOutcome;
    const strong = score >= policy.thresholdFor();
    policy.record(score, strong);
    decisions[i] = strong ? 1 : 0;
  }

  const after = stream.slice(warmup);
  const measured = after.length;
  let strongAfter = 0;
  let quality = 0;
  for (let i = warmup; i < stream.length; i++) {
    const item = stream[i] as ScoredOutcome;
    strongAfter += decisions[i] as number;
    quality += decisions[i] ? item.strong : item.weak;
  }

  let maxError: number | null = null;
  let windows = 0;
  if (measured >= window) {
    let inWindow = 0;
    for (let i = warmup; i < stream.length; i++) {
      inWindow += decisions[i] as number;
      if (i - warmup >= window) inWindow -= decisions[i - window] as number;
      if (i - warmup >= window - 1) {
        windows++;
        const error = Math.abs(inWindow / window - target);
        if (maxError === null || error > maxError) maxError = error;
      }
    }
  }

  // The same number of strong calls, spent on the highest scores: a fixed
  // threshold that knew this stream's scores in advance.
  const byScore = [...after].sort((a, b) => b.score - a.score);
  let offline = 0;
  byScore.forEach((item, rank) => (offline += rank < strongAfter ? item.strong : item.weak));
  let weak = 0;
  let strongQ = 0;
  for (const item of after) {
    weak += item.weak;
    strongQ += item.strong;
  }
  const mean = (x: number) => (measured > 0 ? x / measured : null);
  const gap = measured > 0 ? (strongQ - weak) / measured : 0;
  const pgr = (q: number | null) => (q === null || !(gap > 0) ? null : (q - weak / measured) / gap);

  return {
    n: stream.length,
    warmup,
    window,
    target_strong_share: target,
    realized_strong_share: r4(mean(strongAfter)),
    max_window_error: r4(maxError),
    windows,
    apgr: r4(
      stream.length > 0
        ? routerMetrics(
            stream.map((s) => s.score),
            stream,
          ).apgr
        : null,
    ),
    quality: r4(mean(quality)),
    offline_quality_at_share: r4(mean(offline)),
    weak_quality: r4(mean(weak)),
    strong_quality: r4(mean(strongQ)),
    pgr: r4(pgr(mean(quality))),
    offline_pgr: r4(pgr(mean(offline))),
  };
}

/**
 * `count` requests drawn from two sets, a share `before` of them from `a` in
 * the first half and `after` in the second: traffic whose mix changes under
 * a running proxy. Each set is drawn in shuffled passes (no prompt twice
 * before the set is used up).
 */
export function halfwayShift<T>(
  a: readonly T[],
  b: readonly T[],
  rng: () => number,
  count: number,
  before: number,
  after: number,
): T[] {
  const fromA = shuffledStream(a, rng, count);
  const fromB = shuffledStream(b, rng, count);
  let ia = 0;
  let ib = 0;
  return Array.from({ length: count }, (_, i) =>
    rng() < (i < count / 2 ? before : after) ? (fromA[ia++] as T) : (fromB[ib++] as T),
  );
}
