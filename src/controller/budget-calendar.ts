// Budget windows are UTC calendar days and months: a day's spend starts again
// from 0 at 00:00:00Z, a month's on the 1st at 00:00:00Z.
import type { BudgetWindowKind } from './budget-window.js';

export const BUDGET_WINDOWS: readonly BudgetWindowKind[] = ['day', 'month'];

/** The window of `kind` that holds `nowMs`: its start and when it resets (epoch ms). */
export function windowBounds(
  kind: BudgetWindowKind,
  nowMs: number,
): { start: number; resetAt: number } {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth();
  if (kind === 'month') return { start: Date.UTC(y, m, 1), resetAt: Date.UTC(y, m + 1, 1) };
  const day = d.getUTCDate();
  return { start: Date.UTC(y, m, day), resetAt: Date.UTC(y, m, day + 1) };
}
