// Rule matching: which rule of a route serves a request.
import type { RequestFacts } from './facts.js';
import type { BackendLiveView } from './live-state.js';
import type { PreparedMatch, PreparedRoute, PreparedRule } from './prepared-table.js';
import { timeWindowHolds } from './time-window.js';

function inRange(
  value: number,
  range: { min?: number | undefined; max?: number | undefined },
): boolean {
  return (
    (range.min === undefined || value >= range.min) &&
    (range.max === undefined || value <= range.max)
  );
}

function containsAll(have: readonly string[], want: readonly string[]): boolean {
  return want.every((w) => have.includes(w));
}

function oneOf(value: string | undefined, allowed: readonly string[] | undefined): boolean {
  return allowed === undefined || (value !== undefined && allowed.includes(value));
}

/**
 * All fields of one match must hold; cheap checks run before the lazy facts.
 * `live` answers matches.load: the proxy's view of each backend's load.
 */
export function matchHolds(
  match: PreparedMatch,
  facts: RequestFacts,
  live: BackendLiveView,
): boolean {
  const m = match.source;
  if (m.budgetExceeded !== undefined && m.budgetExceeded !== (facts.budgetExceeded === true))
    return false;
  if (!match.headers.every((h) => h.test(facts.header(h.name)))) return false;
  if (!oneOf(facts.tenant, m.tenants)) return false;
  if (!oneOf(facts.priority, match.priorities)) return false;
  if (!oneOf(facts.task, match.tasks)) return false;
  if (m.capabilities && !containsAll(facts.capabilities, m.capabilities)) return false;
  if (m.compliance && !containsAll(facts.compliance, m.compliance)) return false;
  // Without an arrival time a window cannot be said to hold (the proxy always sets one).
  const { nowMs } = facts;
  if (
    match.timeWindows &&
    (nowMs === undefined || !match.timeWindows.some((w) => timeWindowHolds(w, nowMs)))
  )
    return false;
  if (match.load && !((live.load?.(match.load.backendId) ?? 0) > match.load.above)) return false;
  if (m.promptTokens && !inRange(facts.promptTokens(), m.promptTokens)) return false;
  if (m.difficulty && !inRange(facts.difficulty(), m.difficulty)) return false;
  return true;
}

export function ruleMatches(
  rule: PreparedRule,
  facts: RequestFacts,
  live: BackendLiveView,
): boolean {
  return rule.matches.length === 0 || rule.matches.some((m) => matchHolds(m, facts, live));
}

/** The first rule whose matches hold, in declaration order. */
export function firstMatchingRule(
  route: PreparedRoute,
  facts: RequestFacts,
  live: BackendLiveView,
): PreparedRule | undefined {
  return route.rules.find((rule) => ruleMatches(rule, facts, live));
}
