// What status says about a route's or tenant's spend budget: status.spend
// (each window's spend against its budget, "12.40/50.00" for kubectl) and the
// BudgetWarning and BudgetExceeded conditions, with messages that name the
// budget, the spend and when the window resets. Pure.
import { ConditionReason, ConditionType } from '../../api/v1alpha1/conditions.js';
import type { SpendStatus, SpendWindowStatus } from '../../api/v1alpha1/quota.js';
import type { BudgetAction, BudgetState, BudgetWindowKind } from '../budget-window.js';
import { kubeTime, type ConditionInput } from './conditions.js';

/** Spend at which a budget warns: 80% (issue 14). */
export const WARNING_FRACTION = 0.8;

export function budgetState(spentUSD: number, budgetUSD: number): BudgetState {
  if (spentUSD >= budgetUSD) return 'exceeded';
  if (spentUSD >= budgetUSD * WARNING_FRACTION) return 'warning';
  return 'ok';
}

/** One window as the ledger counts it. */
export interface CountedWindow {
  window: BudgetWindowKind;
  start: number;
  resetAt: number;
  spentUSD: number;
  budgetUSD?: number | undefined;
}

/** Cents to six decimal places: cheap models cost fractions of a cent per request. */
export const roundUSD = (usd: number): number => Math.round(usd * 1e6) / 1e6;
const dollars = (usd: number): string => `$${usd.toFixed(2)}`;
const BUDGET_NAME: Record<BudgetWindowKind, string> = { day: 'daily', month: 'monthly' };

export function spendWindowStatus(w: CountedWindow): SpendWindowStatus {
  const spent = roundUSD(w.spentUSD);
  const out: SpendWindowStatus = {
    start: kubeTime(w.start),
    resetAt: kubeTime(w.resetAt),
    spentUSD: spent,
    display: spent.toFixed(2),
  };
  if (w.budgetUSD !== undefined) {
    out.budgetUSD = w.budgetUSD;
    out.display = `${spent.toFixed(2)}/${w.budgetUSD.toFixed(2)}`;
  }
  return out;
}

export function spendStatusOf(
  windows: { day: CountedWindow; month: CountedWindow },
  updatedAtMs: number | undefined,
): SpendStatus {
  const status: SpendStatus = {
    day: spendWindowStatus(windows.day),
    month: spendWindowStatus(windows.month),
  };
  if (updatedAtMs !== undefined) status.updatedAt = kubeTime(updatedAtMs);
  return status;
}

/** e.g. `tenant team-a/batch` or `route team-a/chat`. */
export type BudgetOwner = string;

/** The Event and condition message for a window that crossed into `state`. */
export function budgetMessage(
  owner: BudgetOwner,
  w: CountedWindow & { budgetUSD: number },
  state: Exclude<BudgetState, 'ok'>,
  onExceeded: BudgetAction,
): string {
  const name = BUDGET_NAME[w.window];
  const resets = `it resets at ${kubeTime(w.resetAt)}`;
  if (state === 'warning') {
    const percent = w.budgetUSD > 0 ? Math.floor((w.spentUSD / w.budgetUSD) * 100) : 100;
    return `${owner} has spent ${percent}% of its ${name} budget of ${dollars(w.budgetUSD)} (spent ${dollars(w.spentUSD)}); ${resets}`;
  }
  const action =
    onExceeded === 'refuse'
      ? 'requests are refused with 429 until then'
      : 'requests go only to rules with matches.budgetExceeded: true until then (refused without one)';
  return `${owner} has spent its ${name} budget of ${dollars(w.budgetUSD)} (spent ${dollars(w.spentUSD)}); ${resets}; ${action}`;
}

const RANK: Record<BudgetState, number> = { ok: 0, warning: 1, exceeded: 2 };
export const stateRank = (s: BudgetState): number => RANK[s];

/**
 * BudgetWarning (spend ≥ 80% of a budget) and BudgetExceeded (≥ 100%) for an
 * object with a daily or monthly budget; none without one. A new window
 * starts from 0, so both go back to False with it.
 */
export function budgetConditions(
  owner: BudgetOwner,
  windows: readonly CountedWindow[],
  onExceeded: BudgetAction,
): ConditionInput[] {
  const budgeted = windows.filter(
    (w): w is CountedWindow & { budgetUSD: number } => w.budgetUSD !== undefined,
  );
  if (budgeted.length === 0) return [];
  const at = (state: Exclude<BudgetState, 'ok'>) =>
    budgeted.filter((w) => stateRank(budgetState(w.spentUSD, w.budgetUSD)) >= RANK[state]);
  const within = `within budget: ${budgeted
    .map((w) => `${dollars(w.spentUSD)} of ${dollars(w.budgetUSD)} ${BUDGET_NAME[w.window]}`)
    .join(', ')}`;
  const condition = (
    type: typeof ConditionType.BudgetWarning | typeof ConditionType.BudgetExceeded,
    state: Exclude<BudgetState, 'ok'>,
  ): ConditionInput => {
    const hit = at(state);
    if (hit.length === 0)
      return { type, status: 'False', reason: ConditionReason.WithinBudget, message: within };
    return {
      type,
      status: 'True',
      reason: type,
      message: hit.map((w) => budgetMessage(owner, w, stateOf(w, state), onExceeded)).join('; '),
    };
  };
  return [
    condition(ConditionType.BudgetWarning, 'warning'),
    condition(ConditionType.BudgetExceeded, 'exceeded'),
  ];
}

/** A window past its budget says so in the warning too: exceeded wins over warning in the message. */
function stateOf(
  w: CountedWindow & { budgetUSD: number },
  atLeast: Exclude<BudgetState, 'ok'>,
): Exclude<BudgetState, 'ok'> {
  return budgetState(w.spentUSD, w.budgetUSD) === 'exceeded' ? 'exceeded' : atLeast;
}

/** What the budget ledger says for one object's status; undefined between terms. */
export interface BudgetStatusView {
  /** null: no budget and no spend this month (the field goes). */
  spend: SpendStatus | null;
  conditions: ConditionInput[];
}

const BUDGET_CONDITIONS: ReadonlySet<string> = new Set([
  ConditionType.BudgetWarning,
  ConditionType.BudgetExceeded,
]);

/**
 * status.spend and the budget conditions to write: the ledger's, or, between
 * terms (no view), what status already says, so a write of other fields
 * neither drops nor resets them.
 */
export function budgetStatusParts(
  view: BudgetStatusView | undefined,
  previous: { spend?: SpendStatus | undefined; conditions?: readonly ConditionInput[] | undefined },
): { spend: SpendStatus | undefined; conditions: ConditionInput[] } {
  if (view) return { spend: view.spend ?? undefined, conditions: view.conditions };
  const kept = (previous.conditions ?? [])
    .filter((c) => BUDGET_CONDITIONS.has(c.type))
    .map(({ type, status, reason, message }) => ({ type, status, reason, message }));
  return { spend: previous.spend, conditions: kept };
}
