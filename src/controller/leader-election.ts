// Lease-based leader election, following client-go's leaderelection: one
// replica leads, standbys take over when the Lease expires or is released.
import { KubeApiError, type KubeClient, type ResourceKind } from '../k8s/types.js';
import { systemClock, type Clock, type Timer } from './clock.js';

export interface Lease {
  apiVersion: 'coordination.k8s.io/v1';
  kind: 'Lease';
  metadata: { name: string; namespace?: string; resourceVersion?: string };
  /** null is accepted everywhere (a Go client may send it for a nil pointer); we read it as absent. */
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number | null;
    acquireTime?: string | null;
    renewTime?: string | null;
    leaseTransitions?: number | null;
  };
}

export interface LeaderElectionOptions {
  client: KubeClient;
  /** coordination.k8s.io/v1 leases, passed in so this module does not depend on the kind registry. */
  leaseKind: ResourceKind<Lease>;
  namespace: string;
  name: string;
  /** This replica's name in the Lease; must be unique among candidates (the pod name). */
  identity: string;
  /** How long standbys wait, after last seeing the Lease change, before taking it. */
  leaseDurationMs: number;
  /** How long the leader keeps leading without a successful renewal. */
  renewDeadlineMs: number;
  /** How often to try acquiring, and to renew while leading. */
  retryPeriodMs: number;
  clock?: Clock;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  /** Called whenever a different holder is observed, including ourselves. */
  onNewLeader?: (identity: string) => void;
  /** Told about failed attempts (normal while the API server is unreachable). */
  onError?: (err: Error) => void;
}

export interface LeaderElectionTiming {
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

/**
 * The controller's timings from its --lease-duration, in client-go's
 * proportions (15 s / 10 s / 2 s by default).
 */
export function leaderElectionTiming(leaseDurationMs: number): LeaderElectionTiming {
  return {
    leaseDurationMs,
    renewDeadlineMs: Math.round(leaseDurationMs * (2 / 3)),
    retryPeriodMs: Math.max(200, Math.round(leaseDurationMs / 7.5)),
  };
}

/**
 * The longest a standby takes to lead after the leader dies without releasing
 * the Lease (SIGKILL, node loss), API calls aside. The standby judges expiry
 * from when it last saw the Lease change, which it sees only on its next
 * retry after the leader's last renewal: up to one retry period late. Then it
 * waits the lease duration, and notices expiry on a retry: up to one more.
 * So leaseDuration + 2 × retryPeriod: 19 s by default (measured 16.7-16.9 s after SIGKILL).
 * A leader that stops cleanly releases the Lease: a standby leads on its next retry.
 */
export function takeoverBoundMs(timing: LeaderElectionTiming): number {
  return timing.leaseDurationMs + 2 * timing.retryPeriodMs;
}

/** Kubernetes MicroTime: RFC 3339 with exactly six fractional digits, in UTC. */
export function formatMicroTime(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-01-01T00:00:00.000Z
  return `${iso.slice(0, -1)}000Z`;
}

const isConflict = (err: unknown): boolean => err instanceof KubeApiError && err.status === 409;

/** The fields whose change tells a standby the holder is alive (client-go compares the raw record). */
const recordOf = (lease: Lease): string =>
  JSON.stringify([
    lease.spec.holderIdentity ?? '',
    lease.spec.leaseDurationSeconds ?? null,
    lease.spec.acquireTime ?? null,
    lease.spec.renewTime ?? null,
    lease.spec.leaseTransitions ?? null,
  ]);

export class LeaderElector {
  private readonly clock: Clock;
  private readonly ref: { namespace: string; name: string };
  private readonly leaseDurationSeconds: number;

  private running = false;
  /** Bumped by start(), so an attempt from before a stop/start cycle cannot fork a second loop. */
  private generation = 0;
  private leading = false;
  private timer: Timer | undefined;
  private deadlineTimer: Timer | undefined;
  private inFlight: Promise<void> | undefined;

  /** The last Lease we read or wrote (its resourceVersion is what we replace against). */
  private lastLease: Lease | undefined;
  private observedRecord = '';
  /** When WE saw the record last change: expiry is judged by our clock, never the holder's timestamps. */
  private observedAt = 0;
  private reportedLeader: string | undefined;

  constructor(private readonly options: LeaderElectionOptions) {
    const { leaseDurationMs, renewDeadlineMs, retryPeriodMs } = options;
    if (!(
      retryPeriodMs > 0 &&
      renewDeadlineMs > retryPeriodMs &&
      leaseDurationMs > renewDeadlineMs
    )) {
      // Otherwise a leader could still act after a standby has taken over.
      throw new Error(
        `leader election: need leaseDurationMs (${leaseDurationMs}) > renewDeadlineMs (${renewDeadlineMs}) > retryPeriodMs (${retryPeriodMs}) > 0`,
      );
    }
    this.clock = options.clock ?? systemClock;
    this.ref = { namespace: options.namespace, name: options.name };
    this.leaseDurationSeconds = Math.ceil(leaseDurationMs / 1000);
  }

  get isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.generation++;
    this.schedule(0);
  }

  /** Stops leading (onStoppedLeading first, so work stops before anyone else starts) and releases the Lease. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    // An attempt still in flight could re-take the Lease after we release it.
    await this.inFlight;
    this.stepDown();
    try {
      await this.withTimeout(this.release(), this.options.renewDeadlineMs);
    } catch (err) {
      this.report('releasing the lease failed; standbys take over once it expires', err);
    }
  }

  private schedule(ms: number): void {
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      const attempt: Promise<void> = this.tick().finally(() => {
        if (this.inFlight === attempt) this.inFlight = undefined;
      });
      this.inFlight = attempt;
    }, ms);
  }

  private async tick(): Promise<void> {
    const generation = this.generation;
    const startedAt = this.clock.now();
    let acquired = false;
    try {
      acquired = await this.withTimeout(
        this.tryAcquireOrRenew(startedAt),
        this.options.renewDeadlineMs,
      );
    } catch (err) {
      this.report(this.leading ? 'renewing the lease failed' : 'acquiring the lease failed', err);
    }
    if (!this.running || generation !== this.generation) return;
    if (acquired) this.renewed(startedAt);
    else if (this.leading && this.heldByAnother()) this.stepDown();
    this.schedule(this.options.retryPeriodMs);
  }

  private renewed(at: number): void {
    // Step down renewDeadline after this renewal unless a later one succeeds;
    // a timer rather than a check on the next failure, so a hung request cannot keep us leading.
    this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = this.clock.setTimeout(
      () => {
        this.deadlineTimer = undefined;
        this.report(
          `could not renew the lease within ${this.options.renewDeadlineMs} ms; stopping leading`,
        );
        this.stepDown();
      },
      Math.max(0, at + this.options.renewDeadlineMs - this.clock.now()),
    );
    if (this.leading) return;
    this.leading = true;
    this.call(this.options.onStartedLeading, 'onStartedLeading');
  }

  private stepDown(): void {
    this.clock.clearTimeout(this.deadlineTimer);
    this.deadlineTimer = undefined;
    if (!this.leading) return;
    this.leading = false;
    this.call(this.options.onStoppedLeading, 'onStoppedLeading');
  }

  /** True when the Lease is ours now (created, taken over or renewed). */
  private async tryAcquireOrRenew(now: number): Promise<boolean> {
    const { client, leaseKind, identity } = this.options;
    const nowTime = formatMicroTime(now);
    const current = await client.get(leaseKind, this.ref);
    if (!current) {
      const lease: Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { ...this.ref },
        spec: {
          holderIdentity: identity,
          leaseDurationSeconds: this.leaseDurationSeconds,
          acquireTime: nowTime,
          renewTime: nowTime,
          leaseTransitions: 0,
        },
      };
      try {
        this.observe(await client.create(leaseKind, lease), now);
        return true;
      } catch (err) {
        if (isConflict(err)) return false; // another candidate created it first
        throw err;
      }
    }

    this.observe(current, now);
    const holder = current.spec.holderIdentity ?? '';
    const durationMs = (current.spec.leaseDurationSeconds ?? this.leaseDurationSeconds) * 1000;
    if (holder !== '' && holder !== identity && this.observedAt + durationMs > now) return false;

    const ours = holder === identity;
    const transitions = current.spec.leaseTransitions ?? 0;
    const next: Lease = {
      ...current,
      spec: {
        ...current.spec,
        holderIdentity: identity,
        leaseDurationSeconds: this.leaseDurationSeconds,
        acquireTime: ours ? (current.spec.acquireTime ?? nowTime) : nowTime,
        renewTime: nowTime,
        leaseTransitions: ours ? transitions : transitions + 1,
      },
    };
    try {
      this.observe(await client.replace(leaseKind, next), now);
      return true;
    } catch (err) {
      if (isConflict(err)) return false; // someone wrote it since our read: a normal race
      throw err;
    }
  }

  private observe(lease: Lease, now: number): void {
    this.lastLease = lease;
    const record = recordOf(lease);
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = now;
    }
    const holder = lease.spec.holderIdentity ?? '';
    if (holder !== '' && holder !== this.reportedLeader) {
      this.reportedLeader = holder;
      const onNewLeader = this.options.onNewLeader;
      if (onNewLeader) this.call(() => onNewLeader(holder), 'onNewLeader');
    }
  }

  private heldByAnother(): boolean {
    const holder = this.lastLease?.spec.holderIdentity ?? '';
    return holder !== '' && holder !== this.options.identity;
  }

  /** Clears holderIdentity so a standby takes over on its next try instead of after leaseDuration. */
  private async release(): Promise<void> {
    const { client, leaseKind, identity } = this.options;
    for (let attempt = 0; attempt < 2; attempt++) {
      const lease = attempt === 0 ? this.lastLease : await client.get(leaseKind, this.ref);
      if (!lease || lease.spec.holderIdentity !== identity) return;
      const nowTime = formatMicroTime(this.clock.now());
      const released: Lease = {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: null,
          leaseDurationSeconds: 1,
          acquireTime: nowTime,
          renewTime: nowTime,
        },
      };
      try {
        this.lastLease = await client.replace(leaseKind, released);
        return;
      } catch (err) {
        if (!isConflict(err)) throw err; // stale resourceVersion: re-read once and retry
      }
    }
  }

  private withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.clock.setTimeout(
        () =>
          reject(
            new Error(`lease ${this.ref.namespace}/${this.ref.name}: no answer within ${ms} ms`),
          ),
        ms,
      );
      promise.then(
        (value) => {
          this.clock.clearTimeout(timer);
          resolve(value);
        },
        (err: unknown) => {
          this.clock.clearTimeout(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  private call(fn: () => void, name: string): void {
    try {
      fn();
    } catch (err) {
      this.report(`${name} threw`, err);
    }
  }

  private report(message: string, cause?: unknown): void {
    const lease = `${this.ref.namespace}/${this.ref.name}`;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    try {
      this.options.onError?.(
        new Error(
          `leader election (${this.options.identity}, lease ${lease}): ${message}${detail}`,
          {
            cause,
          },
        ),
      );
    } catch {
      // Logging must never break the election loop.
    }
  }
}
