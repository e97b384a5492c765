// Pushes each proxy pod the table it should run and tracks what each one
// acknowledged. Programmed status comes from these acknowledgements only.
import { z } from 'zod';
import { namespaceAdminToken, podAdminToken } from '../proxy/admin/admin-token.js';
import { proxyQuotaStats, type QuotaAssignment } from '../quota/protocol.js';
import { scoreSketchWire } from '../routing/difficulty/calibration/score-sketch.js';
import type { RoutingTable } from '../routing/table.js';
import type { Logger } from '../telemetry/logger.js';

export interface ProxyPod {
  /** `<namespace>/<name>` of the Pod. */
  key: string;
  namespace: string;
  name: string;
  uid: string;
  labels: Record<string, string>;
  /** e.g. http://10.0.0.7:9901 */
  adminUrl: string;
  /**
   * The pod's proxy holds its own admin token (podAdminToken), delivered by
   * the credential endpoint, and no Secret: it is pushed with that token only.
   */
  adminTokenDelivered?: boolean | undefined;
}

const count = z.number().int().nonnegative();

/** What a proxy's `GET /admin/v1/stats` answers: only the fields the controller uses. */
const proxyStatsBody = z.object({
  tableVersion: z.string().nullable(),
  /** Seconds since the proxy process started: its counters began at zero then. */
  uptimeSeconds: z.number().nonnegative().optional(),
  backends: z.array(
    z.object({
      backendId: z.string(),
      requests: count,
      successes: count,
      failures: z.record(z.string(), count),
      latencyEwmaMs: z.number().nonnegative().optional(),
    }),
  ),
  /** Cumulative requests and cost per route (absent from proxies older than this field). */
  routes: z
    .array(z.object({ routeId: z.string(), requests: count, costUsd: z.number().nonnegative() }))
    .default([]),
  /**
   * Per strongShare rule: cumulative decisions and strong ones, and the
   * proxy's recent scores (absent from proxies older than this field).
   */
  calibration: z
    .array(
      z.object({
        routeId: z.string(),
        rule: z.string(),
        targetStrongShare: z.number().min(0).max(1),
        threshold: z.number().min(0).max(1),
        decisions: count,
        strong: count,
        sketch: scoreSketchWire,
      }),
    )
    .default([]),
  /**
   * Backends of its table the proxy cannot get an API key for, with a
   * secret-free reason and fix (absent from proxies older than this field:
   * nothing is claimed about them).
   */
  /** Fleet limits and spend (issue 14; absent from older proxies). */
  quotas: proxyQuotaStats.optional(),
  credentials: z
    .object({
      unavailable: z
        .array(z.object({ backendId: z.string(), reason: z.string().max(2048) }))
        .max(1024),
    })
    .optional(),
});
export type ProxyStats = z.infer<typeof proxyStatsBody>;
export type ProxyBackendStats = ProxyStats['backends'][number];
export type ProxyCalibrationStats = ProxyStats['calibration'][number];

/** A push failure as status may show it, with what an operator should check. */
function pushErrorText(err: unknown, pod: ProxyPod): string {
  const message = err instanceof Error ? err.message : String(err);
  if (message.startsWith('HTTP 401'))
    return pod.adminTokenDelivered
      ? `${message} (the proxy has not received its admin token from the controller's credential endpoint yet; its log says why if it cannot reach it)`
      : `${message} (the proxy refused the controller's admin token: the proxy's --admin-token Secret differs from the controller's)`;
  if ((err as Error).name === 'TimeoutError') return 'no answer from its admin port in time';
  const cause = (err as { cause?: { code?: string } }).cause?.code;
  return cause ? `${message} (${cause}: is the admin port reachable?)` : message;
}

interface PodState {
  pod: ProxyPod;
  desired: RoutingTable | undefined;
  acked: string | undefined;
  /** The table object behind `acked` (same version), when the pod acknowledged one we pushed; else undefined. */
  ackedTable: RoutingTable | undefined;
  pushing: boolean;
  failures: number;
  retryTimer: NodeJS.Timeout | undefined;
  lastError: string | undefined;
  quota: QuotaPushState;
}

/** Where quota pushes to one pod stand (issue 14). */
interface QuotaPushState {
  inFlight: boolean;
  /** The newest assignment not yet sent because one was in flight: latest wins. */
  pending: QuotaAssignment | undefined;
  /** The last assignment the proxy accepted, and when. */
  acked: { assignment: QuotaAssignment; atMs: number } | undefined;
  /** Whether the last push failed (the proxy may still hold an older assignment). */
  failing: boolean;
  /** The proxy answered 404: it predates fleet quotas; left alone. */
  unsupported: boolean;
}

/** What the quota coordinator knows of a pod's quota pushes. */
export interface QuotaPushView {
  acked: { assignment: QuotaAssignment; atMs: number } | undefined;
  failing: boolean;
  unsupported: boolean;
}

/** fleet: every proxy gets the admin token itself; namespace: each gets its namespace's derived token. */
export type AdminTokenScope = 'fleet' | 'namespace';

export interface ProxyFleetOptions {
  adminToken: string;
  /** Which token a proxy is sent (default fleet); see namespaceAdminToken. */
  adminTokenScope?: AdminTokenScope | undefined;
  logger: Logger;
  now?: () => number;
  /** Called when a pod acknowledges a table, loses its acknowledgement, or starts refusing pushes. */
  onAckChange: (pod: ProxyPod) => void;
  onPushed?: (pod: ProxyPod, version: string, seconds: number) => void;
  requestTimeoutMs?: number;
  /** Bound on one quota push (default 2 s, the collection interval: a newer one follows anyway). */
  quotaTimeoutMs?: number;
  baseRetryMs?: number;
  maxRetryMs?: number;
}

export class ProxyFleet {
  private readonly pods = new Map<string, PodState>();
  private stopped = false;
  private readonly bearers = new Map<string, string>();

  constructor(private readonly options: ProxyFleetOptions) {}

  /**
   * The Authorization header a pod is sent: its own token when it was given
   * one (whatever the scope), never the fleet token when tokens are scoped.
   */
  private bearer(pod: ProxyPod): string {
    // HMAC of ~80 bytes, about a microsecond: not worth a cache keyed by pod.
    if (pod.adminTokenDelivered)
      return `Bearer ${podAdminToken(this.options.adminToken, pod.namespace, pod.name, pod.uid)}`;
    if (this.options.adminTokenScope !== 'namespace') return `Bearer ${this.options.adminToken}`;
    let header = this.bearers.get(pod.namespace);
    if (header === undefined) {
      header = `Bearer ${namespaceAdminToken(this.options.adminToken, pod.namespace)}`;
      this.bearers.set(pod.namespace, header);
    }
    return header;
  }

  /** Sets what a pod should run; pushes at once if it does not run it yet. */
  setDesired(pod: ProxyPod, table: RoutingTable): void {
    let state = this.pods.get(pod.key);
    if (!state || state.pod.uid !== pod.uid || state.pod.adminUrl !== pod.adminUrl) {
      // New or restarted pod: whatever it ran before is unknown.
      if (state) clearTimeout(state.retryTimer);
      state = {
        pod,
        desired: undefined,
        acked: undefined,
        ackedTable: undefined,
        pushing: false,
        failures: 0,
        retryTimer: undefined,
        lastError: undefined,
        quota: {
          inFlight: false,
          pending: undefined,
          acked: undefined,
          failing: false,
          unsupported: false,
        },
      };
      this.pods.set(pod.key, state);
    }
    state.pod = pod;
    const changed = state.desired?.version !== table.version;
    state.desired = table;
    if (changed && state.acked !== table.version) {
      state.failures = 0;
      clearTimeout(state.retryTimer);
      state.retryTimer = undefined;
      void this.push(state);
    }
  }

  remove(podKey: string): void {
    const state = this.pods.get(podKey);
    if (!state) return;
    clearTimeout(state.retryTimer);
    this.pods.delete(podKey);
  }

  keys(): string[] {
    return [...this.pods.keys()];
  }

  /** The version a pod acknowledged, if it acknowledged the one it should run. */
  programmedVersion(podKey: string): string | undefined {
    const state = this.pods.get(podKey);
    return state?.acked !== undefined && state.acked === state.desired?.version
      ? state.acked
      : undefined;
  }

  /** Why the last push to a pod failed, while it has not acknowledged what it should run. */
  pushError(podKey: string): string | undefined {
    const state = this.pods.get(podKey);
    return state && state.acked !== state.desired?.version ? state.lastError : undefined;
  }

  desiredTable(podKey: string): RoutingTable | undefined {
    return this.pods.get(podKey)?.desired;
  }

  /**
   * The table a pod acknowledged and, as far as we know, still runs — the
   * desired one or an older one (a route unchanged between the two is served
   * as declared meanwhile).
   */
  runningTable(podKey: string): RoutingTable | undefined {
    return this.pods.get(podKey)?.ackedTable;
  }

  /**
   * Tells the fleet what version a pod reports running (from its stats); a
   * mismatch (a restarted proxy serving an older persisted table) triggers a push.
   */
  observeRunningVersion(podKey: string, version: string | null): void {
    const state = this.pods.get(podKey);
    if (!state) return;
    if (state.acked !== undefined && version !== state.acked) {
      this.options.logger.info('proxy runs another table than it acknowledged; pushing again', {
        pod: podKey,
        running: version,
        acked: state.acked,
      });
      state.acked = version ?? undefined;
      state.ackedTable = version === state.desired?.version ? state.desired : undefined;
      this.options.onAckChange(state.pod);
    }
    if (
      state.desired &&
      version !== state.desired.version &&
      !state.pushing &&
      state.retryTimer === undefined
    ) {
      void this.push(state);
    }
  }

  // Pods that run the same table share one object: serialize it once, not per pod.
  // As bytes: a string body is encoded again for every request (50 proxies, 50 copies).
  private readonly bodies = new WeakMap<RoutingTable, Buffer>();
  private serialized(table: RoutingTable): Buffer {
    let body = this.bodies.get(table);
    if (body === undefined) {
      body = Buffer.from(JSON.stringify(table));
      this.bodies.set(table, body);
    }
    return body;
  }

  private async push(state: PodState): Promise<void> {
    if (this.stopped || state.pushing || !state.desired) return;
    const table = state.desired;
    state.pushing = true;
    const started = Date.now();
    try {
      const res = await fetch(`${state.pod.adminUrl}/admin/v1/table`, {
        method: 'PUT',
        headers: {
          'content-type': 'application/json',
          authorization: this.bearer(state.pod),
        },
        body: this.serialized(table),
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5_000),
      });
      const body = (await res.json().catch(() => ({}))) as {
        version?: string;
        error?: { message?: string };
      };
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.error?.message ?? 'no message'}`);
      if (body.version !== table.version)
        throw new Error(`proxy acknowledged ${String(body.version)}, expected ${table.version}`);
      state.acked = table.version;
      state.ackedTable = table;
      state.failures = 0;
      state.lastError = undefined;
      this.options.onPushed?.(state.pod, table.version, (Date.now() - started) / 1000);
      this.options.onAckChange(state.pod);
    } catch (err) {
      state.failures += 1;
      const firstError = state.lastError === undefined;
      state.lastError = pushErrorText(err, state.pod);
      const base = this.options.baseRetryMs ?? 200;
      const delay = Math.min(
        this.options.maxRetryMs ?? 30_000,
        base * 2 ** Math.min(state.failures - 1, 16),
      );
      this.options.logger.warn('table push failed; will retry', {
        pod: state.pod.key,
        version: table.version,
        attempt: state.failures,
        retryInMs: delay,
        error: state.lastError,
      });
      // Status names the failing pod: look at its routes again when it starts failing.
      if (firstError) this.options.onAckChange(state.pod);
      if (!this.stopped && this.pods.get(state.pod.key) === state) {
        state.retryTimer = setTimeout(() => {
          state.retryTimer = undefined;
          void this.push(state);
        }, delay);
      }
    } finally {
      state.pushing = false;
    }
    // The desired table moved on while we pushed: push the new one.
    if (
      !this.stopped &&
      state.desired &&
      state.desired.version !== state.acked &&
      state.retryTimer === undefined &&
      this.pods.get(state.pod.key) === state
    ) {
      void this.push(state);
    }
  }

  /**
   * Sends a pod its quota assignment (PUT /admin/v1/quotas). At most one push
   * per pod is in flight: an assignment made meanwhile waits and replaces any
   * older waiting one (latest wins), so a slow proxy never piles requests up.
   */
  pushQuotas(podKey: string, assignment: QuotaAssignment): void {
    const state = this.pods.get(podKey);
    if (!state || this.stopped || state.quota.unsupported) return;
    if (state.quota.inFlight) {
      state.quota.pending = assignment;
      return;
    }
    void this.sendQuotas(state, assignment);
  }

  /** Where quota pushes to a pod stand; undefined for a pod the fleet does not know. */
  quotaPush(podKey: string): QuotaPushView | undefined {
    const q = this.pods.get(podKey)?.quota;
    return q && { acked: q.acked, failing: q.failing, unsupported: q.unsupported };
  }

  private async sendQuotas(state: PodState, assignment: QuotaAssignment): Promise<void> {
    const q = state.quota;
    q.inFlight = true;
    try {
      const res = await fetch(`${state.pod.adminUrl}/admin/v1/quotas`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', authorization: this.bearer(state.pod) },
        body: JSON.stringify(assignment),
        signal: AbortSignal.timeout(this.options.quotaTimeoutMs ?? 2_000),
      });
      const body = (await res.json().catch(() => ({}))) as { error?: { message?: string } };
      if (res.status === 404) {
        // A proxy older than fleet quotas: it enforces each limit on its own, as before.
        q.unsupported = true;
        q.pending = undefined;
        this.options.logger.warn(
          'proxy does not take quota assignments (older than fleet-wide limits); its limits hold per proxy until it is upgraded',
          { pod: state.pod.key },
        );
        return;
      }
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.error?.message ?? 'no message'}`);
      q.acked = { assignment, atMs: this.options.now?.() ?? Date.now() };
      q.failing = false;
    } catch (err) {
      if (!q.failing)
        this.options.logger.warn('quota push failed; the next collection pushes again', {
          pod: state.pod.key,
          sequence: assignment.sequence,
          error: pushErrorText(err, state.pod),
        });
      q.failing = true;
    } finally {
      q.inFlight = false;
    }
    const next = q.pending;
    q.pending = undefined;
    if (next && !this.stopped && this.pods.get(state.pod.key) === state)
      void this.sendQuotas(state, next);
  }

  /** Reads each pod's outcome stats (and the table version it runs). */
  async collectStats(): Promise<Map<string, ProxyStats>> {
    const out = new Map<string, ProxyStats>();
    await Promise.all(
      [...this.pods.values()].map(async (state) => {
        try {
          const res = await fetch(`${state.pod.adminUrl}/admin/v1/stats`, {
            headers: { authorization: this.bearer(state.pod) },
            signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5_000),
          });
          if (!res.ok) return;
          const parsed = proxyStatsBody.safeParse(await res.json());
          if (!parsed.success) {
            this.options.logger.warn('proxy stats not understood; ignored', {
              pod: state.pod.key,
              problem: parsed.error.issues[0]?.message,
              path: parsed.error.issues[0]?.path.join('.'),
            });
            return;
          }
          out.set(state.pod.key, parsed.data);
        } catch {
          // An unreachable proxy is reported by its push state and pod readiness.
        }
      }),
    );
    return out;
  }

  stop(): void {
    this.stopped = true;
    for (const state of this.pods.values()) clearTimeout(state.retryTimer);
  }
}
