// Pushes each proxy pod the table it should run and tracks what each one
// acknowledged. Programmed status comes from these acknowledgements only.
import { LABELS_AFTER_PARAM, proxyLearningStats } from '../learning/wire.js';
import { attributionRowSchema } from '../finops/attribution.js';
import { latencyRowSchema } from '../finops/latency-histogram.js';
import { MAX_PROXY_ROWS } from '../finops/proxy-attribution.js';
import { request } from 'undici';
import { z } from 'zod';
import { namespaceAdminToken, podAdminToken } from '../proxy/admin/admin-token.js';
import { proxyQuotaStats, type QuotaAssignment } from '../quota/protocol.js';
import { scoreSketchWire } from '../routing/difficulty/calibration/score-sketch.js';
import type { RoutingTable, TableFormat } from '../routing/table.js';
import {
  chooseTableFormat,
  reportedTableFormats,
  tableFormatsReport,
  tableInFormat,
} from '../routing/table-format.js';
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
  /** Table formats the proxy reads (absent from 0.1.0 proxies: format 1 only). */
  tableFormats: tableFormatsReport.optional(),
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
  /** Attributed traffic and cost, cumulative (issue 16; absent from older proxies). */
  attribution: z
    .array(attributionRowSchema)
    .max(MAX_PROXY_ROWS + 1)
    .optional(),
  /** Latency histograms per route and backend, cumulative (issue 16). */
  latency: z.array(latencyRowSchema).max(MAX_PROXY_ROWS).optional(),
  /** Labelled vectors after the reader's cursor and learning counters (issue 17; absent from older proxies). */
  learning: proxyLearningStats.optional(),
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
  // fetch puts the socket error in `cause`; undici's request throws it as is.
  const cause =
    (err as { cause?: { code?: string } }).cause?.code ?? (err as { code?: string }).code;
  return cause ? `${message} (${cause}: is the admin port reachable?)` : message;
}

/** A table as one format puts it on the wire, or why that format cannot hold it. */
type WireTable =
  { ok: true; format: TableFormat; version: string; body: Buffer } | { ok: false; error: string };

interface PodState {
  pod: ProxyPod;
  desired: RoutingTable | undefined;
  /**
   * The table formats the proxy reported (undefined: none, a 0.1.0 proxy);
   * learned before the first push (GET /readyz), then from every answer.
   */
  formats: readonly number[] | undefined;
  formatsKnown: boolean;
  /** The version of the desired table in the pod's format: what it acknowledges when programmed. */
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
  /**
   * A pod started refusing or missing pushes of `table`, or fails in a new
   * way: once per streak and cause, not on every retry (the Events it feeds
   * would cost an API call per retry per route).
   */
  onPushFailed?: (pod: ProxyPod, table: RoutingTable, error: string) => void;
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
        formats: undefined,
        formatsKnown: false,
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
    if (changed && (state.acked === undefined || state.acked !== this.wireVersion(state))) {
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

  /** The version a pod acknowledged (in its table format), if it acknowledged the one it should run. */
  programmedVersion(podKey: string): string | undefined {
    const state = this.pods.get(podKey);
    return state?.acked !== undefined && state.acked === this.wireVersion(state)
      ? state.acked
      : undefined;
  }

  /** The table format a pod is sent, once known (1 for a 0.1.0 proxy). */
  tableFormat(podKey: string): TableFormat | undefined {
    const state = this.pods.get(podKey);
    if (!state?.formatsKnown) return undefined;
    const choice = chooseTableFormat(state.formats);
    return choice.ok ? choice.format : undefined;
  }

  /** Why the last push to a pod failed, while it has not acknowledged what it should run. */
  pushError(podKey: string): string | undefined {
    const state = this.pods.get(podKey);
    return state && (state.acked === undefined || state.acked !== this.wireVersion(state))
      ? state.lastError
      : undefined;
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
   * Tells the fleet what version a pod reports running, and the table formats
   * it reads (from its stats); a mismatch (a restarted proxy serving an older
   * persisted table, or a new proxy image in the same pod) triggers a push.
   */
  observeRunningVersion(
    podKey: string,
    version: string | null,
    formats: readonly number[] | undefined,
  ): void {
    const state = this.pods.get(podKey);
    if (!state) return;
    this.learnFormats(state, formats);
    if (state.acked !== undefined && version !== state.acked) {
      this.options.logger.info('proxy runs another table than it acknowledged; pushing again', {
        pod: podKey,
        running: version,
        acked: state.acked,
      });
      state.acked = version ?? undefined;
      state.ackedTable =
        version !== null && version === this.wireVersion(state) ? state.desired : undefined;
      this.options.onAckChange(state.pod);
    }
    if (
      state.desired &&
      version !== this.wireVersion(state) &&
      !state.pushing &&
      state.retryTimer === undefined
    ) {
      void this.push(state);
    }
  }

  // Pods that run the same table share one object: serialize it once per format, not per pod.
  // As bytes: a string body is encoded again for every request (50 proxies, 50 copies).
  private readonly wires = new WeakMap<RoutingTable, Map<TableFormat, WireTable>>();
  private wire(state: PodState, table = state.desired): WireTable | undefined {
    if (!table || !state.formatsKnown) return undefined;
    const choice = chooseTableFormat(state.formats);
    if (!choice.ok) return choice;
    let byFormat = this.wires.get(table);
    if (byFormat === undefined) {
      byFormat = new Map();
      this.wires.set(table, byFormat);
    }
    let wire = byFormat.get(choice.format);
    if (wire === undefined) {
      const formatted = tableInFormat(table, choice.format);
      wire = formatted.ok
        ? {
            ok: true,
            format: formatted.format,
            version: formatted.version,
            body: Buffer.from(JSON.stringify(formatted.table)),
          }
        : formatted;
      byFormat.set(choice.format, wire);
    }
    return wire;
  }

  /** The version the pod should acknowledge: the desired table's in the pod's format. */
  private wireVersion(state: PodState): string | undefined {
    const wire = this.wire(state);
    return wire?.ok ? wire.version : undefined;
  }

  /**
   * Records the formats a proxy reported (undefined: it reported none). A
   * proxy that newly reads another format is pushed the table in it.
   */
  private learnFormats(state: PodState, formats: readonly number[] | undefined): boolean {
    const same =
      state.formatsKnown &&
      (formats ?? []).join(',') === (state.formats ?? []).join(',') &&
      (formats === undefined) === (state.formats === undefined);
    if (same) return false;
    const before = this.wire(state);
    state.formats = formats;
    state.formatsKnown = true;
    const after = this.wire(state);
    if (after?.ok && after.format === 1)
      this.options.logger.info(
        'proxy reads table format 1 only (it reports no formats: release 0.1.0); sending it tables in format 1 until its sidecar is upgraded',
        { pod: state.pod.key },
      );
    return (before?.ok ? before.version : undefined) !== (after?.ok ? after.version : undefined);
  }

  /** The formats a proxy reads, from its readiness answer (no token needed): asked once, before the first push. */
  private async probeFormats(pod: ProxyPod): Promise<readonly number[] | undefined> {
    const res = await fetch(`${pod.adminUrl}/readyz`, {
      signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5_000),
    });
    return reportedTableFormats(await res.json().catch(() => undefined));
  }

  private async push(state: PodState): Promise<void> {
    if (this.stopped || state.pushing || !state.desired) return;
    let table = state.desired;
    state.pushing = true;
    const started = Date.now();
    let formatsChanged = false;
    let wire: WireTable | undefined;
    try {
      if (!state.formatsKnown) this.learnFormats(state, await this.probeFormats(state.pod));
      // Read after the probe, with the wire made from it: the desired table
      // may have moved on meanwhile, and what the pod acknowledges below must
      // be the table sent. (Taken before the probe, a table changed during it
      // was sent and acknowledged while the older one was recorded as running:
      // its routes stayed not Programmed until something else changed.)
      table = state.desired ?? table;
      wire = this.wire(state, table);
      if (!wire?.ok) {
        // Not worth retrying: only a new table or a new proxy changes this.
        const error = wire?.error ?? 'no table format known for this proxy';
        if (state.lastError !== error) {
          state.lastError = error;
          this.options.logger.warn('table cannot be sent to this proxy', {
            pod: state.pod.key,
            version: table.version,
            error,
          });
          this.options.onAckChange(state.pod);
          this.options.onPushFailed?.(state.pod, table, error);
        }
        return;
      }
      // undici's request, not fetch: fetch copies a Buffer body into a new
      // stream for every request (a 600 KB table to 50 proxies held 30-90 MB
      // of ArrayBuffers at 1,000 routes; see the heap snapshot in the RSS
      // note), request writes the one shared Buffer to every socket.
      const answer = await request(`${state.pod.adminUrl}/admin/v1/table`, {
        method: 'PUT',
        headers: {
          'content-type': 'application/json',
          authorization: this.bearer(state.pod),
        },
        body: wire.body,
        signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5_000),
      });
      const res = {
        ok: answer.statusCode >= 200 && answer.statusCode < 300,
        status: answer.statusCode,
      };
      const body = (await answer.body.json().catch(() => ({}))) as {
        version?: string;
        error?: { message?: string };
      };
      // Only the table endpoint's own answers speak for the proxy (a 503 from
      // something in between reports nothing). A refusal that reports other
      // formats than we thought (a new image in the same pod): send again at once.
      if (res.ok || res.status === 422)
        formatsChanged = this.learnFormats(state, reportedTableFormats(body));
      if (!res.ok) throw new Error(`HTTP ${res.status}: ${body.error?.message ?? 'no message'}`);
      if (body.version !== wire.version)
        throw new Error(`proxy acknowledged ${String(body.version)}, expected ${wire.version}`);
      state.acked = wire.version;
      state.ackedTable = table;
      state.failures = 0;
      state.lastError = undefined;
      this.options.onPushed?.(state.pod, wire.version, (Date.now() - started) / 1000);
      this.options.onAckChange(state.pod);
    } catch (err) {
      state.failures += 1;
      const previousError = state.lastError;
      const firstError = previousError === undefined;
      state.lastError = pushErrorText(err, state.pod);
      if (state.lastError !== previousError)
        this.options.onPushFailed?.(state.pod, table, state.lastError);
      const base = this.options.baseRetryMs ?? 200;
      const delay = Math.min(
        this.options.maxRetryMs ?? 30_000,
        base * 2 ** Math.min(state.failures - 1, 16),
      );
      this.options.logger.warn('table push failed; will retry', {
        pod: state.pod.key,
        version: wire?.ok ? wire.version : table.version,
        format: wire?.ok ? wire.format : undefined,
        attempt: state.failures,
        retryInMs: delay,
        error: state.lastError,
      });
      // Status names the failing pod: look at its routes again when it starts failing.
      if (firstError) this.options.onAckChange(state.pod);
      if (!formatsChanged && !this.stopped && this.pods.get(state.pod.key) === state) {
        state.retryTimer = setTimeout(() => {
          state.retryTimer = undefined;
          void this.push(state);
        }, delay);
      }
    } finally {
      state.pushing = false;
    }
    // The desired table (or the pod's format) moved on while we pushed: push the new one.
    if (
      !this.stopped &&
      state.desired &&
      state.formatsKnown &&
      this.wireVersion(state) !== undefined &&
      this.wireVersion(state) !== state.acked &&
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

  /**
   * Reads each pod's outcome stats (and the table version it runs);
   * `labelsAfter` gives the learning cursor to read each pod's labels after.
   */
  async collectStats(
    labelsAfter: (podKey: string) => string | undefined = () => undefined,
  ): Promise<Map<string, ProxyStats>> {
    const out = new Map<string, ProxyStats>();
    await Promise.all(
      [...this.pods.values()].map(async (state) => {
        try {
          const cursor = labelsAfter(state.pod.key);
          const read = (query: string) =>
            fetch(`${state.pod.adminUrl}/admin/v1/stats${query}`, {
              headers: { authorization: this.bearer(state.pod) },
              signal: AbortSignal.timeout(this.options.requestTimeoutMs ?? 5_000),
            });
          let res = await read(
            cursor === undefined ? '' : `?${LABELS_AFTER_PARAM}=${encodeURIComponent(cursor)}`,
          );
          // A cursor the proxy refuses must not cost the rest of its stats: read from the oldest label.
          if (res.status === 400 && cursor !== undefined) res = await read('');
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
