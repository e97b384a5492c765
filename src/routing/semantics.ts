// Checks that span objects, beyond what one object's schema can say: every
// reference resolves, model names are unambiguous, fallbacks form no cycle.
// Shared by table compilation, `modelroute validate` and the controller.
import type { ModelBackend, ModelBackendGrant, ModelRoute } from '../api/v1alpha1/index.js';
import { GrantIndex, refBackendId, refNotPermittedMessage } from './grants.js';
import { isKnownTimeZone } from './time-window.js';

export const DEFAULT_NAMESPACE = 'default';

export type ProblemCode =
  | 'BackendNotFound'
  | 'RefNotPermitted'
  | 'FallbackRouteNotFound'
  | 'FallbackCycle'
  | 'ModelConflict'
  | 'QualityMissing'
  | 'DuplicateObject'
  | 'LoadBackendNotReferenced'
  | 'TimeZoneUnknown';

/**
 * Problems that make a route not Accepted: it is left out of every table
 * (requests for its model get a 404) unless an earlier accepted version is
 * kept serving. The others (a missing backend) degrade it.
 */
export const ACCEPTANCE_PROBLEMS: ReadonlySet<ProblemCode> = new Set([
  'ModelConflict',
  'FallbackCycle',
  'QualityMissing',
  'DuplicateObject',
  // A load condition on a backend the route's tables do not carry, or a
  // window in a zone Intl does not know, would never hold: the route would
  // quietly route otherwise than it says.
  'LoadBackendNotReferenced',
  'TimeZoneUnknown',
]);

/** Ids (`<namespace>/<name>`) of the routes these problems keep from being Accepted. */
export function refusedRouteIds(problems: readonly SemanticProblem[]): Set<string> {
  return new Set(
    problems
      .filter((p) => p.object.kind === 'ModelRoute' && ACCEPTANCE_PROBLEMS.has(p.code))
      .map((p) => `${p.object.namespace}/${p.object.name}`),
  );
}

export interface SemanticProblem {
  code: ProblemCode;
  object: { kind: 'ModelRoute' | 'ModelBackend'; namespace: string; name: string };
  /** Field path within the object, e.g. `spec.rules[0].backendRefs[1].name`. */
  path: string;
  message: string;
}

export function namespaceOf(obj: { metadata: { namespace?: string | undefined } }): string {
  return obj.metadata.namespace ?? DEFAULT_NAMESPACE;
}

export function objectId(obj: {
  metadata: { name: string; namespace?: string | undefined };
}): string {
  return `${namespaceOf(obj)}/${obj.metadata.name}`;
}

/**
 * Which route owns each client model name, per namespace. When two routes
 * claim the same name the older one keeps it (then the lexically smaller
 * name), so adding a conflicting route never steals live traffic.
 */
export function modelOwners(routes: readonly ModelRoute[]): Map<string, ModelRoute> {
  const owners = new Map<string, ModelRoute>();
  const byAge = [...routes].sort(compareAge);
  for (const route of byAge) {
    for (const name of [route.spec.model, ...(route.spec.aliases ?? [])]) {
      const key = `${namespaceOf(route)}/${name}`;
      if (!owners.has(key)) owners.set(key, route);
    }
  }
  return owners;
}

/** Oldest first (creationTimestamp, then namespace/name): who keeps a contested model name. */
export function compareAge(a: ModelRoute, b: ModelRoute): number {
  const ta = a.metadata.creationTimestamp ?? '';
  const tb = b.metadata.creationTimestamp ?? '';
  if (ta !== tb) return ta < tb ? -1 : 1;
  return objectId(a) < objectId(b) ? -1 : objectId(a) > objectId(b) ? 1 : 0;
}

/**
 * `grants`: the ModelBackendGrants of the backends' namespaces. A ref to a
 * backend of another namespace is `RefNotPermitted` unless one lets the
 * route's namespace in, whether or not that backend exists (so a route's
 * owner learns nothing about namespaces that did not grant them).
 */
export function checkSemantics(
  routes: readonly ModelRoute[],
  backends: readonly ModelBackend[],
  grants: readonly ModelBackendGrant[] | GrantIndex = [],
): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const granted = grants instanceof GrantIndex ? grants : new GrantIndex(grants);
  const backendsById = new Map<string, ModelBackend>();
  for (const backend of backends) {
    const id = objectId(backend);
    if (backendsById.has(id)) {
      problems.push({
        code: 'DuplicateObject',
        object: {
          kind: 'ModelBackend',
          namespace: namespaceOf(backend),
          name: backend.metadata.name,
        },
        path: 'metadata.name',
        message: `ModelBackend ${id} is defined more than once; give each a unique name`,
      });
    }
    backendsById.set(id, backend);
  }
  const seenRoutes = new Set<string>();
  for (const route of routes) {
    const id = objectId(route);
    if (seenRoutes.has(id)) {
      problems.push({
        code: 'DuplicateObject',
        object: { kind: 'ModelRoute', namespace: namespaceOf(route), name: route.metadata.name },
        path: 'metadata.name',
        message: `ModelRoute ${id} is defined more than once; give each a unique name`,
      });
    }
    seenRoutes.add(id);
  }

  const owners = modelOwners(routes);
  for (const route of routes) {
    const ns = namespaceOf(route);
    const object = { kind: 'ModelRoute' as const, namespace: ns, name: route.metadata.name };
    /** The backend a ref resolves to, or the problem it has (pushed with `path`). */
    const resolveRef = (
      ref: { name: string; namespace?: string | undefined },
      path: string,
    ): ModelBackend | undefined => {
      if (!granted.permits(ns, ref)) {
        problems.push({
          code: 'RefNotPermitted',
          object,
          path,
          message: refNotPermittedMessage(ns, ref),
        });
        return undefined;
      }
      const backend = backendsById.get(refBackendId(ns, ref));
      if (!backend) {
        problems.push({
          code: 'BackendNotFound',
          object,
          path,
          message: `ModelBackend "${ref.name}" not found in namespace ${ref.namespace ?? ns}`,
        });
      }
      return backend;
    };

    [route.spec.model, ...(route.spec.aliases ?? [])].forEach((name, i) => {
      const owner = owners.get(`${ns}/${name}`);
      if (owner && owner !== route) {
        problems.push({
          code: 'ModelConflict',
          object,
          path: i === 0 ? 'spec.model' : `spec.aliases[${i - 1}]`,
          message: `model name "${name}" is already served by ModelRoute ${objectId(owner)}; choose another name or remove one of the routes`,
        });
      }
    });

    route.spec.rules.forEach((rule, i) => {
      rule.backendRefs.forEach((ref, j) => {
        const backend = resolveRef(ref, `spec.rules[${i}].backendRefs[${j}].name`);
        if (backend && rule.strategy === 'cost-quality' && backend.spec.quality === undefined) {
          problems.push({
            code: 'QualityMissing',
            object,
            path: `spec.rules[${i}].backendRefs[${j}].name`,
            message: `rule "${rule.name}" uses the cost-quality strategy, so ModelBackend "${ref.name}" needs spec.quality (0 weakest .. 1 strongest)`,
          });
        }
      });
    });

    route.spec.rules.forEach((rule, i) => {
      const judge = rule.costQuality?.learning?.judgeRef;
      if (judge) resolveRef(judge, `spec.rules[${i}].costQuality.learning.judgeRef.name`);
    });
    (route.spec.fallback?.backendRefs ?? []).forEach((ref, j) =>
      resolveRef(ref, `spec.fallback.backendRefs[${j}].name`),
    );
    problems.push(...conditionProblems(route));

    const fallbackModel = route.spec.fallback?.model;
    if (fallbackModel !== undefined) {
      if (!owners.has(`${ns}/${fallbackModel}`)) {
        problems.push({
          code: 'FallbackRouteNotFound',
          object,
          path: 'spec.fallback.model',
          message: `no ModelRoute in namespace ${ns} serves model "${fallbackModel}"`,
        });
      } else if (fallbackChainReturnsTo(route, owners)) {
        problems.push({
          code: 'FallbackCycle',
          object,
          path: 'spec.fallback.model',
          message: `falling back to "${fallbackModel}" leads back to this route; break the cycle of fallback.model references`,
        });
      }
    }
  }
  return problems;
}

/**
 * Load conditions and time windows of a route's matches. A load condition may
 * only name a backend the route itself references: a proxy learns the load of
 * the backends in its table, and a table carries the ones its routes use.
 */
function conditionProblems(route: ModelRoute): SemanticProblem[] {
  const ns = namespaceOf(route);
  const object = { kind: 'ModelRoute' as const, namespace: ns, name: route.metadata.name };
  const referenced = new Set(
    [
      ...route.spec.rules.flatMap((r) => r.backendRefs),
      ...(route.spec.fallback?.backendRefs ?? []),
    ].map((ref) => refBackendId(ns, ref)),
  );
  const problems: SemanticProblem[] = [];
  route.spec.rules.forEach((rule, i) => {
    (rule.matches ?? []).forEach((match, k) => {
      const at = `spec.rules[${i}].matches[${k}]`;
      if (match.load) {
        const id = refBackendId(ns, { name: match.load.backend, namespace: match.load.namespace });
        if (!referenced.has(id))
          problems.push({
            code: 'LoadBackendNotReferenced',
            object,
            path: `${at}.load.backend`,
            message: `rule "${rule.name}" matches on the load of ModelBackend ${id}, which this route does not use, so no proxy serving it tracks that load; name one of its backends (${[...referenced].sort().join(', ')}) or add ${id} to a rule's or the fallback's backendRefs`,
          });
      }
      (match.timeWindows ?? []).forEach((window, j) => {
        if (isKnownTimeZone(window.timeZone)) return;
        problems.push({
          code: 'TimeZoneUnknown',
          object,
          path: `${at}.timeWindows[${j}].timeZone`,
          message: `rule "${rule.name}": "${window.timeZone}" is not an IANA time zone${suggestTimeZone(window.timeZone)}; use a name from the tz database such as "UTC", "Europe/Berlin" or "America/New_York"`,
        });
      });
    });
  });
  return problems;
}

/** `; did you mean "X"?` when a known zone differs only in case or separators. */
function suggestTimeZone(zone: string): string {
  const key = (z: string) => z.toLowerCase().replace(/[\s_-]+/g, '');
  const wanted = key(zone);
  const match = Intl.supportedValuesOf('timeZone').find((z) => key(z) === wanted);
  return match ? `; did you mean "${match}"?` : '';
}

function fallbackChainReturnsTo(start: ModelRoute, owners: Map<string, ModelRoute>): boolean {
  const ns = namespaceOf(start);
  const visited = new Set<ModelRoute>();
  let current: ModelRoute | undefined = start;
  while (current?.spec.fallback?.model !== undefined) {
    visited.add(current);
    current = owners.get(`${ns}/${current.spec.fallback.model}`);
    if (current === start) return true;
    if (current && visited.has(current)) return false; // a cycle elsewhere; reported on its own members
  }
  return false;
}

/**
 * Model names claimed in more than one namespace: fine in a cluster (each
 * namespace's proxies get their own table), a conflict where one table holds
 * every namespace (local mode), since a proxy looks names up without one.
 */
export function oneTableConflicts(routes: readonly ModelRoute[]): SemanticProblem[] {
  const problems: SemanticProblem[] = [];
  const owner = new Map<string, ModelRoute>();
  for (const route of [...routes].sort(compareAge)) {
    [route.spec.model, ...(route.spec.aliases ?? [])].forEach((name, i) => {
      const first = owner.get(name);
      if (!first) return void owner.set(name, route);
      if (namespaceOf(first) === namespaceOf(route)) return; // checkSemantics reports these
      problems.push({
        code: 'ModelConflict',
        object: { kind: 'ModelRoute', namespace: namespaceOf(route), name: route.metadata.name },
        path: i === 0 ? 'spec.model' : `spec.aliases[${i - 1}]`,
        message: `model name "${name}" is already served by ModelRoute ${objectId(first)}; local mode serves every namespace from one table, so each model name may appear once`,
      });
    });
  }
  return problems;
}
