// Retry timing: how long an upstream asked us to wait (Retry-After) and how
// long to back off between attempts on our own.

/** IMF-fixdate, e.g. `Wed, 21 Oct 2015 07:28:00 GMT` (what servers send today). */
const IMF_FIXDATE = /^[A-Za-z]{3}, \d{1,2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} (GMT|UTC)$/;
/** Obsolete RFC 850 form, e.g. `Wednesday, 21-Oct-15 07:28:00 GMT`; recipients must still accept it. */
const RFC850_DATE = /^[A-Za-z]{6,9}, \d{2}-[A-Za-z]{3}-\d{2} \d{2}:\d{2}:\d{2} (GMT|UTC)$/;
/** Obsolete asctime form, e.g. `Wed Oct 21 07:28:00 2015` (always UTC, though it does not say so). */
const ASCTIME_DATE = /^[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;
const DELTA_SECONDS = /^\d+(\.\d+)?$/;

/**
 * Parses a Retry-After header value (delta-seconds or an HTTP-date) into ms
 * to wait from `nowMs`, never negative. Anything else is undefined: Date.parse
 * alone would read "soon 2030" as a date, so the date shapes are checked first.
 * Fractional seconds are accepted because some servers send them.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (DELTA_SECONDS.test(v)) {
    const ms = Number(v) * 1000;
    return Number.isFinite(ms) ? Math.round(ms) : undefined;
  }
  let at: number;
  if (IMF_FIXDATE.test(v) || RFC850_DATE.test(v)) at = Date.parse(v);
  else if (ASCTIME_DATE.test(v))
    at = Date.parse(`${v} GMT`); // otherwise parsed as local time
  else return undefined;
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - nowMs);
}

/**
 * Delay before retry number `retry` (1 for the first): exponential growth
 * (base * 2^(retry-1)) capped at `maxMs`, with "equal jitter": half of it
 * fixed, half random. The fixed half guarantees a real pause; the random half
 * keeps many proxies that failed together from retrying in lockstep.
 * Result is a whole number of ms in [capped/2, capped].
 */
export function backoffDelayMs(
  retry: number,
  baseMs: number,
  maxMs: number,
  rng: () => number,
): number {
  const exponent = Math.max(0, Math.floor(retry) - 1);
  const capped = Math.max(0, Math.min(maxMs, baseMs * 2 ** exponent));
  if (!Number.isFinite(capped)) return 0;
  const half = capped / 2;
  const raw = rng();
  const r = raw > 0 ? Math.min(1, raw) : 0; // also maps NaN to 0
  return Math.floor(half + r * half);
}
