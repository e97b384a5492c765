// Passive health: what the proxies saw when they called a backend, summed
// over one stats window, read as one health observation. Active probes see
// only whether an endpoint answers a probe; calls tell whether it serves.
// Both feed the same hysteresis, so a window counts like one probe.

import { ConditionReason } from '../api/v1alpha1/conditions.js';

/**
 * Failure kinds in a proxy's admin stats (`failures` per backend) that name a
 * cause the controller reports as the backend's health reason. The proxy
 * counts an upstream 401/403 to a call carrying the backend's own key as
 * `auth-refused`, and a 404 for the API path as `endpoint-not-found`: both are
 * the backend's (its key, its URL), never the client's.
 */
export const OUTCOME_AUTH_REFUSED = 'auth-refused';
export const OUTCOME_ENDPOINT_NOT_FOUND = 'endpoint-not-found';
/** The kind that is the client's doing and never counts against a backend. */
export const OUTCOME_CLIENT_ERROR = 'client-error';

/** Outcomes the proxies reported for one backend since the previous window. */
export interface OutcomeWindow {
  /** Calls that finished, client errors excluded. */
  requests: number;
  /** Failures the backend is to blame for (client errors excluded). */
  failures: number;
  /** Of those, refused credentials (`auth-refused`). */
  authRefused?: number;
  /** Of those, 404s for the API path (`endpoint-not-found`). */
  notFound?: number;
}

/** Adds `delta` into `into` (windows from several proxies make one). */
export function addOutcomes(into: OutcomeWindow, delta: OutcomeWindow): void {
  into.requests += delta.requests;
  into.failures += delta.failures;
  into.authRefused = (into.authRefused ?? 0) + (delta.authRefused ?? 0);
  into.notFound = (into.notFound ?? 0) + (delta.notFound ?? 0);
}

/**
 * One proxy's cumulative counters for a backend as an outcome window: the
 * attempts that finished (successes and failures the backend is to blame for),
 * by kind. Never the attempts begun: those include calls still in flight, and
 * a window that counted them would read calls hanging on a dead backend as
 * calls that had not failed (seen on a real node, where a killed pod's address
 * times out rather than refusing).
 */
export function outcomeTotals(
  successes: number,
  failures: Readonly<Record<string, number>>,
): OutcomeWindow {
  let total = 0;
  for (const [kind, n] of Object.entries(failures)) if (kind !== OUTCOME_CLIENT_ERROR) total += n;
  return {
    requests: successes + total,
    failures: total,
    authRefused: failures[OUTCOME_AUTH_REFUSED] ?? 0,
    notFound: failures[OUTCOME_ENDPOINT_NOT_FOUND] ?? 0,
  };
}

export interface PassiveHealthPolicy {
  /** Fewer calls than this say nothing either way (windows add up until there are enough). */
  minRequests: number;
  /** A window whose failure share reaches this counts as a failed observation. */
  failureRatio: number;
  /** Calls older than this no longer add up to an observation. */
  maxAgeMs: number;
}

export const DEFAULT_PASSIVE_POLICY: PassiveHealthPolicy = {
  minRequests: 5,
  failureRatio: 0.5,
  maxAgeMs: 60_000,
};

export interface PassiveObservation {
  ok: boolean;
  message: string;
  /** Why, when not ok: CredentialRefused, EndpointPathNotFound or CallsFailing. */
  reason?: string;
}

/** One window read as a health observation, or undefined when it is too small to count. */
export function passiveObservation(
  window: OutcomeWindow,
  policy: Pick<PassiveHealthPolicy, 'minRequests' | 'failureRatio'> = DEFAULT_PASSIVE_POLICY,
): PassiveObservation | undefined {
  if (window.requests < policy.minRequests) return undefined;
  const ratio = Math.min(1, window.failures / window.requests);
  const percent = Math.round(ratio * 100);
  const ok = ratio < policy.failureRatio;
  const message = `proxies saw ${window.failures} of ${window.requests} calls fail (${percent}%)`;
  if (ok) return { ok, message };
  // The cause that explains at least half the failures names the reason.
  const authRefused = window.authRefused ?? 0;
  const notFound = window.notFound ?? 0;
  if (authRefused * 2 >= window.failures && authRefused > 0) {
    return {
      ok,
      reason: ConditionReason.CredentialRefused,
      message: `${message}; ${authRefused} refused the credential (HTTP 401/403): the key in spec.secretRef's Secret was refused, rotate it`,
    };
  }
  if (notFound * 2 >= window.failures && notFound > 0) {
    return {
      ok,
      reason: ConditionReason.EndpointPathNotFound,
      message: `${message}; ${notFound} answered HTTP 404: endpoint path not found, check spec.endpoint`,
    };
  }
  return { ok, reason: ConditionReason.CallsFailing, message };
}

/**
 * Turns cumulative per-backend counters (which only grow while a proxy lives)
 * into per-window deltas. A counter that went down means a proxy restarted:
 * that window counts what the new process reported.
 */
export class OutcomeWindows {
  private readonly previous = new Map<string, OutcomeWindow>();

  next(backendId: string, totals: OutcomeWindow): OutcomeWindow {
    const prev = this.previous.get(backendId) ?? { requests: 0, failures: 0 };
    this.previous.set(backendId, { ...totals });
    const restarted = totals.requests < prev.requests || totals.failures < prev.failures;
    if (restarted) return { ...totals };
    const delta: OutcomeWindow = {
      requests: totals.requests - prev.requests,
      failures: totals.failures - prev.failures,
    };
    if (totals.authRefused !== undefined)
      delta.authRefused = Math.max(0, totals.authRefused - (prev.authRefused ?? 0));
    if (totals.notFound !== undefined)
      delta.notFound = Math.max(0, totals.notFound - (prev.notFound ?? 0));
    return delta;
  }

  /** Forgets backends that no longer exist. */
  retain(backendIds: Iterable<string>): void {
    const keep = new Set(backendIds);
    for (const id of this.previous.keys()) if (!keep.has(id)) this.previous.delete(id);
  }
}

/**
 * Adds up small windows until they hold enough calls to judge. A circuit
 * breaker in the proxies sheds a failing backend after a few calls, so the
 * evidence often arrives a little at a time.
 */
export class PassiveHealth {
  private readonly pending = new Map<string, OutcomeWindow & { since: number }>();

  constructor(
    private readonly now: () => number,
    private readonly policy: PassiveHealthPolicy = DEFAULT_PASSIVE_POLICY,
  ) {}

  record(backendId: string, window: OutcomeWindow): PassiveObservation | undefined {
    if (window.requests === 0) return undefined;
    let pending = this.pending.get(backendId);
    if (!pending || this.now() - pending.since > this.policy.maxAgeMs) {
      pending = { requests: 0, failures: 0, authRefused: 0, notFound: 0, since: this.now() };
      this.pending.set(backendId, pending);
    }
    addOutcomes(pending, window);
    const observation = passiveObservation(pending, this.policy);
    if (observation) this.pending.delete(backendId);
    return observation;
  }
}
