// Reads every proxy's outcome stats while this replica leads: backend
// outcomes feed health (as probes do) and status.observed; backends a proxy
// cannot get a key for feed route status (CredentialsUnavailable); route counters
// feed status.usage; strongShare rules' sketches and decisions feed the
// live thresholds pushed with the table and status.strongShare. A fresh usage
// window and calibration per leader term, seeded from what status already
// says, so a leader change keeps REQUESTS/1H, COST/1H, STRONG and thresholds.
import type { ModelRoute, ModelTenant } from '../api/v1alpha1/index.js';
import {
  addOutcomes,
  OutcomeWindows,
  outcomeTotals,
  PassiveHealth,
  type OutcomeWindow,
} from '../health/passive.js';
import { namespaceOf, objectId } from '../routing/semantics.js';
import { ruleKey } from '../routing/table.js';
import type { BackendHealth } from './backend-health.js';
import {
  FleetCalibration,
  realizedShare,
  strongShareRules,
  type StrongShareRule,
} from './fleet-calibration.js';
import { ProxyCredentialGaps } from './proxy-credential-gaps.js';
import type { UsageLedgerStore } from './usage-ledger-store.js';
import { LedgerFeed } from '../finops/ledger-feed.js';
import { DAY_MS, UsageLedger, savingsOf } from '../finops/usage-ledger.js';
import type { CostStatus } from '../api/v1alpha1/quota.js';
import type { UsageTotals } from '../finops/api-types.js';
import type { ProxyStats } from './proxy-fleet.js';
import { RouteUsageWindow } from './route-usage-window.js';
import { statusChanged } from './status/status-diff.js';
import type { Runnable } from './runnable.js';

export type ObservedOutcomes = { latencyMs?: number; errorRate?: number; requests?: number };

/** One collection: each answering pod's stats, and every pod of the term's fleet. */
export interface StatsCollection {
  stats: ReadonlyMap<string, ProxyStats>;
  pods: readonly string[];
}
/** Told after each collection of the term (the quota coordinator divides limits then). */
export type StatsListener = (collection: StatsCollection) => void;

export interface StatsCollectorOptions {
  /** The current term's fleet, read at each collection. */
  collect: () => Promise<{ stats: Map<string, ProxyStats>; pods: string[] } | undefined>;
  /** The table version a pod runs and the table formats it reads (undefined: it reports none). */
  observeRunningVersion: (
    podKey: string,
    version: string | null,
    formats: readonly number[] | undefined,
  ) => void;
  routes: () => ModelRoute[];
  /** Tenants, whose status.cost is kept up to date like routes'. */
  tenants?: () => ModelTenant[];
  health: BackendHealth;
  now: () => number;
  enqueue: (namespace: string) => void;
  /** New usage is worth a reconcile per namespace at most this often. */
  usageIntervalMs: number;
  /** Called after each collection, in order; one that throws does not stop the others. */
  listeners?: readonly StatsListener[];
  /** Where the usage ledger is kept across terms; without one it lives for the term only. */
  ledgerStore?: UsageLedgerStore | undefined;
  /** How often the ledger is written (default a minute). */
  ledgerFlushIntervalMs?: number;
  onLedgerError?: (err: unknown) => void;
  onListenerError?: (err: unknown) => void;
}

export class StatsCollector implements Runnable {
  readonly name = 'stats-collector';
  private usage: RouteUsageWindow | undefined;
  private calibration: FleetCalibration | undefined;
  private readonly observedByBackend = new Map<string, ObservedOutcomes>();
  private readonly lastUsageReconcile = new Map<string, number>();
  private readonly outcomeWindows = new OutcomeWindows();
  private readonly passiveHealth: PassiveHealth;
  private readonly credentialGaps = new ProxyCredentialGaps();
  private ledger: UsageLedger | undefined;
  private feed: LedgerFeed | undefined;
  private ledgerFlushedAt = 0;
  private summarizedAt = -Infinity;
  /** False until the stored ledger is read back: status.cost is left as it is meanwhile. */
  private ledgerLoaded = false;
  private ledgerLoading: Promise<void> | undefined;
  private flushing: Promise<void> | undefined;
  /** Each route's last 24 h and 30 d, recomputed after every collection. */
  private routeCosts = new Map<string, CostStatus>();
  private tenantCosts = new Map<string, CostStatus>();

  constructor(private readonly options: StatsCollectorOptions) {
    this.passiveHealth = new PassiveHealth(options.now);
  }

  start(): void {
    this.usage = new RouteUsageWindow(this.options.now);
    this.calibration = new FleetCalibration({ now: this.options.now });
    for (const route of this.options.routes()) {
      const u = route.status?.usage;
      if (u) this.usage.seed(objectId(route), u);
      // status.strongShare describes the route's first strongShare rule.
      const first = strongShareRules(route, objectId(route))[0];
      const s = route.status?.strongShare;
      if (first && s) this.calibration.seed(ruleKey(first.routeId, first.rule), s);
    }
    this.lastUsageReconcile.clear();
    this.credentialGaps.clear();
    this.startLedger();
  }

  stop(): void {
    this.usage = undefined;
    this.calibration = undefined;
    const { ledger } = this;
    this.ledger = undefined;
    this.feed = undefined;
    // What this term counted since its last flush is written once more, best effort.
    if (ledger && this.options.ledgerStore) void this.flushLedger(ledger, true);
  }

  private startLedger(): void {
    const { now, ledgerStore } = this.options;
    const ledger = new UsageLedger(now);
    this.ledger = ledger;
    this.feed = new LedgerFeed(ledger, now, now());
    this.ledgerFlushedAt = now();
    this.routeCosts = new Map();
    this.ledgerLoaded = !ledgerStore;
    this.loadLedger(ledger);
  }

  /** Reads the stored ledger into this term's (again at the next collection if it failed). */
  private loadLedger(ledger: UsageLedger): void {
    const { ledgerStore } = this.options;
    if (!ledgerStore || this.ledgerLoaded || this.ledgerLoading) return;
    this.ledgerLoading = ledgerStore
      .load(ledger)
      .then(
        () => {
          if (this.ledger !== ledger) return;
          this.ledgerLoaded = true;
          this.summarizeLedger(ledger);
        },
        (err: unknown) => this.options.onLedgerError?.(err),
      )
      .finally(() => {
        this.ledgerLoading = undefined;
      });
  }

  private flushLedger(ledger: UsageLedger, force = false): Promise<void> {
    const { ledgerStore, now } = this.options;
    // Never before the stored days are read back: writing a day would replace them.
    if (!ledgerStore || !this.ledgerLoaded || this.flushing)
      return this.flushing ?? Promise.resolve();
    if (!force && now() - this.ledgerFlushedAt < (this.options.ledgerFlushIntervalMs ?? 60_000))
      return Promise.resolve();
    this.ledgerFlushedAt = now();
    this.flushing = ledgerStore
      .flush(ledger)
      .catch((err: unknown) => this.options.onLedgerError?.(err))
      .finally(() => {
        this.flushing = undefined;
      });
    return this.flushing;
  }

  private summarizeLedger(ledger: UsageLedger): void {
    this.summarizedAt = this.options.now();
    const costs = new Map<string, CostStatus>();
    for (const [route, [day, month]] of ledger.routeTotals([DAY_MS, 30 * DAY_MS]))
      costs.set(route, costStatusOf(day as UsageTotals, month as UsageTotals));
    this.routeCosts = costs;
    const tenants = new Map<string, CostStatus>();
    for (const [tenant, [day, month]] of ledger.totalsBy('tenant', [DAY_MS, 30 * DAY_MS]))
      if (tenant) tenants.set(tenant, costStatusOf(day as UsageTotals, month as UsageTotals));
    this.tenantCosts = tenants;
  }

  /** The term's usage ledger (the FinOps API reads it); undefined between terms. */
  get usageLedger(): UsageLedger | undefined {
    return this.ledger;
  }

  /** A tenant's cost over 24 h and 30 d, by tenant id; as routeCost. */
  tenantCost(tenantId: string): CostStatus | null | undefined {
    if (!this.ledger || !this.ledgerLoaded) return undefined;
    return this.tenantCosts.get(tenantId) ?? null;
  }

  /** A route's cost over 24 h and 30 d from the ledger; null when it served nothing; undefined between terms. */
  routeCost(routeId: string): CostStatus | null | undefined {
    if (!this.ledger || !this.ledgerLoaded) return undefined;
    return this.routeCosts.get(routeId) ?? null;
  }

  private strongShareRules(): StrongShareRule[] {
    return this.options.routes().flatMap((r) => strongShareRules(r, objectId(r)));
  }

  /** The fleet's thresholds for strongShare rules (CompileOptions.liveThresholds); none between terms. */
  liveThresholds(): ReadonlyMap<string, number> {
    return this.calibration?.thresholds(this.strongShareRules()) ?? new Map<string, number>();
  }

  /** A strongShare rule's decisions over the last hour (see ruleKey); null when it decided none. */
  strongShareDecisions(key: string): { decisions: number; strong: number } | null {
    return this.calibration?.decisions(key) ?? null;
  }

  /** Of `podKeys`, the proxies that said they cannot get `backendId`'s key, with why. */
  keyLacking(backendId: string, podKeys: readonly string[]): { pod: string; reason: string }[] {
    return this.credentialGaps.lacking(backendId, podKeys);
  }

  observed(backendId: string): ObservedOutcomes | undefined {
    return this.observedByBackend.get(backendId);
  }

  /** A route's requests and cost over the last hour; null when it served none; undefined between terms. */
  routeUsage(routeId: string): { window: string; requests: number; costUSD: number } | null {
    return this.usage?.summary(routeId) ?? null;
  }

  /** Whether usage is being counted (a leader term is running). */
  get counting(): boolean {
    return this.usage !== undefined;
  }

  /** Whether a route's status.usage or status.strongShare figures differ from the counts now. */
  private statusLags(
    route: ModelRoute,
    usage: RouteUsageWindow,
    calibration: FleetCalibration,
  ): boolean {
    const id = objectId(route);
    if (statusChanged(route.status?.usage, usage.summary(id))) return true;
    if (
      this.ledger &&
      this.ledgerLoaded &&
      statusChanged(route.status?.cost, this.routeCosts.get(id))
    )
      return true;
    const first = strongShareRules(route, id)[0];
    if (!first) return false;
    const counted = calibration.decisions(ruleKey(first.routeId, first.rule));
    const shown = route.status?.strongShare;
    if (!counted) return shown !== undefined;
    return shown?.decisions !== counted.decisions || shown.realized !== realizedShare(counted);
  }

  async collect(): Promise<void> {
    const { usage, calibration } = this;
    const got = await this.options.collect();
    if (!got || usage !== this.usage || !usage || !calibration) return; // the term ended meanwhile
    const { now } = this.options;
    const windows = new Map<string, OutcomeWindow & { latency: number[] }>();
    for (const [podKey, body] of got.stats) {
      this.options.observeRunningVersion(podKey, body.tableVersion, body.tableFormats);
      const startedAt =
        body.uptimeSeconds !== undefined ? now() - body.uptimeSeconds * 1000 : undefined;
      usage.observe(podKey, { startedAt, routes: body.routes });
      calibration.observe(podKey, startedAt, body.calibration);
      this.feed?.observe(podKey, startedAt, body.attribution ?? [], body.latency ?? []);
      for (const b of body.backends) {
        // Counters are per proxy process: deltas are taken per pod, then summed.
        const delta = this.outcomeWindows.next(
          `${podKey} ${b.backendId}`,
          outcomeTotals(b.successes, b.failures),
        );
        const w = windows.get(b.backendId) ?? { requests: 0, failures: 0, latency: [] };
        addOutcomes(w, delta);
        if (b.latencyEwmaMs !== undefined) w.latency.push(b.latencyEwmaMs);
        windows.set(b.backendId, w);
      }
    }
    const pods = new Set(got.pods);
    usage.forgetPodsExcept(pods);
    calibration.forgetPodsExcept(pods);
    this.feed?.forgetPodsExcept(pods);
    if (this.ledger) {
      this.loadLedger(this.ledger);
      // A pass over 30 days of rows: as often as status may be written, not every collection.
      if (now() - this.summarizedAt >= Math.min(this.options.usageIntervalMs, 30_000))
        this.summarizeLedger(this.ledger);
      void this.flushLedger(this.ledger);
    }
    // Route status shows backends a proxy lacks the key of: reconcile when that changes only.
    for (const ns of this.credentialGaps.update(got.stats, pods)) this.options.enqueue(ns);
    // A threshold that moved needs a push now, not at the next usage write.
    const moved = new Set(
      [...calibration.update(this.strongShareRules())].map((k) => k.slice(0, k.indexOf('/'))),
    );
    for (const ns of moved) {
      this.options.enqueue(ns);
      this.lastUsageReconcile.set(ns, now()); // that reconcile writes the new usage too
    }
    // Level-triggered: a namespace whose routes' status lags the figures is
    // looked at again (at most once per usage interval) until it agrees, so
    // a change that arrived within the interval is not left unwritten.
    const usageChanged = new Set<string>();
    for (const route of this.options.routes())
      if (this.statusLags(route, usage, calibration)) usageChanged.add(namespaceOf(route));
    if (this.ledger && this.ledgerLoaded)
      for (const tenant of this.options.tenants?.() ?? [])
        if (statusChanged(tenant.status?.cost, this.tenantCosts.get(objectId(tenant))))
          usageChanged.add(namespaceOf(tenant));
    for (const ns of usageChanged) {
      if (now() - (this.lastUsageReconcile.get(ns) ?? -Infinity) < this.options.usageIntervalMs)
        continue;
      this.lastUsageReconcile.set(ns, now());
      this.options.enqueue(ns);
    }
    for (const [backendId, w] of windows) {
      const entry: ObservedOutcomes = { requests: w.requests };
      if (w.latency.length > 0)
        entry.latencyMs = Math.round(w.latency.reduce((a, b) => a + b, 0) / w.latency.length);
      if (w.requests > 0) entry.errorRate = Math.round((w.failures / w.requests) * 1000) / 1000;
      this.observedByBackend.set(backendId, entry);
      const seen = this.passiveHealth.record(backendId, w);
      if (seen) this.options.health.observePassive(backendId, seen);
    }
    for (const listener of this.options.listeners ?? []) {
      try {
        listener(got);
      } catch (err) {
        this.options.onListenerError?.(err);
      }
    }
  }
}

const usd = (n: number): number => Math.round(n * 1e6) / 1e6;

/** status.cost from the ledger's 24 h and 30 d totals. */
export function costStatusOf(day: UsageTotals, month: UsageTotals): CostStatus {
  const s = savingsOf('', month);
  const percent = Math.round(s.savedFraction * 1000) / 10;
  return {
    last24h: { requests: day.requests, costUSD: usd(day.costUSD) },
    last30d: {
      requests: month.requests,
      costUSD: s.costUSD,
      mostExpensiveCostUSD: s.mostExpensiveCostUSD,
      strongestCostUSD: s.strongestCostUSD,
      savedUSD: s.savedUSD,
      savedPercent: percent,
      ...(s.strongShare !== undefined ? { strongShare: s.strongShare } : {}),
    },
    savings: `$${s.savedUSD.toFixed(2)} (${percent}%)`,
  };
}
