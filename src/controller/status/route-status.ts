// Computes a ModelRoute's status from what the controller knows: semantic
// problems, backend health, proxy acknowledgements and failovers.
import {
  ConditionReason,
  ConditionType,
  type HealthState,
  type ModelRoute,
  type ModelRouteStatus,
} from '../../api/v1alpha1/index.js';
import type { BackendRefLike } from '../../routing/grants.js';
import { ACCEPTANCE_PROBLEMS, type SemanticProblem } from '../../routing/semantics.js';
import { budgetStatusParts, type BudgetStatusView } from './budget-status.js';
import { mergeConditions, type ConditionInput } from './conditions.js';

export interface BackendView {
  /** Whether the ModelBackend exists and the route may use it. */
  exists: boolean;
  health: HealthState;
  /** Why: for a usable one (ProbeFailed, ...), or for one that is not (default NotFound; RefNotPermitted). */
  reason?: string | undefined;
  /** Set when the proxies cannot get its credentials: why, and the fix (it then counts as not usable). */
  unavailable?: string | undefined;
  /** Set when some (not all) selected proxies cannot get its key: why, and the fix (it still counts as usable). */
  keyMissingOnSome?: string | undefined;
}

export interface ProgrammedView {
  /** Proxy pods selected for this route. */
  desired: number;
  /** Of those, how many run this route as it is compiled now. */
  programmed: number;
  /** The route's current version (route-version.ts), when a proxy is selected. */
  routeVersion?: string | undefined;
  /** Selected pods that refuse the table they should run, and why. */
  failing?: readonly { pod: string; error: string }[];
}

export interface RouteStatusInput {
  route: ModelRoute;
  problems: readonly SemanticProblem[];
  /** Health of each backend the route references (rules and fallback), by `referencedBackends` key. */
  backends: ReadonlyMap<string, BackendView>;
  proxies: ProgrammedView;
  lastFailover?: ModelRouteStatus['lastFailover'];
  /**
   * Set when the route is not Accepted but an earlier accepted version of it
   * is what the proxies serve (its generation, when known).
   */
  servingLastAccepted?: { generation?: number | undefined } | undefined;
  /** Proxy pods whose table holds this route without its fallback.model route. */
  fallbackNotServedOn?: readonly string[];
  /** Traffic in the last hour; null: none (the field goes); undefined: unknown (kept as is). */
  usage?: ModelRouteStatus['usage'] | null;
  /** 24 h and 30 d cost and savings; null: none (the field goes); undefined: unknown (kept as is). */
  cost?: ModelRouteStatus['cost'] | null | undefined;
  /** The strongShare rule on live traffic; null: none decided (the field goes); undefined: unknown (kept as is). */
  strongShare?: ModelRouteStatus['strongShare'] | null;
  /** The learning rule's model and labels; null: no learning rule (the field goes); undefined: unknown (kept as is). */
  learning?: ModelRouteStatus['learning'] | null;
  /** status.spend and the budget conditions (budget ledger); undefined: kept as they are. */
  budget?: BudgetStatusView | undefined;
  nowMs: number;
}

const REFERENCE_PROBLEMS = new Set(['BackendNotFound', 'FallbackRouteNotFound', 'RefNotPermitted']);

/** Pods named in a condition message at most; the rest are counted. */
const MAX_NAMED_PODS = 5;

function podList(pods: readonly string[]): string {
  const named = pods.slice(0, MAX_NAMED_PODS).join(', ');
  return pods.length > MAX_NAMED_PODS ? `${named} and ${pods.length - MAX_NAMED_PODS} more` : named;
}

/**
 * Backends a route references, in the order they appear, once each: the name
 * for one of the route's namespace, `namespace/name` for another namespace's.
 */
export function referencedBackends(route: ModelRoute): string[] {
  const ns = route.metadata.namespace ?? 'default';
  const key = (ref: BackendRefLike): string =>
    ref.namespace === undefined || ref.namespace === ns ? ref.name : `${ref.namespace}/${ref.name}`;
  const keys = [
    ...route.spec.rules.flatMap((r) => r.backendRefs.map(key)),
    ...(route.spec.fallback?.backendRefs ?? []).map(key),
  ];
  return [...new Set(keys)];
}

/** The backend id (`namespace/name`) of a `referencedBackends` key of a route in `routeNamespace`. */
export function backendIdOfKey(routeNamespace: string, key: string): string {
  return key.includes('/') ? key : `${routeNamespace}/${key}`;
}

/**
 * A failover still in effect, for the Ready message (the MESSAGE column of
 * `kubectl get modelroutes -o wide`); nothing once the backend recovered.
 */
function failoverNote(failover: ModelRouteStatus['lastFailover']): string {
  if (!failover || failover.recoveredTime) return '';
  const to = failover.to ? ` to ${failover.to}` : '';
  return `; failed over from ${failover.from}${to} at ${failover.time}`;
}

export function computeRouteStatus(input: RouteStatusInput): ModelRouteStatus {
  const { route, problems, backends, proxies, nowMs } = input;
  const generation = route.metadata.generation;
  const acceptance = problems.filter((p) => ACCEPTANCE_PROBLEMS.has(p.code));
  // Semantic problems with refs, and the ones found here (fallback not served, credentials).
  const references: { code: string; path: string; message: string }[] = problems.filter((p) =>
    REFERENCE_PROBLEMS.has(p.code),
  );
  const refused = references.filter((p) => p.code === ConditionReason.RefNotPermitted);
  const stale = input.servingLastAccepted;
  const names = referencedBackends(route);
  const lastFailover = input.lastFailover ?? route.status?.lastFailover;
  const healthy = names.filter(
    (n) => backends.get(n)?.exists && backends.get(n)?.health === 'Healthy',
  ).length;
  const usable = names.filter((n) => {
    const view = backends.get(n);
    return view?.exists && view.health !== 'Unhealthy' && view.unavailable === undefined;
  }).length;

  const accepted: ConditionInput =
    acceptance.length === 0
      ? {
          type: ConditionType.Accepted,
          status: 'True',
          reason: ConditionReason.Accepted,
          message: 'the route passed all checks',
        }
      : {
          type: ConditionType.Accepted,
          status: 'False',
          reason: acceptance[0]!.code,
          message: acceptance.map((p) => `${p.path}: ${p.message}`).join('; '),
        };
  const fallbackGone = input.fallbackNotServedOn ?? [];
  if (fallbackGone.length > 0 && !references.some((p) => p.path === 'spec.fallback.model')) {
    references.push({
      code: 'FallbackRouteNotFound',
      path: 'spec.fallback.model',
      message: `fallback model "${route.spec.fallback?.model ?? ''}" is not served on ${podList(fallbackGone)} (its route is not Accepted, or its proxySelector does not select these proxies), so requests here never fall back to it`,
    });
  }
  for (const n of names) {
    const view = backends.get(n);
    const message = view?.unavailable ?? view?.keyMissingOnSome;
    if (message === undefined) continue;
    references.push({ code: ConditionReason.CredentialsUnavailable, path: 'spec', message });
  }
  const resolved: ConditionInput =
    references.length === 0
      ? {
          type: ConditionType.ResolvedRefs,
          status: 'True',
          reason: ConditionReason.ResolvedRefs,
          message: 'every reference resolves',
        }
      : {
          type: ConditionType.ResolvedRefs,
          status: 'False',
          reason: references[0]!.code,
          message: references.map((p) => p.message).join('; '),
        };
  let programmed: ConditionInput;
  const failing = proxies.failing ?? [];
  if (proxies.desired === 0) {
    programmed = {
      type: ConditionType.Programmed,
      status: 'False',
      reason: ConditionReason.NoProxies,
      message:
        'no ready modelroute proxy pod is selected by this route (label modelroute.io/proxy=true and proxySelector)',
    };
  } else if (acceptance.length > 0 && !stale) {
    programmed = {
      type: ConditionType.Programmed,
      status: 'False',
      reason: ConditionReason.NotAccepted,
      message: `not programmed on any proxy because the route is not Accepted; requests for model "${route.spec.model}" get 404 until it is fixed`,
    };
  } else if (proxies.programmed < proxies.desired) {
    const stuck =
      failing.length > 0
        ? `; table push failing on ${failing
            .slice(0, MAX_NAMED_PODS)
            .map((f) => `${f.pod}: ${f.error}`)
            .join(
              '; ',
            )}${failing.length > MAX_NAMED_PODS ? `; and ${failing.length - MAX_NAMED_PODS} more` : ''}`
        : '';
    programmed = {
      type: ConditionType.Programmed,
      status: 'False',
      reason: failing.length > 0 ? ConditionReason.PushFailed : ConditionReason.Pending,
      message: `${proxies.programmed}/${proxies.desired} proxies run route version ${proxies.routeVersion ?? '(none)'}${stuck}`,
    };
  } else {
    programmed = {
      type: ConditionType.Programmed,
      status: 'True',
      reason: ConditionReason.Programmed,
      message:
        `${proxies.programmed}/${proxies.desired} proxies run route version ${proxies.routeVersion ?? ''}`.trim(),
    };
  }
  let ready: ConditionInput;
  // A refused edit while the last accepted version serves: Ready speaks for the traffic.
  const notReady = (stale ? [programmed] : [accepted, programmed]).find((c) => c.status !== 'True');
  const staleNote = stale
    ? `; serving the last accepted version${stale.generation !== undefined ? ` (generation ${stale.generation})` : ''} because generation ${generation ?? '?'} is not Accepted (${accepted.reason})`
    : '';
  if (notReady) {
    ready = {
      type: ConditionType.Ready,
      status: 'False',
      reason: notReady.reason,
      message: notReady.message,
    };
  } else if (refused.length > 0) {
    // A backend the route names but may not use: never a silent Ready.
    ready = {
      type: ConditionType.Ready,
      status: 'False',
      reason: ConditionReason.RefNotPermitted,
      message: refused.map((p) => p.message).join('; '),
    };
  } else if (usable === 0) {
    const noCredentials = references.filter(
      (p) => p.code === ConditionReason.CredentialsUnavailable,
    );
    ready = {
      type: ConditionType.Ready,
      status: 'False',
      reason:
        noCredentials.length > 0
          ? ConditionReason.CredentialsUnavailable
          : ConditionReason.Unhealthy,
      message: `none of the ${names.length} referenced backends is usable${noCredentials.map((p) => `; ${p.message}`).join('')}`,
    };
  } else {
    const degraded = resolved.status !== 'True' ? `; ${resolved.message}` : '';
    ready = {
      type: ConditionType.Ready,
      status: 'True',
      reason: ConditionReason.Ready,
      message: `serving on ${proxies.programmed} proxies with ${usable}/${names.length} usable backends${staleNote}${degraded}${failoverNote(lastFailover)}`,
    };
  }

  const budget = budgetStatusParts(input.budget, {
    spend: route.status?.spend,
    conditions: route.status?.conditions,
  });
  const status: ModelRouteStatus = {
    conditions: mergeConditions(
      route.status?.conditions,
      [accepted, resolved, programmed, ready, ...budget.conditions],
      generation,
      nowMs,
    ),
    backends: names.map((key) => {
      const view = backends.get(key);
      const [namespace, name] = key.includes('/') ? key.split('/', 2) : [undefined, key];
      const entry: NonNullable<ModelRouteStatus['backends']>[number] = {
        name: name ?? key,
        health: view?.exists ? view.health : 'Unknown',
      };
      if (namespace !== undefined) entry.namespace = namespace;
      const reason = view?.exists ? view.reason : (view?.reason ?? 'NotFound');
      if (reason) entry.reason = reason;
      return entry;
    }),
    healthyBackends: `${healthy}/${names.length}`,
    programmed: `${proxies.programmed}/${proxies.desired}`,
    proxies: { programmed: proxies.programmed, desired: proxies.desired },
  };
  if (generation !== undefined) status.observedGeneration = generation;
  if (proxies.routeVersion) status.routeVersion = proxies.routeVersion;
  if (lastFailover) status.lastFailover = lastFailover;
  const usage = input.usage === undefined ? route.status?.usage : input.usage;
  if (usage) status.usage = usage;
  const cost = input.cost === undefined ? route.status?.cost : input.cost;
  if (cost) status.cost = cost;
  const strongShare =
    input.strongShare === undefined ? route.status?.strongShare : input.strongShare;
  if (strongShare) status.strongShare = strongShare;
  const learning = input.learning === undefined ? route.status?.learning : input.learning;
  if (learning) status.learning = learning;
  if (budget.spend) status.spend = budget.spend;
  return status;
}
