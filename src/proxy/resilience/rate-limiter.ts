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
 * 1 s steps: close enough to how providers count, and O(60) per check.
 */
export class RateLimiter {
  private readonly ring: Bucket[] = Array.from({ length: WINDOW_SECONDS }, () => ({
    second: -Infinity,
    requests: 0,
    tokens: 0,
  }));
  private limits: RateLimits = {};

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
    const { requests, tokens: used } = this.totals();
    if (rpm !== undefined && requests + 1 > rpm) return false;
    if (tpm !== undefined && used + Math.max(0, tokens) > tpm) return false;
    return true;
  }

  /** Counts a request sent now with its estimated tokens. */
  record(tokens: number): void {
    const bucket = this.current();
    bucket.requests++;
    bucket.tokens += finiteOrZero(tokens);
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
      return;
    }
    const second = Math.floor(recordedAt / 1000);
    if (second <= this.nowSecond() - WINDOW_SECONDS) return;
    const bucket = this.ring[slot(second)] as Bucket;
    if (bucket.second === second) bucket.tokens += delta;
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
    const oldest = this.nowSecond() - WINDOW_SECONDS;
    let requests = 0;
    let tokens = 0;
    for (const bucket of this.ring) {
      if (bucket.second > oldest) {
        requests += bucket.requests;
        tokens += bucket.tokens;
      }
    }
    // Negative corrections can outweigh what is left of a request in the window.
    return { requests, tokens: Math.max(0, tokens) };
  }

  private nowSecond(): number {
    return Math.floor(this.now() / 1000);
  }

  private current(): Bucket {
    const second = this.nowSecond();
    const bucket = this.ring[slot(second)] as Bucket;
    if (bucket.second !== second) {
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
