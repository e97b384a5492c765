// One spend budget window (a tenant's or route's UTC day or month) as the
// budget ledger counts it: what the quota coordinator turns into each proxy's
// BudgetShare (src/quota/protocol.ts), and what status and Events report.
import type { BUDGET_ACTIONS } from '../api/v1alpha1/quota.js';
import type { BUDGET_STATES, QuotaKey } from '../quota/protocol.js';

export type BudgetWindowKind = 'day' | 'month';
export type BudgetState = (typeof BUDGET_STATES)[number];
export type BudgetAction = (typeof BUDGET_ACTIONS)[number];

export interface BudgetWindow {
  /** `tenant:<ns>/<name>` or `route:<ns>/<name>`. */
  key: QuotaKey;
  window: BudgetWindowKind;
  budgetUSD: number;
  /** Spend the fleet counted in the current window. */
  spentUSD: number;
  /** Epoch ms at which the window ends and spend starts again from 0. */
  resetAtMs: number;
  onExceeded: BudgetAction;
  /** ok below 80% of the budget, warning from 80%, exceeded from 100%. */
  state: BudgetState;
}

/** Who knows the current budget windows (the budget ledger); the quota coordinator reads them. */
export interface BudgetWindowProvider {
  /** Every route's and tenant's current day and month window that has a budget. */
  budgetWindows(): BudgetWindow[];
}
