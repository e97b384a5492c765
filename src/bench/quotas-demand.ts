// Seeded, skewed demand over proxies: a few busy pods and a long tail of quiet
// ones, as real deployments look (one batch worker, many web pods), so a
// limit divided evenly would starve the busy ones and waste the quiet ones'.
import { seededRandom } from '../routing/random.js';

/** Zipf weights over n proxies with exponent s: proxy k gets 1/k^s, normalised to sum 1. */
export function zipfWeights(n: number, s: number): number[] {
  const raw = Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
  const total = raw.reduce((a, b) => a + b, 0);
  return raw.map((w) => w / total);
}

/**
 * Which proxy gets which weight: a seeded shuffle, so the busiest proxy is
 * not always the first one started (the first registered pod may be treated
 * differently by nothing, but the bench should not depend on that).
 */
export function shuffled<T>(items: readonly T[], seed: number): T[] {
  const rng = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/**
 * Poisson arrival offsets (ms from the start, ascending, all < durationMs) of
 * a stream with `perMinute` requests a minute on average; with `rampMs`, the
 * rate grows linearly from 0 to `perMinute` over the first rampMs (thinning:
 * an arrival at t is kept with probability t / rampMs).
 */
export function poissonArrivals(
  perMinute: number,
  durationMs: number,
  seed: number,
  rampMs = 0,
): number[] {
  if (!(perMinute > 0) || !(durationMs > 0)) return [];
  const rng = seededRandom(seed);
  const meanGapMs = 60_000 / perMinute;
  const out: number[] = [];
  let t = 0;
  for (;;) {
    // 1 - rng() is in (0, 1]: the log is finite.
    t += -Math.log(1 - rng()) * meanGapMs;
    if (t >= durationMs) return out;
    if (t < rampMs && rng() >= t / rampMs) continue;
    out.push(t);
  }
}

/** Per-stream seeds derived from one run seed, so adding a stream does not shift the others. */
export function streamSeed(runSeed: number, stream: number): number {
  return (Math.imul(runSeed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(stream + 1, 0xc2b2ae35)) >>> 0;
}
