// What this proxy may use of each fleet-wide limit and budget (issue 14): the
// controller's latest QuotaAssignment, its expiry to the safe shares, and the
// defaults before any assignment (limit / UNASSIGNED_SHARE_DIVISOR) or without
// a controller at all (local mode: this proxy is the whole fleet).
import {
  quotaAssignment,
  type BudgetShare,
  type LimitAmounts,
  type LimitShare,
  type QuotaAssignment,
  type QuotaKey,
} from './protocol.js';

/**
 * Before its first assignment a controller-fed proxy enforces limit / 20; the
 * controller counts every known pod without an assignment as holding that much.
 */
export const UNASSIGNED_SHARE_DIVISOR = 20;

/**
 * local: started from YAML files with no controller (`modelroute dev`), so
 * this proxy is the whole fleet and enforces each limit in full until
 * something pushes it an assignment. fleet: tables and shares come from a
 * controller; before the first assignment it enforces limit / 20.
 */
export type QuotaMode = 'local' | 'fleet';

export type ApplyResult = { ok: true } | { ok: false; status: 400 | 409; error: string };

/** Where the amounts a proxy enforces for a key come from. */
export type ShareSource = 'whole-limit' | 'unassigned' | 'assigned' | 'safe';

export interface QuotaStateOptions {
  mode: QuotaMode;
  now: () => number;
}

/** A budget window the proxy holds exceeded, with what the message needs. */
export interface ExceededBudget {
  budget: BudgetShare;
  /** The fleet's spend at the assignment plus this proxy's since. */
  spentUSD: number;
}

export class QuotaState {
  readonly mode: QuotaMode;
  private readonly now: () => number;
  private current: QuotaAssignment | undefined;
  private receivedAtMs = 0;
  private applies = 0;
  private readonly limitsByKey = new Map<QuotaKey, LimitShare>();
  private readonly budgetsByKey = new Map<QuotaKey, BudgetShare[]>();
  /** What this proxy spent per budget key since the current assignment arrived. */
  private readonly spentSince = new Map<QuotaKey, number>();

  constructor(options: QuotaStateOptions) {
    this.mode = options.mode;
    this.now = options.now;
  }

  /**
   * Validates and applies an assignment pushed by the controller. An older
   * sequence of the same leader term is refused (a push that was overtaken by
   * a newer one); another term is a new leader, whose sequence starts afresh.
   * The same sequence again renews the assignment (a re-push after a timeout).
   */
  apply(body: unknown): ApplyResult {
    const parsed = quotaAssignment.safeParse(body);
    if (!parsed.success) {
      const issues = parsed.error.issues
        .slice(0, 5)
        .map((i) => `${i.path.length > 0 ? i.path.join('.') : '(body)'}: ${i.message}`)
        .join('; ');
      return {
        ok: false,
        status: 400,
        error: `not a quota assignment (see src/quota/protocol.ts): ${issues}`,
      };
    }
    const next = parsed.data;
    const current = this.current;
    if (current && current.term === next.term && next.sequence < current.sequence) {
      return {
        ok: false,
        status: 409,
        error: `assignment ${next.sequence} of term ${next.term} is older than assignment ${current.sequence} this proxy already runs; push a newer one`,
      };
    }
    this.current = next;
    this.receivedAtMs = this.now();
    this.applies++;
    this.limitsByKey.clear();
    for (const share of next.limits) this.limitsByKey.set(share.key, share);
    this.budgetsByKey.clear();
    for (const budget of next.budgets) {
      const list = this.budgetsByKey.get(budget.key) ?? [];
      list.push(budget);
      this.budgetsByKey.set(budget.key, list);
    }
    // allowanceUSD is what may be spent from this assignment on.
    this.spentSince.clear();
    return { ok: true };
  }

  /** Whether the assignment has gone `validForMs` without a newer one (then safe shares apply). */
  expired(): boolean {
    return this.current !== undefined && this.now() - this.receivedAtMs >= this.current.validForMs;
  }

  /**
   * Changes whenever the amounts shareOf returns may change (a new assignment,
   * or the current one expiring): limiters re-read their share only then.
   */
  epoch(): number {
    return this.applies * 2 + (this.expired() ? 1 : 0);
  }

  /**
   * The amounts this proxy enforces now for `key`, whose fleet-wide limit (from
   * the routing table) is `limit`. Never more than the limit itself: a table
   * that lowered a limit since the assignment wins.
   */
  shareOf(key: QuotaKey, limit: LimitAmounts): { amounts: LimitAmounts; source: ShareSource } {
    const assigned = this.limitsByKey.get(key);
    if (!assigned) {
      if (this.mode === 'local') return { amounts: limit, source: 'whole-limit' };
      return { amounts: divided(limit), source: 'unassigned' };
    }
    const expired = this.expired();
    const given = expired ? assigned.safe : assigned.share;
    const amounts: LimitAmounts = {};
    for (const field of LIMIT_FIELDS) {
      const whole = limit[field];
      if (whole === undefined) continue;
      const part = given[field];
      amounts[field] = Math.min(
        whole,
        part ?? (this.mode === 'local' ? whole : whole / UNASSIGNED_SHARE_DIVISOR),
      );
    }
    return { amounts, source: expired ? 'safe' : 'assigned' };
  }

  /** Counts what a request cost against the budgets of these keys. */
  recordSpend(keys: readonly QuotaKey[], usd: number): void {
    if (!(usd > 0) || !Number.isFinite(usd)) return;
    for (const key of keys)
      if (this.budgetsByKey.has(key))
        this.spentSince.set(key, (this.spentSince.get(key) ?? 0) + usd);
  }

  /**
   * The first budget window of `key` this proxy must treat as exceeded: the
   * controller says so, or this proxy alone spent its allowance (its safe
   * allowance once the assignment expired) since the assignment. A window whose reset time has passed is over: its budget no
   * longer holds until the controller sends the new window's state.
   */
  exceededBudget(key: QuotaKey): ExceededBudget | undefined {
    const budgets = this.budgetsByKey.get(key);
    if (!budgets) return undefined;
    const own = this.spentSince.get(key) ?? 0;
    for (const budget of budgets)
      if (this.overBudget(budget, own)) return { budget, spentUSD: budget.spentUSD + own };
    return undefined;
  }

  /**
   * Whether a budget window holds as exceeded after this proxy spent `own`
   * since the assignment: the controller says so, or `own` passed the
   * allowance, or, once the assignment expired (controller gone), the safe
   * allowance. A window whose reset time has passed is over.
   */
  private overBudget(budget: BudgetShare, own: number): boolean {
    if (this.now() >= budget.resetAtMs) return false;
    if (budget.state === 'exceeded') return true;
    const allowance = this.expired()
      ? (budget.safeAllowanceUSD ??
        Math.min(
          budget.allowanceUSD,
          Math.max(0, budget.budgetUSD - budget.spentUSD) / UNASSIGNED_SHARE_DIVISOR,
        ))
      : budget.allowanceUSD;
    return own > allowance;
  }

  /** Whether any budget is assigned at all (so requests can skip the lookups). */
  hasBudgets(): boolean {
    return this.budgetsByKey.size > 0;
  }

  /** The assignment this proxy runs ({term, sequence}), null before the first. */
  assignment(): { term: string; sequence: number } | null {
    return this.current ? { term: this.current.term, sequence: this.current.sequence } : null;
  }

  /** What GET /admin/v1/quotas shows of the assignment and budgets. */
  describe(): QuotaStateView {
    const current = this.current;
    return {
      mode: this.mode,
      assignment: current
        ? {
            term: current.term,
            sequence: current.sequence,
            issuedAtMs: current.issuedAtMs,
            receivedAtMs: this.receivedAtMs,
            validForMs: current.validForMs,
            expired: this.expired(),
          }
        : null,
      budgets: [...this.budgetsByKey.values()].flat().map((budget) => {
        const own = this.spentSince.get(budget.key) ?? 0;
        return {
          ...budget,
          spentSinceAssignmentUSD: own,
          exceeded: this.overBudget(budget, own),
        };
      }),
    };
  }
}

export interface QuotaStateView {
  mode: QuotaMode;
  assignment: {
    term: string;
    sequence: number;
    issuedAtMs: number;
    receivedAtMs: number;
    validForMs: number;
    /** True once validForMs passed without a newer assignment: the safe shares are in effect. */
    expired: boolean;
  } | null;
  budgets: (BudgetShare & { spentSinceAssignmentUSD: number; exceeded: boolean })[];
}

const LIMIT_FIELDS = ['rpm', 'tpm', 'maxConcurrency'] as const;

function divided(limit: LimitAmounts): LimitAmounts {
  const out: LimitAmounts = {};
  for (const field of LIMIT_FIELDS) {
    const whole = limit[field];
    if (whole !== undefined) out[field] = whole / UNASSIGNED_SHARE_DIVISOR;
  }
  return out;
}
