// The leader's budget windows as modelroute_budget_used_ratio samples.
import type { BudgetUse } from '../telemetry/controller-metrics.js';
import type { BudgetedObject } from './budget-ledger.js';
import type { BudgetWindow } from './budget-window.js';

/** One sample per budgeted window of a route or tenant still known; a zero budget with spend is +Inf. */
export function budgetUses(
  objects: readonly BudgetedObject[],
  windows: readonly BudgetWindow[],
): BudgetUse[] {
  const byKey = new Map(objects.map((o) => [o.key, o]));
  const out: BudgetUse[] = [];
  for (const w of windows) {
    const o = byKey.get(w.key);
    if (!o) continue;
    const usedRatio =
      w.budgetUSD > 0 ? w.spentUSD / w.budgetUSD : w.spentUSD > 0 ? Number.POSITIVE_INFINITY : 0;
    out.push({
      scope: o.kind === 'ModelRoute' ? 'route' : 'tenant',
      namespace: o.namespace,
      name: o.name,
      window: w.window,
      usedRatio,
    });
  }
  return out;
}
