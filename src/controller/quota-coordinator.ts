// Divides every fleet-wide limit and budget among the proxies that use it
// and pushes each proxy its QuotaAssignment, after every stats collection,
// while this replica leads (issue 14, fleet mode).
//
// Which proxies use which limit comes from the tables they are given: a
// backend's limit is used by the proxies whose table contains the backend, a
// tenant's by the proxies of its namespace (tables carry their namespace's
// tenants); route budgets by proxies whose table has the route. Exact-mode
// keys get shares too: the proxies fall back to them when the store is down.
//
// A term starts from nothing: its first assignments come from the proxies'
// reported window counts (never below them), so a new or restarted leader
// gives nothing twice. A proxy it cannot read keeps what it was last given
// reserved; one this term never gave anything counts as holding
// limit / UNASSIGNED_SHARE_DIVISOR (what a proxy enforces before its first
// assignment; an old leader's larger share expires to its safe share, at most
// limit / proxies, within validForMs).
import type { FleetLimitStatus } from '../api/v1alpha1/quota.js';
import {
  backendQuotaKey,
  routeQuotaKey,
  tenantQuotaKey,
  type BudgetShare,
  type LimitAmounts,
  type LimitShare,
  type LimitUsage,
  type QuotaAssignment,
  type QuotaKey,
} from '../quota/protocol.js';
import type { RoutingTable } from '../routing/table.js';
import type { Logger } from '../telemetry/logger.js';
import type { BudgetWindow } from './budget-window.js';
import type { ProxyFleet, ProxyStats } from './proxy-fleet.js';
import {
  allocateAllowances,
  allocateShares,
  type PodLimitUsage,
  type PodShare,
} from './quota-allocator.js';
import { DemandRates } from './quota-demand.js';
import type { Runnable } from './runnable.js';
import type { StatsCollection } from './stats-collector.js';

export const DEFAULT_QUOTA_VALID_FOR_MS = 30_000;
/** The controller's default stats collection interval: the first division's assumed interval. */
const DEFAULT_STATS_INTERVAL_MS = 2_000;
const MINUTE_MS = 60_000;

/** The part of the term's ProxyFleet the coordinator uses. */
export type QuotaFleet = Pick<ProxyFleet, 'desiredTable' | 'pushQuotas' | 'quotaPush'>;

export interface QuotaCoordinatorOptions {
  /** This replica's identity: with the term's start, the assignments' term. */
  identity: string;
  now: () => number;
  /** The current term's fleet; undefined between terms. */
  fleet: () => QuotaFleet | undefined;
  /** The budget windows the budget ledger counts (none until it is wired). */
  budgetWindows: () => BudgetWindow[];
  /** How long shares stand without a newer assignment (default 30 s). */
  validForMs?: number;
  logger: Logger;
}

interface KeyUse {
  limit: LimitAmounts;
  pods: string[];
}

/** Refusals per key over the last minute, from per-pod cumulative counters. */
class RefusedLastMinute {
  private readonly last = new Map<string, number>();
  private readonly deltas = new Map<QuotaKey, { atMs: number; n: number }[]>();

  add(podKey: string, usage: LimitUsage, nowMs: number): void {
    const id = `${podKey} ${usage.key}`;
    const before = this.last.get(id);
    this.last.set(id, usage.refused);
    // First sight is a baseline; a counter that went down is a restarted proxy.
    const n =
      before === undefined ? 0 : usage.refused >= before ? usage.refused - before : usage.refused;
    if (n <= 0) return;
    const list = this.deltas.get(usage.key) ?? [];
    list.push({ atMs: nowMs, n });
    this.deltas.set(usage.key, list);
  }

  sum(key: QuotaKey, nowMs: number): number {
    const list = (this.deltas.get(key) ?? []).filter((d) => nowMs - d.atMs < MINUTE_MS);
    this.deltas.set(key, list);
    return list.reduce((s, d) => s + d.n, 0);
  }

  retainPods(pods: ReadonlySet<string>): void {
    for (const id of this.last.keys())
      if (!pods.has(id.slice(0, id.indexOf(' ')))) this.last.delete(id);
  }
}

const hasLimit = (l: LimitAmounts | undefined): l is LimitAmounts =>
  l !== undefined && (l.rpm !== undefined || l.tpm !== undefined || l.maxConcurrency !== undefined);

/** The limited keys a table's proxy uses, with their fleet-wide amounts. */
export function limitedKeys(table: RoutingTable): Map<QuotaKey, LimitAmounts> {
  const out = new Map<QuotaKey, LimitAmounts>();
  const amounts = (l: LimitAmounts): LimitAmounts => {
    const a: LimitAmounts = {};
    if (l.rpm !== undefined) a.rpm = l.rpm;
    if (l.tpm !== undefined) a.tpm = l.tpm;
    if (l.maxConcurrency !== undefined) a.maxConcurrency = l.maxConcurrency;
    return a;
  };
  for (const b of table.backends)
    if (hasLimit(b.limits)) out.set(backendQuotaKey(b.id), amounts(b.limits));
  for (const t of table.tenants ?? [])
    if (hasLimit(t.limits)) out.set(tenantQuotaKey(t.id), amounts(t.limits));
  return out;
}

/** The budget keys a table's proxy spends against: its routes and its tenants. */
export function budgetKeys(table: RoutingTable): Set<QuotaKey> {
  return new Set<QuotaKey>([
    ...table.routes.map((r) => routeQuotaKey(r.id)),
    ...(table.tenants ?? []).map((t) => tenantQuotaKey(t.id)),
  ]);
}

/** Per amount, the smaller of two limits (tables mid-change may disagree: the stricter holds). */
function stricter(a: LimitAmounts, b: LimitAmounts): LimitAmounts {
  const out: LimitAmounts = {};
  for (const f of ['rpm', 'tpm', 'maxConcurrency'] as const) {
    const x = a[f];
    const y = b[f];
    if (x !== undefined || y !== undefined) out[f] = Math.min(x ?? Infinity, y ?? Infinity);
  }
  return out;
}

export class QuotaCoordinator implements Runnable {
  readonly name = 'quota-coordinator';
  private term: string | undefined;
  private sequence = 0;
  private readonly demand = new DemandRates();
  private readonly refused = new RefusedLastMinute();
  private status = new Map<QuotaKey, FleetLimitStatus>();
  /** When the previous collection was divided: the interval budget allowances are sized by. */
  private lastStatsAtMs: number | undefined;

  constructor(private readonly options: QuotaCoordinatorOptions) {}

  start(): void {
    this.term = `${this.options.identity}@${new Date(this.options.now()).toISOString()}`;
    this.sequence = 0;
    this.status = new Map();
    this.lastStatsAtMs = undefined;
  }

  stop(): void {
    this.term = undefined;
  }

  /** How the fleet uses a limit (for status.limits); undefined when no proxy uses it or between terms. */
  limitStatus(key: QuotaKey): FleetLimitStatus | undefined {
    return this.status.get(key);
  }

  /** A StatsCollector listener: divides every limit and budget and pushes the assignments. */
  readonly onStats = (collection: StatsCollection): void => {
    const fleet = this.options.fleet();
    const term = this.term;
    if (!fleet || term === undefined) return;
    const nowMs = this.options.now();
    const validForMs = this.options.validForMs ?? DEFAULT_QUOTA_VALID_FOR_MS;
    // Time since the last division (the collection interval, 2 s by default), within [1 s, validForMs].
    const intervalMs = Math.min(
      validForMs,
      Math.max(1_000, nowMs - (this.lastStatsAtMs ?? nowMs - DEFAULT_STATS_INTERVAL_MS)),
    );
    this.lastStatsAtMs = nowMs;

    // Which pods use which key, from the tables they are given.
    const limits = new Map<QuotaKey, KeyUse>();
    const spenders = new Map<QuotaKey, string[]>();
    const pods: string[] = [];
    for (const podKey of collection.pods) {
      if (fleet.quotaPush(podKey)?.unsupported) continue; // left alone (logged once)
      const table = fleet.desiredTable(podKey);
      if (!table) continue;
      pods.push(podKey);
      for (const [key, limit] of limitedKeys(table)) {
        const use = limits.get(key);
        if (use) {
          use.limit = stricter(use.limit, limit);
          use.pods.push(podKey);
        } else limits.set(key, { limit, pods: [podKey] });
      }
      for (const key of budgetKeys(table))
        spenders.set(key, [...(spenders.get(key) ?? []), podKey]);
    }
    const podSet = new Set(pods);
    this.demand.retain((id) => podSet.has(id.slice(0, id.indexOf(' '))));
    this.refused.retainPods(podSet);

    // What each pod holds now, as far as this term knows: what it accepted,
    // or its safe share once that is older than validForMs.
    const holding = (podKey: string, key: QuotaKey): LimitAmounts | undefined => {
      const acked = fleet.quotaPush(podKey)?.acked;
      const share = acked?.assignment.limits.find((l) => l.key === key);
      if (!acked || !share) return undefined;
      return nowMs - acked.atMs >= validForMs ? share.safe : share.share;
    };
    // A pod is divided for only when its report is fresh and its last push
    // landed; otherwise it may run an older assignment, which stays reserved.
    const readable = (podKey: string): ProxyStats | undefined =>
      fleet.quotaPush(podKey)?.failing ? undefined : collection.stats.get(podKey);

    const limitsByPod = new Map<string, LimitShare[]>(pods.map((p) => [p, []]));
    const status = new Map<QuotaKey, FleetLimitStatus>();
    for (const [key, use] of limits) {
      const usage: PodLimitUsage[] = use.pods.map((podKey) => {
        const stats = readable(podKey);
        const reported = stats?.quotas?.limits.find((l) => l.key === key);
        if (stats && reported) this.refused.add(podKey, reported, nowMs);
        const rate = (what: string, cumulative: number) =>
          this.demand.observe(`${podKey} ${key} ${what}`, cumulative, nowMs);
        return {
          podKey,
          windowRequests: reported?.windowRequests ?? 0,
          windowTokens: reported?.windowTokens ?? 0,
          inFlight: reported?.inFlight ?? 0,
          demand: reported
            ? {
                requests: rate('requests', reported.admitted + reported.refused),
                tokens: rate('tokens', reported.tokens),
                refused: rate('refused', reported.refused),
              }
            : { requests: 0, tokens: 0 },
          reachable: stats !== undefined,
          lastShare: stats ? undefined : holding(podKey, key),
        };
      });
      const shares = allocateShares({ limit: use.limit, pods: usage });
      for (const podKey of use.pods) {
        const got = shares.get(podKey) as PodShare;
        limitsByPod.get(podKey)?.push({ key, share: got.share, safe: got.safe, limit: use.limit });
      }
      const reporting = usage.filter((u) => u.reachable);
      status.set(key, {
        proxies: use.pods.length,
        requestsLastMinute: Math.round(reporting.reduce((s, u) => s + u.windowRequests, 0)),
        tokensLastMinute: Math.round(reporting.reduce((s, u) => s + u.windowTokens, 0)),
        refusedLastMinute: this.refused.sum(key, nowMs),
      });
    }
    this.status = status;

    const budgetsByPod = new Map<string, BudgetShare[]>(pods.map((p) => [p, []]));
    for (const w of this.options.budgetWindows()) {
      const users = spenders.get(w.key);
      if (!users) continue;
      const allowances = allocateAllowances({
        budgetUSD: w.budgetUSD,
        remainingUSD: w.budgetUSD - w.spentUSD,
        intervalMs,
        pods: users.map((podKey) => {
          const stats = readable(podKey);
          return {
            podKey,
            spendRate: stats ? this.spendRate(podKey, w.key, stats, nowMs) : 0,
            reachable: stats !== undefined,
            lastAllowanceUSD: fleet
              .quotaPush(podKey)
              ?.acked?.assignment.budgets.find((b) => b.key === w.key && b.window === w.window)
              ?.allowanceUSD,
          };
        }),
      });
      for (const podKey of users) {
        const { allowanceUSD, safeAllowanceUSD } = allowances.get(podKey) ?? {
          allowanceUSD: 0,
          safeAllowanceUSD: 0,
        };
        budgetsByPod.get(podKey)?.push({
          key: w.key,
          window: w.window,
          budgetUSD: w.budgetUSD,
          spentUSD: w.spentUSD,
          resetAtMs: w.resetAtMs,
          state: w.state,
          onExceeded: w.onExceeded,
          allowanceUSD,
          safeAllowanceUSD,
        });
      }
    }

    this.sequence += 1;
    for (const podKey of pods) {
      const assignment: QuotaAssignment = {
        sequence: this.sequence,
        term,
        issuedAtMs: Math.floor(nowMs),
        validForMs,
        limits: limitsByPod.get(podKey) ?? [],
        budgets: budgetsByPod.get(podKey) ?? [],
      };
      fleet.pushQuotas(podKey, assignment);
    }
  };

  /** A pod's recent spend per minute against a route or tenant budget, from its cumulative cost. */
  private spendRate(podKey: string, key: QuotaKey, stats: ProxyStats, nowMs: number): number {
    const id = key.slice(key.indexOf(':') + 1);
    const cost = key.startsWith('route:')
      ? stats.routes.find((r) => r.routeId === id)?.costUsd
      : stats.quotas?.tenants.find((t) => t.tenantId === id)?.costUsd;
    return cost === undefined ? 0 : this.demand.observe(`${podKey} ${key} spend`, cost, nowMs);
  }
}
