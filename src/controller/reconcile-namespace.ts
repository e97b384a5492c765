// The reconciler: one namespace at a time, level-triggered. It reads the
// namespace as it is now (routes, backends, proxy pods, health), gives each
// proxy the table it should run, and writes statuses that changed.
import {
  ConditionReason,
  type ModelAPIKey,
  type ModelBackend,
  type ModelBackendGrant,
  type ModelRoute,
  type ModelRouteStatus,
  type ModelTenant,
  type ModelTenantStatus,
} from '../api/v1alpha1/index.js';
import type { FleetLimitStatus } from '../api/v1alpha1/quota.js';
import { backendQuotaKey, tenantQuotaKey, type QuotaKey } from '../quota/protocol.js';
import { compileRoutingTable, resolveBaseUrl, type LearnedModel } from '../routing/compile.js';
import { compileIdentity } from '../routing/compile-tenants.js';
import { GrantIndex } from '../routing/grants.js';
import { routeVersions } from '../routing/route-version.js';
import {
  ruleKey,
  type CompiledRoute,
  type IdentityPolicy,
  type RoutingTable,
} from '../routing/table.js';
import type { BackendHealthTracker } from '../routing/health-tracker.js';
import { checkSemantics, objectId } from '../routing/semantics.js';
import { forEachBounded } from './bounded.js';
import { realizedShare, strongShareRules } from './fleet-calibration.js';
import { credentialsUnavailable } from './credential-availability.js';
import { LastAcceptedRoutes } from './last-accepted.js';
import { selects } from './label-selector.js';
import type { ProxyFleet, ProxyPod } from './proxy-fleet.js';
import type { WorkloadCaller } from './proxy-pod.js';
import { USAGE_WINDOW } from './route-usage-window.js';
import { SECRET_NOT_READABLE, type SecretKeys } from './secret-keys.js';
import { computeBackendStatus } from './status/backend-status.js';
import type { BudgetStatusView } from './status/budget-status.js';
import {
  backendIdOfKey,
  computeRouteStatus,
  referencedBackends,
  type BackendView,
} from './status/route-status.js';
import {
  computeApiKeyStatus,
  computeTenantStatuses,
  nextKeyExpiry,
} from './status/tenant-status.js';

export interface NamespaceSnapshot {
  namespace: string;
  routes: ModelRoute[];
  /** This namespace's backends (their statuses are written here). */
  backends: ModelBackend[];
  /** Backends of other namespaces that routes here reference (used only if granted). */
  foreignBackends?: ModelBackend[];
  /** ModelBackendGrants of the namespaces those backends live in. */
  grants?: ModelBackendGrant[];
  tenants?: ModelTenant[];
  apiKeys?: ModelAPIKey[];
  /** Workloads recorded in this namespace's sidecar proxy pods (for tenant status). */
  workloads?: WorkloadCaller[];
  /** Ready proxy pods of this namespace. */
  proxies: ProxyPod[];
  serviceExists(name: string): boolean;
  /** Ready addresses in a Service's EndpointSlices; undefined when it has none listed. */
  readyEndpoints(serviceName: string): number | undefined;
}

export interface ReconcileDeps {
  fleet: ProxyFleet;
  health: BackendHealthTracker;
  /** A Secret's key names (never its values); undefined when it does not exist. */
  secretKeys(namespace: string, name: string): Promise<SecretKeys>;
  /** The most recent failover per route id, kept by the controller. */
  failovers: ReadonlyMap<string, NonNullable<ModelRouteStatus['lastFailover']>>;
  observed(
    backendId: string,
  ): { latencyMs?: number; errorRate?: number; requests?: number } | undefined;
  /** How the fleet uses a limit (issue 14: ModelBackend status.limits); undefined when no proxy does. */
  limitStatus?(key: QuotaKey): FleetLimitStatus | undefined;
  /** Of `podKeys`, the proxies that said they cannot get `backendId`'s API key, with why. */
  keyLacking?(backendId: string, podKeys: readonly string[]): { pod: string; reason: string }[];
  /** A route's requests and cost over the last hour; null when it served none. */
  usage?(routeId: string): ModelRouteStatus['usage'] | null;
  /** A route's 24 h and 30 d cost and savings (usage ledger); null: none; undefined: unknown (kept). */
  cost?(routeId: string): ModelRouteStatus['cost'] | null | undefined;
  /** A tenant's 24 h and 30 d cost (usage ledger), by tenant id; as `cost`. */
  tenantCost?(tenantId: string): ModelRouteStatus['cost'] | null | undefined;
  /** The fleet's live strongShare thresholds by ruleKey (CompileOptions.liveThresholds). */
  liveThresholds?(): ReadonlyMap<string, number>;
  /** A strongShare rule's decisions over the last hour, by ruleKey; null when it decided none. */
  strongShareDecisions?(key: string): { decisions: number; strong: number } | null;
  /** The model each learning rule serves, by ruleKey (CompileOptions.learnedModels). */
  learnedModels?(): ReadonlyMap<string, LearnedModel>;
  /** status.learning of a route; null: it has no learning rule; undefined: unknown (kept). */
  learningStatus?(route: ModelRoute): ModelRouteStatus['learning'] | null | undefined;
  /** status.spend and budget conditions of a route or tenant (budget ledger); undefined: kept. */
  budgetStatus?(object: ModelRoute | ModelTenant): BudgetStatusView | undefined;
  writeRouteStatus(route: ModelRoute, status: ModelRouteStatus): Promise<void>;
  writeBackendStatus(
    backend: ModelBackend,
    status: NonNullable<ModelBackend['status']>,
  ): Promise<void>;
  writeTenantStatus?(tenant: ModelTenant, status: ModelTenantStatus): Promise<void>;
  writeApiKeyStatus?(key: ModelAPIKey, status: NonNullable<ModelAPIKey['status']>): Promise<void>;
  /** Namespaces the controller delivers credentials from (--credential-namespaces); undefined: not checked. */
  credentialNamespaces?: readonly string[] | undefined;
  /** What proxies do with callers no tenant covers (default: the default tenant). */
  identityPolicy?: IdentityPolicy;
  /** Told when the namespace's table next changes on its own (a key expires); undefined: never. */
  scheduleRecompile?(namespace: string, atMs: number | undefined): void;
  now(): number;
  clusterDomain?: string;
  /** The last accepted version of each route; a fresh one (no memory) when absent. */
  lastAccepted?: LastAcceptedRoutes;
}

/** Objects whose status could not be written in one reconcile, each with its cause. */
export class ReconcileError extends Error {
  constructor(
    readonly namespace: string,
    readonly failures: readonly { object: string; error: unknown }[],
  ) {
    const first = failures[0];
    const cause = first?.error instanceof Error ? first.error.message : String(first?.error);
    super(
      `reconcile of namespace ${namespace}: ${failures.length} object(s) failed, first ${first?.object}: ${cause}`,
    );
  }
}

/** Status writes (and Secret lookups) in flight at once within one namespace's reconcile. */
export const STATUS_WRITE_CONCURRENCY = 8;

/**
 * status.strongShare: the route's first strongShare rule, the threshold its
 * proxies were given and what its decisions realised over the window; null
 * (the field goes) when the route has no such rule, no proxy runs it, or it
 * decided nothing in the window.
 */
function strongShareStatus(
  route: ModelRoute,
  compiled: CompiledRoute | undefined,
  deps: Pick<ReconcileDeps, 'strongShareDecisions'>,
): ModelRouteStatus['strongShare'] | null {
  const rule = strongShareRules(route, objectId(route))[0];
  const threshold = compiled?.rules.find((r) => r.name === rule?.rule)?.threshold;
  if (!rule || threshold === undefined) return null;
  const counted = deps.strongShareDecisions?.(ruleKey(rule.routeId, rule.rule));
  if (!counted) return null;
  return {
    target: rule.target,
    realized: realizedShare(counted),
    threshold,
    decisions: counted.decisions,
    window: USAGE_WINDOW,
  };
}

/** Routes a proxy pod serves: those in its namespace whose proxySelector selects it. */
export function routesForProxy(routes: readonly ModelRoute[], pod: ProxyPod): ModelRoute[] {
  return routes.filter(
    (r) =>
      (r.metadata.namespace ?? 'default') === pod.namespace &&
      selects(r.spec.proxySelector, pod.labels),
  );
}

const compiledById = new WeakMap<RoutingTable, ReadonlyMap<string, CompiledRoute>>();
/** Route id → compiled route, once per table object. */
function compiledRoutes(table: RoutingTable): ReadonlyMap<string, CompiledRoute> {
  let byId = compiledById.get(table);
  if (!byId) {
    byId = new Map(table.routes.map((r) => [r.id, r]));
    compiledById.set(table, byId);
  }
  return byId;
}

interface BackendsSeen {
  /** Ids of the backends the namespace's routes may name (its own and others'). */
  ids: ReadonlySet<string>;
  /** Backends of other namespaces, by id. */
  foreign: ReadonlyMap<string, ModelBackend>;
  grants: GrantIndex;
}

/**
 * Proxies among `selected` that said they cannot get the backend's key: the
 * message for status, and whether none of them has it (the backend then
 * serves nothing on this route).
 */
export function proxyKeyGap(
  backendId: string,
  selected: readonly string[],
  keyLacking: ReconcileDeps['keyLacking'],
): { message: string; everywhere: boolean } | undefined {
  const lacking = keyLacking?.(backendId, selected) ?? [];
  const first = lacking[0];
  if (!first) return undefined;
  return {
    message: `backend ${backendId}: ${lacking.length} of ${selected.length} proxies cannot get its key (${first.pod}: ${first.reason})`,
    everywhere: lacking.length === selected.length,
  };
}

/** How a route sees each backend it names: exists, may be used, health, credentials. */
async function backendViews(
  route: ModelRoute,
  namespace: string,
  seen: BackendsSeen,
  selected: readonly string[],
  deps: Pick<ReconcileDeps, 'health' | 'secretKeys' | 'credentialNamespaces' | 'keyLacking'>,
): Promise<Map<string, BackendView>> {
  const views = new Map<string, BackendView>();
  for (const key of referencedBackends(route)) {
    const backendId = backendIdOfKey(namespace, key);
    const [backendNs, name] = backendId.split('/') as [string, string];
    if (!seen.grants.permits(namespace, { name, namespace: backendNs })) {
      views.set(key, { exists: false, health: 'Unknown', reason: ConditionReason.RefNotPermitted });
      continue;
    }
    // Health is per backend, kept by its owners' probes: a granted one reads the same record.
    const record = deps.health.get(backendId);
    const foreign = backendNs !== namespace ? seen.foreign.get(backendId) : undefined;
    // The controller's side first (it cannot hand the key out), then what the proxies said.
    const refused = foreign && (await credentialsUnavailable(foreign, deps));
    const gap = refused ? undefined : proxyKeyGap(backendId, selected, deps.keyLacking);
    const unavailable = refused || (gap?.everywhere ? gap.message : undefined);
    const keyMissingOnSome = gap && !gap.everywhere ? gap.message : undefined;
    views.set(key, {
      exists: seen.ids.has(backendId),
      health: record.state,
      reason:
        unavailable || keyMissingOnSome
          ? ConditionReason.CredentialsUnavailable
          : record.state === 'Unhealthy'
            ? (record.reason ?? 'ProbeFailed')
            : undefined,
      ...(unavailable ? { unavailable } : {}),
      ...(keyMissingOnSome ? { keyMissingOnSome } : {}),
    });
  }
  return views;
}

export async function reconcileNamespace(
  snapshot: NamespaceSnapshot,
  deps: ReconcileDeps,
): Promise<void> {
  const { routes, backends, proxies, namespace } = snapshot;
  const health = deps.health.states();
  // Backends the routes may name: their own namespace's, and others' (refs to those need a grant).
  const usable = [...backends, ...(snapshot.foreignBackends ?? [])];
  const grants = new GrantIndex(snapshot.grants);
  const nowMs = deps.now();
  const policy = deps.identityPolicy ?? { unmatched: 'default-tenant' };
  const apiKeys = snapshot.apiKeys ?? [];
  const identity = compileIdentity(namespace, snapshot.tenants ?? [], apiKeys, policy, nowMs);
  // Proxies check expiry themselves; a recompile then drops the key from the table and says so in status.
  deps.scheduleRecompile?.(namespace, nextKeyExpiry(apiKeys, nowMs));
  // 0. What is served: accepted routes, or the last accepted version of refused ones.
  const admission = (deps.lastAccepted ?? new LastAcceptedRoutes()).admit(
    namespace,
    routes,
    usable,
    grants,
  );

  // 1. Tables: each proxy gets exactly the routes that select it. Pods
  // selected by the same routes (usually all of them) share one compiled table.
  const tables = new Map<string, RoutingTable>();
  const liveThresholds = deps.liveThresholds?.();
  const learnedModels = deps.learnedModels?.();
  for (const pod of proxies) {
    const selected = routesForProxy(admission.routes, pod);
    const key = selected.map(objectId).join('\n');
    let table = tables.get(key);
    if (!table) {
      table = compileRoutingTable(selected, usable, health, {
        clusterDomain: deps.clusterDomain,
        liveThresholds,
        learnedModels,
        grants: snapshot.grants,
        identity,
      });
      tables.set(key, table);
    }
    deps.fleet.setDesired(pod, table);
  }
  const current = new Set(proxies.map((p) => p.key));
  for (const key of deps.fleet.keys()) {
    if (key.startsWith(`${namespace}/`) && !current.has(key)) deps.fleet.remove(key);
  }

  // Every object is attempted; each failure is reported with its object.
  const failures: { object: string; error: unknown }[] = [];
  const each = async <T extends ModelRoute | ModelBackend | ModelTenant | ModelAPIKey>(
    items: readonly T[],
    fn: (item: T) => Promise<void>,
  ): Promise<void> =>
    forEachBounded(items, STATUS_WRITE_CONCURRENCY, async (item) => {
      try {
        await fn(item);
      } catch (error) {
        failures.push({ object: `${item.kind} ${objectId(item)}`, error });
      }
    });

  // 2. Backend statuses.
  await each(backends, async (backend) => {
    const id = objectId(backend);
    let endpoint: { ok: true; url: string } | { ok: false; message: string };
    const ref = backend.spec.serviceRef;
    if (ref && !snapshot.serviceExists(ref.name)) {
      endpoint = {
        ok: false,
        message: `Service "${ref.name}" not found in namespace ${namespace}; create it or fix spec.serviceRef`,
      };
    } else {
      endpoint = { ok: true, url: resolveBaseUrl(backend, deps.clusterDomain) };
    }
    const secretRef = backend.spec.secretRef;
    const found = secretRef ? await deps.secretKeys(namespace, secretRef.name) : undefined;
    const secretNotReadable = found === SECRET_NOT_READABLE;
    const secretKeys = secretNotReadable ? undefined : found;
    const status = computeBackendStatus({
      backend,
      endpoint,
      secretExists: secretRef && !secretNotReadable ? secretKeys !== undefined : undefined,
      secretNotReadable,
      secretHasKey: secretRef && secretKeys ? secretKeys.has(secretRef.key) : undefined,
      readyEndpoints: ref ? snapshot.readyEndpoints(ref.name) : undefined,
      health: deps.health.get(id),
      observed: deps.observed(id),
      limits: deps.limitStatus?.(backendQuotaKey(id)),
      nowMs: deps.now(),
    });
    await deps.writeBackendStatus(backend, status);
  });

  // 3. Route statuses, from acknowledgements rather than hope.
  const problems = checkSemantics(routes, usable, grants);
  const backendsSeen: BackendsSeen = {
    ids: new Set(usable.map(objectId)),
    foreign: new Map((snapshot.foreignBackends ?? []).map((b) => [objectId(b), b])),
    grants,
  };
  await each(routes, async (route) => {
    const id = objectId(route);
    const selected = proxies.filter((pod) => selects(route.spec.proxySelector, pod.labels));
    // A proxy counts once it runs this route as compiled now, whatever else
    // its table holds: a change to another route is not news for this one.
    let programmed = 0;
    let routeVersion: string | undefined;
    let compiledHere: CompiledRoute | undefined;
    const failing: { pod: string; error: string }[] = [];
    const fallbackNotServedOn: string[] = [];
    for (const pod of selected) {
      const desired = deps.fleet.desiredTable(pod.key);
      const want = desired && routeVersions(desired).get(id);
      routeVersion ??= want;
      const running = deps.fleet.runningTable(pod.key);
      if (want !== undefined && running && routeVersions(running).get(id) === want) programmed += 1;
      else if (want !== undefined) {
        const error = deps.fleet.pushError(pod.key);
        if (error !== undefined) failing.push({ pod: pod.key, error });
      }
      const compiled = desired && compiledRoutes(desired).get(id);
      compiledHere ??= compiled;
      if (compiled && route.spec.fallback?.model !== undefined && !compiled.fallback.routeId)
        fallbackNotServedOn.push(pod.key);
    }
    const views = await backendViews(
      route,
      namespace,
      backendsSeen,
      selected.map((p) => p.key),
      deps,
    );
    const status = computeRouteStatus({
      route,
      problems: problems.filter(
        (p) => p.object.kind === 'ModelRoute' && `${p.object.namespace}/${p.object.name}` === id,
      ),
      backends: views,
      proxies: { desired: selected.length, programmed, routeVersion, failing },
      servingLastAccepted:
        routeVersion !== undefined && admission.servingLastAccepted.has(id)
          ? { generation: admission.servingLastAccepted.get(id) }
          : undefined,
      fallbackNotServedOn,
      lastFailover: deps.failovers.get(id),
      usage: deps.usage?.(id),
      cost: deps.cost?.(id),
      strongShare: deps.strongShareDecisions && strongShareStatus(route, compiledHere, deps),
      learning: deps.learningStatus?.(route),
      budget: deps.budgetStatus?.(route),
      nowMs: deps.now(),
    });
    await deps.writeRouteStatus(route, status);
  });

  // 4. Tenant and key statuses: what resolves where, and which keys gateways accept.
  const tenants = snapshot.tenants ?? [];
  if (deps.writeTenantStatus) {
    const statuses = computeTenantStatuses({
      namespace,
      tenants,
      apiKeys,
      workloads: snapshot.workloads ?? [],
      policy,
      budget: deps.budgetStatus && ((t) => deps.budgetStatus?.(t)),
      limits: deps.limitStatus && ((t) => deps.limitStatus?.(tenantQuotaKey(objectId(t)))),
      cost: deps.tenantCost && ((t) => deps.tenantCost?.(objectId(t))),
      nowMs,
    });
    await each(tenants, async (t) => {
      const status = statuses.get(t.metadata.name);
      if (status) await deps.writeTenantStatus?.(t, status);
    });
  }
  if (deps.writeApiKeyStatus) {
    const tenantNames = new Set(tenants.map((t) => t.metadata.name));
    await each(apiKeys, async (k) =>
      deps.writeApiKeyStatus?.(k, computeApiKeyStatus(k, tenantNames, nowMs)),
    );
  }
  if (failures.length > 0) throw new ReconcileError(namespace, failures);
}
