// Rule matching: which rule of a route serves a request.
import type { RequestFacts } from './facts.js';
import type { PreparedMatch, PreparedRoute, PreparedRule } from './prepared-table.js';

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

/** All fields of one match must hold; cheap checks run before the lazy facts. */
export function matchHolds(match: PreparedMatch, facts: RequestFacts): boolean {
  const m = match.source;
  if (!match.headers.every((h) => h.test(facts.header(h.name)))) return false;
  if (!oneOf(facts.tenant, m.tenants)) return false;
  if (!oneOf(facts.priority, match.priorities)) return false;
  if (!oneOf(facts.task, match.tasks)) return false;
  if (m.capabilities && !containsAll(facts.capabilities, m.capabilities)) return false;
  if (m.compliance && !containsAll(facts.compliance, m.compliance)) return false;
  if (m.promptTokens && !inRange(facts.promptTokens(), m.promptTokens)) return false;
  if (m.difficulty && !inRange(facts.difficulty(), m.difficulty)) return false;
  return true;
}

export function ruleMatches(rule: PreparedRule, facts: RequestFacts): boolean {
  return rule.matches.length === 0 || rule.matches.some((m) => matchHolds(m, facts));
}

/** The first rule whose matches hold, in declaration order. */
export function firstMatchingRule(
  route: PreparedRoute,
  facts: RequestFacts,
): PreparedRule | undefined {
  return route.rules.find((rule) => ruleMatches(rule, facts));
}
