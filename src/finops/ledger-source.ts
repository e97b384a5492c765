// The FinOps read API over a usage ledger: the controller's (while it leads)
// or the dev proxy's own. Failovers and budgets come from the objects'
// status, the one place both are already kept.
import {
  SourceUnavailableError,
  type BudgetView,
  type FinopsSource,
  type TimelineEntry,
  type TimelineReport,
} from './api-types.js';
import type { SpendStatus } from '../api/v1alpha1/quota.js';
import type { ModelRouteStatus } from '../api/v1alpha1/modelroute.js';
import type { UsageLedger } from './usage-ledger.js';

/** What the source reads from routes and tenants: their ids and status. */
export interface StatusObject {
  kind: 'route' | 'tenant';
  namespace: string;
  name: string;
  spend?: SpendStatus | undefined;
  lastFailover?: ModelRouteStatus['lastFailover'];
}

export interface LedgerSourceOptions {
  /** undefined while there is none (a controller that does not lead): the API answers 503. */
  ledger: () => UsageLedger | undefined;
  objects: () => readonly StatusObject[];
  now: () => number;
}

export function ledgerFinopsSource(options: LedgerSourceOptions): FinopsSource {
  const ledger = (): UsageLedger => {
    const l = options.ledger();
    if (!l)
      throw new SourceUnavailableError(
        'this controller replica is not the leader: the usage ledger is kept by the leader; ask the Service again (it routes to the leader once this one is not ready) or port-forward to the leader pod',
      );
    return l;
  };
  return {
    usage: (q) => Promise.resolve(ledger().usage(q)),
    savings: (q) => Promise.resolve(ledger().savings(q)),
    latency: (q) => Promise.resolve(ledger().latency(q)),
    timeline: (q) => Promise.resolve(timeline(ledger(), options, q.sinceMs)),
    budgets: () => Promise.resolve({ budgets: budgets(options.objects()) }),
  };
}

function timeline(
  ledger: UsageLedger,
  options: LedgerSourceOptions,
  sinceMs: number,
): TimelineReport {
  const to = options.now();
  const from = to - sinceMs;
  const entries: TimelineEntry[] = [...ledger.errorEntries(sinceMs)];
  for (const o of options.objects()) {
    const f = o.lastFailover;
    if (o.kind !== 'route' || !f) continue;
    const route = `${o.namespace}/${o.name}`;
    if (Date.parse(f.time) >= from)
      entries.push({
        time: f.time,
        kind: 'failover',
        route,
        backend: f.from,
        message: `${f.from} → ${f.to ?? 'none'}: ${f.reason}`,
      });
    if (f.recoveredTime && Date.parse(f.recoveredTime) >= from)
      entries.push({
        time: f.recoveredTime,
        kind: 'recovery',
        route,
        backend: f.from,
        message: `${f.from} is healthy again`,
      });
  }
  entries.sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), entries };
}

function budgets(objects: readonly StatusObject[]): BudgetView[] {
  const out: BudgetView[] = [];
  for (const o of objects) {
    for (const [window, w] of [
      ['day', o.spend?.day],
      ['month', o.spend?.month],
    ] as const) {
      if (!w?.budgetUSD) continue;
      out.push({
        scope: o.kind,
        namespace: o.namespace,
        name: o.name,
        window,
        limitUSD: w.budgetUSD,
        spentUSD: w.spentUSD,
        ratio: Math.round((w.spentUSD / w.budgetUSD) * 10_000) / 10_000,
      });
    }
  }
  return out.sort((a, b) => b.ratio - a.ratio);
}
