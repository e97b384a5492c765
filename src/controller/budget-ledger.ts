// Spend per route and tenant over the current UTC day and month, counted from
// every proxy's cumulative cost counters (GET /admin/v1/stats: routes[].costUsd
// and quotas.tenants[].costUsd), kept durable in status.spend. The leader's
// budget ledger: it tells the quota coordinator each budget's state
// (budgetWindows), status what was spent, and records an Event the first
// time a window crosses 80% and 100% of its budget.
//
// What counts (deltas per pod and key, pod-counter-deltas.ts):
// - Each term starts from status.spend (seed); a window there that is not the
//   current one is ignored (that day or month is over).
// - A proxy's first report counts in full for a key when the proxy started
//   after both the current day began and status.spend's updatedAt for the
//   key (the last time the spend in status changed; nothing it served can be
//   in status then); otherwise it is a baseline.
// - A proxy that restarted (its start moved or a counter went down) counts
//   its new totals in full.
// - A proxy that leaves the fleet (not Ready) is remembered until the day
//   ends, so coming back does not count its totals twice.
//
// What a leader crash can lose: spend counted since the last status write,
// plus what proxies spent between that write and the new leader's first read
// of them — at most usageIntervalMs + a takeover + one stats interval of
// spend. It never counts spend twice. A threshold crossing is written at once,
// so the Event and the condition are not lost, though the Event may be
// recorded again if the leader dies between recording it and writing status.
import type { ModelRoute, ModelTenant } from '../api/v1alpha1/index.js';
import type { SpendBudget, SpendStatus } from '../api/v1alpha1/quota.js';
import type { EventToRecord } from './event-recorder.js';
import { routeQuotaKey, tenantQuotaKey, type QuotaKey } from '../quota/protocol.js';
import { namespaceOf, objectId } from '../routing/semantics.js';
import { BUDGET_WINDOWS, windowBounds } from './budget-calendar.js';
import type {
  BudgetAction,
  BudgetState,
  BudgetWindow,
  BudgetWindowKind,
  BudgetWindowProvider,
} from './budget-window.js';
import { PodCounterDeltas, startedSince } from './pod-counter-deltas.js';
import type { ProxyStats } from './proxy-fleet.js';
import type { Runnable } from './runnable.js';
import {
  budgetConditions,
  budgetMessage,
  budgetState,
  roundUSD,
  spendStatusOf,
  stateRank,
  type BudgetStatusView,
  type CountedWindow,
} from './status/budget-status.js';
import { statusChanged } from './status/status-diff.js';

/** Clocks of two replicas differ, and status is written after it is counted: a margin on updatedAt. */
const SEED_SLACK_MS = 5_000;

/** A route or tenant as the ledger sees it: its key, budget, and what its status says now. */
export interface BudgetedObject {
  key: QuotaKey;
  kind: 'ModelRoute' | 'ModelTenant';
  namespace: string;
  name: string;
  uid?: string | undefined;
  budget?: Partial<SpendBudget> | undefined;
  spend?: SpendStatus | undefined;
  conditions?: readonly { type: string; status: string; reason: string; message: string }[];
}

export function budgetedObjects(
  routes: readonly ModelRoute[],
  tenants: readonly ModelTenant[],
): BudgetedObject[] {
  const of = (
    o: ModelRoute | ModelTenant,
    key: QuotaKey,
    budget: Partial<SpendBudget> | undefined,
  ): BudgetedObject => ({
    key,
    kind: o.kind,
    namespace: namespaceOf(o),
    name: o.metadata.name,
    uid: o.metadata.uid,
    budget,
    spend: o.status?.spend,
    conditions: o.status?.conditions,
  });
  return [
    ...routes.map((r) => of(r, routeQuotaKey(objectId(r)), r.spec.budget)),
    ...tenants.map((t) => of(t, tenantQuotaKey(objectId(t)), t.spec.budget)),
  ];
}

const budgetOf = (b: Partial<SpendBudget> | undefined, w: BudgetWindowKind) =>
  w === 'day' ? b?.dailyUSD : b?.monthlyUSD;
const ownerOf = (o: BudgetedObject) =>
  `${o.kind === 'ModelRoute' ? 'route' : 'tenant'} ${o.namespace}/${o.name}`;

interface WindowCount {
  start: number;
  resetAt: number;
  spent: number;
  /** The highest state an Event was recorded for in this window. */
  announced: BudgetState;
}

interface KeyCount {
  day: WindowCount;
  month: WindowCount;
  /** When the spend last changed (status.spend.updatedAt); undefined: never counted. */
  updatedAt: number | undefined;
  /** A proxy's first report counts in full only if it started after this (see the header). */
  accountedUntil: number;
}

export interface BudgetLedgerOptions {
  now: () => number;
  /** Every route and tenant the controller sees (budgetedObjects), read at each collection. */
  objects: () => BudgetedObject[];
  events: { record(event: EventToRecord): Promise<void> };
  /** Asks for a reconcile of the namespace (it writes status.spend and the conditions). */
  enqueue: (namespace: string) => void;
  /** New spend alone is worth a status write per namespace at most this often. */
  usageIntervalMs: number;
}

export class BudgetLedger implements Runnable, BudgetWindowProvider {
  readonly name = 'budget-ledger';
  private counts: Map<string, KeyCount> | undefined;
  private deltas: PodCounterDeltas<'costUsd'> | undefined;
  /** Pods reported since the day began: kept though they leave, forgotten when it ends. */
  private podsToday = new Set<string>();
  private podsDay = 0;
  private readonly lastEnqueue = new Map<string, number>();
  private termStart = 0;

  constructor(private readonly options: BudgetLedgerOptions) {}

  /** A new term: continues from status.spend. */
  start(): void {
    const now = this.options.now();
    const termStart = now;
    this.termStart = termStart;
    const counts = new Map<string, KeyCount>();
    for (const o of this.options.objects()) {
      const entry = this.fresh(now, termStart);
      const seeded = o.spend;
      if (seeded) {
        const updatedAt = seeded.updatedAt === undefined ? NaN : Date.parse(seeded.updatedAt);
        // Without updatedAt nothing says what status accounts for: only this term's proxies count in full.
        entry.accountedUntil = Number.isNaN(updatedAt) ? termStart : updatedAt + SEED_SLACK_MS;
        if (!Number.isNaN(updatedAt)) entry.updatedAt = updatedAt;
        for (const w of BUDGET_WINDOWS) {
          const shown = seeded[w];
          if (!shown || Date.parse(shown.start) !== entry[w].start) continue; // an older window
          entry[w].spent = shown.spentUSD;
          const budget = budgetOf(o.budget, w);
          // The last leader recorded its crossings before writing them.
          if (budget !== undefined) entry[w].announced = budgetState(shown.spentUSD, budget);
        }
      }
      counts.set(o.key, entry);
    }
    this.counts = counts;
    this.deltas = new PodCounterDeltas(['costUsd'], (key, startedAt) =>
      startedSince(startedAt, this.entry(key, this.options.now()).accountedUntil),
    );
    this.podsToday = new Set();
    this.podsDay = windowBounds('day', now).start;
    this.lastEnqueue.clear();
  }

  stop(): void {
    this.counts = undefined;
    this.deltas = undefined;
  }

  private fresh(now: number, accountedUntil: number): KeyCount {
    const window = (w: BudgetWindowKind): WindowCount => ({
      ...windowBounds(w, now),
      spent: 0,
      announced: 'ok',
    });
    return { day: window('day'), month: window('month'), updatedAt: undefined, accountedUntil };
  }

  /** The key's counts in the current windows (a window that ended starts again from 0). */
  private entry(key: string, now: number): KeyCount {
    const counts = this.counts ?? new Map<string, KeyCount>();
    let entry = counts.get(key);
    if (!entry) {
      // Not in status when the term began: only proxies started in this term count in full.
      entry = this.fresh(now, this.termStart);
      counts.set(key, entry);
    }
    for (const w of BUDGET_WINDOWS) {
      const bounds = windowBounds(w, now);
      if (entry[w].start === bounds.start) continue;
      entry[w] = { ...bounds, spent: 0, announced: 'ok' };
      entry.updatedAt = now;
    }
    // A proxy that started before the day began has yesterday's spend in its totals.
    entry.accountedUntil = Math.max(entry.accountedUntil, windowBounds('day', now).start);
    return entry;
  }

  /** StatsCollector listener: counts what every proxy spent since its last report. */
  observe(collected: { stats: ReadonlyMap<string, ProxyStats>; pods: readonly string[] }): void {
    const { deltas, counts } = this;
    if (!deltas || !counts) return; // not leading
    const now = this.options.now();
    const day = windowBounds('day', now).start;
    if (day !== this.podsDay) {
      this.podsDay = day;
      this.podsToday = new Set();
    }
    for (const [podKey, body] of collected.stats) {
      this.podsToday.add(podKey);
      const startedAt =
        body.uptimeSeconds !== undefined ? now - body.uptimeSeconds * 1000 : undefined;
      const entries = [
        ...body.routes.map((r) => ({
          key: routeQuotaKey(r.routeId),
          totals: { costUsd: r.costUsd },
        })),
        ...(body.quotas?.tenants ?? []).map((t) => ({
          key: tenantQuotaKey(t.tenantId),
          totals: { costUsd: t.costUsd },
        })),
      ];
      for (const { key, delta } of deltas.observe(podKey, startedAt, entries)) {
        const entry = this.entry(key, now);
        entry.day.spent += delta.costUsd;
        entry.month.spent += delta.costUsd;
        entry.updatedAt = now;
      }
    }
    deltas.forgetPodsExcept(new Set([...collected.pods, ...this.podsToday]));
    this.announceAndWrite(now);
  }

  /**
   * Records an Event for each threshold a budget crossed, and asks for a
   * status write: at once after a crossing or a new window, else at most once
   * per usage interval per namespace while status lags the counts.
   */
  private announceAndWrite(now: number): void {
    const urgent = new Set<string>();
    const lagging = new Set<string>();
    for (const o of this.options.objects()) {
      const entry = this.entry(o.key, now);
      for (const w of BUDGET_WINDOWS) {
        const budgetUSD = budgetOf(o.budget, w);
        const count = entry[w];
        if (budgetUSD === undefined) continue;
        const state = budgetState(count.spent, budgetUSD);
        if (stateRank(state) > stateRank(count.announced)) {
          for (const crossed of ['warning', 'exceeded'] as const) {
            if (
              stateRank(crossed) <= stateRank(count.announced) ||
              stateRank(crossed) > stateRank(state)
            )
              continue;
            const counted = {
              window: w,
              start: count.start,
              resetAt: count.resetAt,
              spentUSD: count.spent,
              budgetUSD,
            };
            void this.options.events.record({
              involved: {
                kind: o.kind,
                apiVersion: 'modelroute.io/v1alpha1',
                namespace: o.namespace,
                name: o.name,
                uid: o.uid,
              },
              type: 'Warning',
              reason: crossed === 'warning' ? 'BudgetWarning' : 'BudgetExceeded',
              message: budgetMessage(
                ownerOf(o),
                counted,
                crossed,
                o.budget?.onExceeded ?? 'refuse',
              ),
            });
          }
          urgent.add(o.namespace);
        }
        // A raised budget or a new window: the next crossing is news again.
        count.announced = state;
      }
      const view = this.view(o);
      const shown = o.spend ?? null;
      if (!statusChanged(shown, view.spend)) continue;
      const windowsMoved =
        (shown === null) !== (view.spend === null) ||
        BUDGET_WINDOWS.some((w) => shown?.[w]?.start !== view.spend?.[w]?.start);
      (windowsMoved ? urgent : lagging).add(o.namespace);
    }
    for (const ns of new Set([...urgent, ...lagging])) {
      const last = this.lastEnqueue.get(ns) ?? -Infinity;
      if (!urgent.has(ns) && now - last < this.options.usageIntervalMs) continue;
      this.lastEnqueue.set(ns, now);
      this.options.enqueue(ns);
    }
  }

  private countedWindows(
    o: BudgetedObject,
    entry: KeyCount,
  ): Record<BudgetWindowKind, CountedWindow> {
    const counted = (w: BudgetWindowKind): CountedWindow => ({
      window: w,
      start: entry[w].start,
      resetAt: entry[w].resetAt,
      spentUSD: entry[w].spent,
      budgetUSD: budgetOf(o.budget, w),
    });
    return { day: counted('day'), month: counted('month') };
  }

  /**
   * status.spend and the budget conditions for an object: spend is shown
   * when it has a budget or spent something this month (null: the field goes);
   * undefined between terms (status is kept as it is).
   */
  view(o: BudgetedObject): BudgetStatusView {
    const now = this.options.now();
    const entry = this.entry(o.key, now);
    const windows = this.countedWindows(o, entry);
    const budgeted =
      budgetOf(o.budget, 'day') !== undefined || budgetOf(o.budget, 'month') !== undefined;
    const spend =
      budgeted || roundUSD(entry.month.spent) > 0 ? spendStatusOf(windows, entry.updatedAt) : null;
    return {
      spend,
      conditions: budgetConditions(
        ownerOf(o),
        [windows.day, windows.month],
        o.budget?.onExceeded ?? 'refuse',
      ),
    };
  }

  /** What status should say of a route's or tenant's spend; undefined between terms (kept as is). */
  statusOf(object: ModelRoute | ModelTenant): BudgetStatusView | undefined {
    if (!this.counts) return undefined;
    const [o] =
      object.kind === 'ModelRoute' ? budgetedObjects([object], []) : budgetedObjects([], [object]);
    return o && this.view(o);
  }

  budgetWindows(): BudgetWindow[] {
    if (!this.counts) return [];
    const now = this.options.now();
    const out: BudgetWindow[] = [];
    for (const o of this.options.objects()) {
      for (const w of BUDGET_WINDOWS) {
        const budgetUSD = budgetOf(o.budget, w);
        if (budgetUSD === undefined) continue;
        const count = this.entry(o.key, now)[w];
        const onExceeded: BudgetAction = o.budget?.onExceeded ?? 'refuse';
        out.push({
          key: o.key,
          window: w,
          budgetUSD,
          spentUSD: roundUSD(count.spent),
          resetAtMs: count.resetAt,
          onExceeded,
          state: budgetState(count.spent, budgetUSD),
        });
      }
    }
    return out;
  }
}
