// What a rate-limited provider would see: requests (or tokens) counted as the
// simulated backend received them, over every sliding 60 s window. A provider
// enforcing "600 per minute" over a sliding minute refuses the 601st request
// in ANY 60 s span, so the bench looks at every span, not at clock minutes.

export const WINDOW_MS = 60_000;

/** One request as the backend received it: when, and what it counts for (1 for rpm, its tokens for tpm). */
export interface Arrival {
  atMs: number;
  weight: number;
}

export interface WindowFigures {
  /** Largest total in any window [s, s + 60 s) over the whole run. */
  max: number;
  /** Where that window starts, in ms after `fromMs`. */
  maxAtMs: number;
  /** Smallest total over full windows lying inside [fromMs, toMs]; null when none fits. */
  minFull: number | null;
  /** How many full windows' starts were examined (0: the span is shorter than a window). */
  fullWindowStarts: number;
}

/** Sum of weights of arrivals at or after `start` and before `end` (arrivals sorted by time; prefix sums given). */
function sumIn(times: Float64Array, prefix: Float64Array, start: number, end: number): number {
  return prefix[lowerBound(times, end)]! - prefix[lowerBound(times, start)]!;
}

/** First index whose time is >= t. */
function lowerBound(times: Float64Array, t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The sliding-window figures of `arrivals`. The total over [s, s + W) only
 * changes when s passes an arrival (it leaves) or s + W reaches one (it
 * enters), so the maximum is found at windows starting at an arrival, and the
 * minimum over starts in [fromMs, toMs − W] at the ends of that range or just
 * after an arrival leaves. Exact, O(n log n).
 */
export function windowFigures(
  arrivals: readonly Arrival[],
  fromMs: number,
  toMs: number,
  windowMs = WINDOW_MS,
): WindowFigures {
  const sorted = [...arrivals].sort((a, b) => a.atMs - b.atMs);
  const times = Float64Array.from(sorted, (a) => a.atMs);
  const prefix = new Float64Array(sorted.length + 1);
  sorted.forEach((a, i) => (prefix[i + 1] = prefix[i]! + a.weight));

  let max = 0;
  let maxAt = fromMs;
  for (const t of times) {
    const total = sumIn(times, prefix, t, t + windowMs);
    if (total > max) {
      max = total;
      maxAt = t;
    }
  }

  const lastStart = toMs - windowMs;
  if (lastStart < fromMs)
    return { max, maxAtMs: maxAt - fromMs, minFull: null, fullWindowStarts: 0 };
  // Starts where the total may be smallest: the range's ends, and the instant
  // after each arrival inside the range leaves the window; that window holds
  // the arrivals in (t, t + W]. (Computed so, not as t + an epsilon, which
  // t + ε + W would round away.)
  let minFull = Math.min(
    sumIn(times, prefix, fromMs, fromMs + windowMs),
    sumIn(times, prefix, lastStart, toMs),
  );
  let starts = 2;
  for (const t of times)
    if (t >= fromMs && t < lastStart) {
      starts++;
      minFull = Math.min(
        minFull,
        prefix[upperBound(times, t + windowMs)]! - prefix[upperBound(times, t)]!,
      );
    }
  return { max, maxAtMs: maxAt - fromMs, minFull, fullWindowStarts: starts };
}

/** First index whose time is > t. */
function upperBound(times: Float64Array, t: number): number {
  let lo = 0;
  let hi = times.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (times[mid]! <= t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
