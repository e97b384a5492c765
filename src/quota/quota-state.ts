// What this proxy may use of each fleet-wide limit and budget (issue 14): the
// controller's latest QuotaAssignment, its expiry to the safe shares, and the
// defaults before any assignment (limit / UNASSIGNED_SHARE_DIVISOR) or without
// a controller at all (local mode: this proxy is the whole fleet).
import type { BudgetShare, LimitAmounts, QuotaAssignment, QuotaKey } from './protocol.js';

/**
 * Before its first assignment a controller-fed proxy enforces limit / 20; the
 * controller counts every known pod without an assignment as holding that much.
 */
export const UNASSIGNED_SHARE_DIVISOR = 20;

/** local: started from YAML files, no controller (the whole fleet); fleet: tables and shares come from a controller. */
export type QuotaMode = 'local' | 'fleet';

export type ApplyResult = { ok: true } | { ok: false; status: 400 | 409; error: string };

export interface QuotaStateOptions {
  mode: QuotaMode;
  now: () => number;
}

export class QuotaState {
  readonly mode: QuotaMode;
  private readonly now: () => number;
  private current: QuotaAssignment | undefined;

  constructor(options: QuotaStateOptions) {
    this.mode = options.mode;
    this.now = options.now;
  }

  /** Validates and applies an assignment pushed by the controller. */
  apply(_body: unknown): ApplyResult {
    return { ok: false, status: 400, error: 'not implemented yet' };
  }

  /** The amounts this proxy enforces now for `key`, whose fleet-wide limit is `limit`. */
  shareOf(_key: QuotaKey, limit: LimitAmounts): LimitAmounts {
    return limit;
  }

  /** The budget windows the assignment gives for `key` (none before an assignment). */
  budgetsOf(_key: QuotaKey): readonly BudgetShare[] {
    return [];
  }

  /** The assignment this proxy runs ({term, sequence}), null before the first. */
  assignment(): { term: string; sequence: number } | null {
    return this.current ? { term: this.current.term, sequence: this.current.sequence } : null;
  }
}
