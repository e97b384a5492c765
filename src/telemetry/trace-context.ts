// W3C Trace Context headers passed through unchanged when the proxy does not
// trace, so a caller's trace still connects to a backend that traces.
//
// Only `traceparent` and `tracestate` ever go upstream, never `baggage`: an
// upstream is often a third-party provider, and baggage carries whatever the
// caller's services put in it (user ids, tenant names).
import type { IncomingHttpHeaders } from 'node:http';

export const TRACEPARENT = 'traceparent';
export const TRACESTATE = 'tracestate';

// version "00" (or a later one, read as 00 by the spec's rules) - trace id - parent id - flags;
// all-zero ids are invalid, and version ff is forbidden.
const TRACEPARENT_SHAPE =
  /^(?!ff)[0-9a-f]{2}-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}(-.*)?$/;
/** The spec's limit a vendor must propagate at least; anything longer is dropped, not cut. */
const MAX_TRACESTATE = 512;

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** The caller's trace id (32 hex digits) when it sent a valid traceparent. */
export function incomingTraceId(incoming: IncomingHttpHeaders): string | undefined {
  const parent = single(incoming[TRACEPARENT])?.trim();
  return parent !== undefined && TRACEPARENT_SHAPE.test(parent) ? parent.slice(3, 35) : undefined;
}

/**
 * Copies a valid `traceparent` (and its `tracestate`) into `headers`; an
 * invalid one is not forwarded (the spec: a receiver that cannot parse it
 * starts a new trace, and the proxy has none to start when it does not trace).
 */
export function passThroughTraceContext(
  incoming: IncomingHttpHeaders,
  headers: Record<string, string>,
): void {
  const parent = single(incoming[TRACEPARENT])?.trim();
  if (parent === undefined || !TRACEPARENT_SHAPE.test(parent)) return;
  headers[TRACEPARENT] = parent;
  const state = incoming[TRACESTATE];
  // Several tracestate headers are one list, joined with commas (RFC 9110 field lines).
  const joined = Array.isArray(state) ? state.join(',') : state;
  if (joined !== undefined && joined !== '' && joined.length <= MAX_TRACESTATE)
    headers[TRACESTATE] = joined;
}
