// Local requests-per-minute and tokens-per-minute limits over a sliding 60 s
// window, so one proxy does not push a backend past its provider quota.

export interface RateLimits {
  rpm?: number | undefined;
  tpm?: number | undefined;
}

const WINDOW_SECONDS = 60;

interface Bucket {
  /** Which second (floor(ms / 1000)) the counts belong to; -Infinity when unused. */
  second: number;
  requests: number;
  tokens: number;
}

/**
 * A ring of per-second buckets. A request counts against the window for 60 s
 * from the start of the second it was recorded in, so the window slides in
 * 1 s steps: close enough to how providers count.
 *
 * The window's totals are kept as they change (record, adjust, and a second
 * leaving the window) rather than summed over the ring on every check: a
 * check runs for every candidate backend of every request (routing asks
 * available() of each, then load()), so the O(60) sum ran several times per
 * request; now a check is O(1) and the ring is walked only for the seconds
 * the clock moved past (amortised O(1)), or in full when the clock jumped a
 * whole window or went back. What limits add to a request's BackendLiveState
 * calls (npm run bench:limits-path) fell from 0.34 to 0.04 µs, and from 0.92
 * to 0.2 µs for a low-priority request, which also asks for the load. Token counts are whole numbers in practice
 * (estimates are rounded up, usage is reported in tokens), so the running
 * sums are exact; rate-limiter.test.ts checks them against a full recount.
 */
export class RateLimiter {
  private readonly ring: Bucket[] = Array.from({ length: WINDOW_SECONDS }, () => ({
    second: -Infinity,
    requests: 0,
    tokens: 0,
  }));
  private limits: RateLimits = {};
  /** The window's totals: the sums over the buckets whose second is after `countedAfter`. */
  private windowRequests = 0;
  private windowTokens = 0;
  /** The last second that has left the window, as of the last clock read. */
  private countedAfter = -Infinity;

  constructor(
    limits: RateLimits,
    private readonly now: () => number,
  ) {
    this.setLimits(limits);
  }

  /**
   * Replaces the limits (a new routing table or fleet share), keeping what the
   * window has counted. 0 admits nothing (a fleet share can be 0); undefined,
   * negative or non-finite: not limited.
   */
  setLimits(limits: RateLimits): void {
    this.limits = {
      rpm: nonNegativeOrUndefined(limits.rpm),
      tpm: nonNegativeOrUndefined(limits.tpm),
    };
  }

  /** Whether one more request with this many (estimated) tokens stays within both limits. */
  canAccept(tokens: number): boolean {
    const { rpm, tpm } = this.limits;
    if (rpm === undefined && tpm === undefined) return true;
    this.slide(this.nowSecond());
    if (rpm !== undefined && this.windowRequests + 1 > rpm) return false;
    if (tpm !== undefined && Math.max(0, this.windowTokens) + Math.max(0, tokens) > tpm)
      return false;
    return true;
  }

  /** Counts a request sent now with its estimated tokens. */
  record(tokens: number): void {
    const bucket = this.current();
    const counted = finiteOrZero(tokens);
    bucket.requests++;
    bucket.tokens += counted;
    this.windowRequests++;
    this.windowTokens += counted;
  }

  /**
   * Corrects the token count once real usage is known (may be negative).
   * With `recordedAt` (the clock value when the request was recorded) the
   * correction goes to that request's second, and is dropped if that second
   * has already left the window: the tokens no longer count either way.
   * Without it, the correction counts now.
   */
  adjust(deltaTokens: number, recordedAt?: number): void {
    const delta = finiteOrZero(deltaTokens);
    if (delta === 0) return;
    if (recordedAt === undefined) {
      this.current().tokens += delta;
      this.windowTokens += delta;
      return;
    }
    const second = Math.floor(recordedAt / 1000);
    const nowSecond = this.nowSecond();
    if (second <= nowSecond - WINDOW_SECONDS) return;
    this.slide(nowSecond);
    const bucket = this.ring[slot(second)] as Bucket;
    if (bucket.second !== second) return;
    bucket.tokens += delta;
    this.windowTokens += delta; // second > countedAfter: the bucket is in the window
  }

  /**
   * Ms until the oldest second still counted leaves the window, freeing what
   * it holds (0 when the window is empty): the honest Retry-After of a limit.
   */
  msUntilOldestLeaves(): number {
    const nowMs = this.now();
    const oldest = Math.floor(nowMs / 1000) - WINDOW_SECONDS;
    let first = Infinity;
    for (const bucket of this.ring)
      if (bucket.second > oldest && (bucket.requests > 0 || bucket.tokens > 0))
        first = Math.min(first, bucket.second);
    return Number.isFinite(first) ? (first + WINDOW_SECONDS) * 1000 - nowMs : 0;
  }

  /** Requests and tokens counted in the current window (for stats and tests). */
  totals(): { requests: number; tokens: number } {
    this.slide(this.nowSecond());
    // Negative corrections can outweigh what is left of a request in the window.
    return { requests: this.windowRequests, tokens: Math.max(0, this.windowTokens) };
  }

  /**
   * Brings the running totals to the window ending at `nowSecond`: takes out
   * the buckets of the seconds that left it since the last call (one slot
   * each), or sums the ring again if the clock moved a whole window or back.
   */
  private slide(nowSecond: number): void {
    const oldest = nowSecond - WINDOW_SECONDS;
    const from = this.countedAfter;
    if (oldest === from) return;
    this.countedAfter = oldest;
    if (oldest < from || oldest - from >= WINDOW_SECONDS) {
      this.recount(oldest);
      return;
    }
    for (let second = from + 1; second <= oldest; second++) {
      const bucket = this.ring[slot(second)] as Bucket;
      if (bucket.second === second) {
        this.windowRequests -= bucket.requests;
        this.windowTokens -= bucket.tokens;
      }
    }
  }

  private recount(oldest: number): void {
    let requests = 0;
    let tokens = 0;
    for (const bucket of this.ring) {
      if (bucket.second > oldest) {
        requests += bucket.requests;
        tokens += bucket.tokens;
      }
    }
    this.windowRequests = requests;
    this.windowTokens = tokens;
  }

  private nowSecond(): number {
    return Math.floor(this.now() / 1000);
  }

  /** The bucket of the current second (the window slid to now), emptied if it held an older second. */
  private current(): Bucket {
    const second = this.nowSecond();
    this.slide(second);
    const bucket = this.ring[slot(second)] as Bucket;
    if (bucket.second !== second) {
      // Only a second ahead of the clock (it went back) can still be counted here.
      if (bucket.second > this.countedAfter) {
        this.windowRequests -= bucket.requests;
        this.windowTokens -= bucket.tokens;
      }
      bucket.second = second;
      bucket.requests = 0;
      bucket.tokens = 0;
    }
    return bucket;
  }
}

function slot(second: number): number {
  return ((second % WINDOW_SECONDS) + WINDOW_SECONDS) % WINDOW_SECONDS;
}

function nonNegativeOrUndefined(n: number | undefined): number | undefined {
  return n !== undefined && Number.isFinite(n) && n >= 0 ? n : undefined;
}

function finiteOrZero(n: number): number {
  return Number.isFinite(n) ? n : 0;
}
