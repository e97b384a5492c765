// Backend health with hysteresis: N failures in a row to go Unhealthy, M
// successes in a row to come back, so one blip does not move traffic.
import type { HealthState } from '../api/v1alpha1/index.js';

export interface HealthThresholds {
  unhealthyThreshold: number;
  healthyThreshold: number;
}

export interface HealthRecord {
  state: HealthState;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastProbeTime?: number;
  lastTransitionTime?: number;
  /** What the last observation said (probe error, status). */
  message?: string;
  /** CamelCase cause of the last failed observation (e.g. EndpointPathNotFound); absent after a success. */
  reason?: string;
}

export interface HealthTransition {
  backendId: string;
  from: HealthState;
  to: HealthState;
  record: HealthRecord;
}

export class BackendHealthTracker {
  private readonly records = new Map<string, HealthRecord>();

  constructor(private readonly now: () => number) {}

  get(backendId: string): HealthRecord {
    return (
      this.records.get(backendId) ?? {
        state: 'Unknown',
        consecutiveFailures: 0,
        consecutiveSuccesses: 0,
      }
    );
  }

  /** Records one probe (or outcome window) result; returns the transition if the state changed. */
  observe(
    backendId: string,
    ok: boolean,
    thresholds: HealthThresholds,
    message?: string,
    reason?: string,
  ): HealthTransition | undefined {
    const previous = this.get(backendId);
    const record: HealthRecord = {
      ...previous,
      consecutiveFailures: ok ? 0 : previous.consecutiveFailures + 1,
      consecutiveSuccesses: ok ? previous.consecutiveSuccesses + 1 : 0,
      lastProbeTime: this.now(),
    };
    if (message !== undefined) record.message = message;
    else delete record.message;
    if (!ok && reason !== undefined) record.reason = reason;
    else delete record.reason;
    let next = previous.state;
    if (ok) {
      // From Unknown one success will do: there is no failure to get over.
      const needed = previous.state === 'Unknown' ? 1 : thresholds.healthyThreshold;
      if (previous.state !== 'Healthy' && record.consecutiveSuccesses >= needed) next = 'Healthy';
    } else if (
      previous.state !== 'Unhealthy' &&
      record.consecutiveFailures >= thresholds.unhealthyThreshold
    ) {
      next = 'Unhealthy';
    }
    record.state = next;
    if (next !== previous.state) record.lastTransitionTime = this.now();
    this.records.set(backendId, record);
    return next !== previous.state
      ? { backendId, from: previous.state, to: next, record }
      : undefined;
  }

  /**
   * Starts a backend from a state observed earlier (a new leader reads it from
   * status), so only a real change is a transition: a takeover must not
   * announce every backend as newly Healthy. No-op once the backend has a record.
   */
  seed(backendId: string, state: HealthState, lastTransitionTime?: number): void {
    if (this.records.has(backendId) || state === 'Unknown') return;
    const record: HealthRecord = { state, consecutiveFailures: 0, consecutiveSuccesses: 0 };
    if (lastTransitionTime !== undefined) record.lastTransitionTime = lastTransitionTime;
    this.records.set(backendId, record);
  }

  /** Forgets backends that no longer exist. */
  retain(backendIds: Iterable<string>): void {
    const keep = new Set(backendIds);
    for (const id of this.records.keys()) if (!keep.has(id)) this.records.delete(id);
  }

  states(): Map<string, HealthState> {
    return new Map([...this.records].map(([id, r]) => [id, r.state]));
  }
}
