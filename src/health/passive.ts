// Passive health: what the proxies saw when they called a backend, summed
// over one stats window, read as one health observation. Active probes see
// only whether an endpoint answers a probe; calls tell whether it serves.
// Both feed the same hysteresis, so a window counts like one probe.

/** Outcomes the proxies reported for one backend since the previous window. */
export interface OutcomeWindow {
  requests: number;
  /** Failures the backend is to blame for (client errors excluded). */
  failures: number;
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
  return {
    ok,
    message: `proxies saw ${window.failures} of ${window.requests} calls fail (${percent}%)`,
  };
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
    return {
      requests: totals.requests - prev.requests,
      failures: totals.failures - prev.failures,
    };
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
      pending = { requests: 0, failures: 0, since: this.now() };
      this.pending.set(backendId, pending);
    }
    pending.requests += window.requests;
    pending.failures += window.failures;
    const observation = passiveObservation(pending, this.policy);
    if (observation) this.pending.delete(backendId);
    return observation;
  }
}
