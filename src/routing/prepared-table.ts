// A RoutingTable made ready for the hot path: lookups by model and backend id,
// header matchers compiled once per table rather than once per request.
import { compileHeaderRegex, type RouteMatch } from '../api/v1alpha1/index.js';
import { refBackendId } from './grants.js';
import type { CompiledBackend, CompiledRoute, CompiledRule, RoutingTable } from './table.js';
import { prepareTimeWindow, type PreparedTimeWindow } from './time-window.js';

export type HeaderPredicate = (value: string | undefined) => boolean;

export interface PreparedMatch {
  source: RouteMatch;
  headers: { name: string; test: HeaderPredicate }[];
  /** Lower-cased, like the facts they are compared with. */
  priorities: readonly string[] | undefined;
  tasks: readonly string[] | undefined;
  /** matches.load with its backend's full id (`<namespace>/<name>`, default the route's namespace). */
  load: { backendId: string; above: number } | undefined;
  timeWindows: PreparedTimeWindow[] | undefined;
}

export interface PreparedRule {
  source: CompiledRule;
  matches: PreparedMatch[];
  /** Whether any match needs the prompt's token count or difficulty. */
  needsPromptTokens: boolean;
  needsDifficulty: boolean;
}

export interface PreparedRoute {
  source: CompiledRoute;
  rules: PreparedRule[];
}

export interface PreparedTable {
  table: RoutingTable;
  routeByModel: ReadonlyMap<string, PreparedRoute>;
  routeById: ReadonlyMap<string, PreparedRoute>;
  backendById: ReadonlyMap<string, CompiledBackend>;
}

function headerPredicate(h: NonNullable<RouteMatch['headers']>[number]): HeaderPredicate {
  const expected = h.value ?? '';
  switch (h.type) {
    case 'Present':
      return (v) => v !== undefined;
    case 'Prefix':
      return (v) => v !== undefined && v.startsWith(expected);
    case 'RegularExpression': {
      // RE2 (linear time, the syntax the API documents), whole value.
      const compiled = compileHeaderRegex(expected);
      if (!compiled.ok)
        throw new Error(
          `header ${h.name}: ${JSON.stringify(expected)} is not RE2: ${compiled.reason}`,
        );
      const re = compiled.matcher;
      return (v) => v !== undefined && re.matches(v);
    }
    case 'Exact':
      return (v) => v === expected;
  }
}

function prepareRule(rule: CompiledRule, routeNamespace: string): PreparedRule {
  return {
    source: rule,
    matches: rule.matches.map((m) => ({
      source: m,
      headers: (m.headers ?? []).map((h) => ({
        name: h.name.toLowerCase(),
        test: headerPredicate(h),
      })),
      priorities: m.priorities?.map((p) => p.toLowerCase()),
      tasks: m.tasks?.map((t) => t.toLowerCase()),
      load: m.load && {
        backendId: refBackendId(routeNamespace, {
          name: m.load.backend,
          namespace: m.load.namespace,
        }),
        above: m.load.above,
      },
      timeWindows: m.timeWindows?.map(prepareTimeWindow),
    })),
    needsPromptTokens: rule.matches.some((m) => m.promptTokens !== undefined),
    needsDifficulty: rule.matches.some((m) => m.difficulty !== undefined),
  };
}

/**
 * Prepares a validated table. Model names are looked up case-sensitively, as
 * OpenAI does. Throws only on a table that `parseRoutingTable` would reject.
 */
export function prepareTable(table: RoutingTable): PreparedTable {
  const routeByModel = new Map<string, PreparedRoute>();
  const routeById = new Map<string, PreparedRoute>();
  for (const route of table.routes) {
    const prepared: PreparedRoute = {
      source: route,
      rules: route.rules.map((r) => prepareRule(r, route.namespace)),
    };
    routeById.set(route.id, prepared);
    for (const name of [route.model, ...route.aliases]) {
      if (!routeByModel.has(name)) routeByModel.set(name, prepared);
    }
  }
  return {
    table,
    routeByModel,
    routeById,
    backendById: new Map(table.backends.map((b) => [b.id, b])),
  };
}
