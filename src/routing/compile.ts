// compileRoutingTable: (routes, backends, health) -> a versioned RoutingTable.
// Pure and deterministic: the same inputs always give the same table and hash.
import { ANTHROPIC_CACHE_WRITE_MULTIPLIER } from './cost.js';
import {
  AWS_PROVIDERS,
  GOOGLE_PROVIDERS,
  NO_CREDENTIALS,
  durationToMs,
  type HealthState,
  type ModelBackend,
  type ModelBackendGrant,
  type CostQualityLearning,
  type ModelRoute,
  type Provider,
} from '../api/v1alpha1/index.js';
import type { CompiledIdentity } from './compile-tenants.js';
import { GrantIndex, refBackendId, type BackendRefLike } from './grants.js';
import { priorQuantile } from './difficulty/calibration/prior.js';
import {
  checkSemantics,
  compareAge,
  modelOwners,
  namespaceOf,
  objectId,
  refusedRouteIds,
} from './semantics.js';
import {
  ruleKey,
  TABLE_FORMAT_VERSION,
  tableContentVersion,
  type CompiledAuth,
  type CompiledBackend,
  type CompiledLearning,
  type CompiledRoute,
  type CompiledTls,
  type RoutingTable,
} from './table.js';

export const DEFAULT_BACKEND_TIMEOUTS = {
  connectMs: 5_000,
  firstTokenMs: 60_000,
  totalMs: 300_000,
} as const;
export const DEFAULT_RETRIES = { attempts: 2, backoffMs: 100, maxBackoffMs: 2_000 } as const;

export interface CompileOptions {
  /** Cluster DNS suffix used to resolve serviceRef backends. */
  clusterDomain?: string;
  /**
   * Maps a quantile (0..1) of the difficulty scores seen in practice to the
   * score at that quantile; turns `strongShare` into a threshold. Defaults to
   * the model calibration's promise (`priorQuantile`: scores spread evenly
   * between the calibration's end bands).
   */
  difficultyQuantile?: (q: number) => number;
  /**
   * The fleet's live threshold per strongShare rule, keyed by `ruleKey`
   * (the controller's merge of its proxies' score sketches); it replaces the
   * prior from `difficultyQuantile`. Rules with a spec threshold ignore it.
   */
  liveThresholds?: ReadonlyMap<string, number>;
  /** Tenants, keys and the policy for callers (compileIdentity); absent: the table has none. */
  identity?: CompiledIdentity;
  /**
   * ModelBackendGrants of the namespaces whose backends routes reference; a
   * ref to another namespace's backend without one is left out of the table.
   */
  grants?: readonly ModelBackendGrant[];
  /**
   * The model each learning rule serves, keyed by `ruleKey`: the controller's
   * promoted champion, or the version spec pins (issue 17). A rule without
   * an entry serves the proxies' own model (the prior).
   */
  learnedModels?: ReadonlyMap<string, LearnedModel>;
}

/** A learning rule's model as pushed: its version and its format-2 file. */
export type LearnedModel = NonNullable<CompiledLearning['model']>;

function compileLearning(
  spec: CostQualityLearning,
  judgeBackendId: string | undefined,
  model: LearnedModel | undefined,
): CompiledLearning {
  return {
    // Without a judge that resolves there is nothing to shadow-judge with: feedback only.
    sampleRate: judgeBackendId === undefined ? 0 : spec.sampleRate,
    ...(judgeBackendId === undefined ? {} : { judgeBackendId }),
    maxShadowCostPerDayUsd: spec.maxShadowCostPerDay,
    feedbackWindowMs: durationToMs(spec.feedbackWindow),
    ...(model === undefined ? {} : { model }),
  };
}

/** Backend health keyed by `<namespace>/<name>`; missing means Unknown. */
export type HealthByBackend = ReadonlyMap<string, HealthState>;

export function resolveBaseUrl(backend: ModelBackend, clusterDomain = 'cluster.local'): string {
  const { endpoint, serviceRef } = backend.spec;
  if (endpoint !== undefined) return endpoint.replace(/\/+$/, '');
  if (serviceRef === undefined) {
    throw new Error(
      `ModelBackend ${objectId(backend)} has neither spec.endpoint nor spec.serviceRef`,
    );
  }
  const host = `${serviceRef.name}.${namespaceOf(backend)}.svc.${clusterDomain}`;
  return `${serviceRef.scheme}://${host}:${serviceRef.port}${serviceRef.path.replace(/\/+$/, '')}`;
}

/** Claude wherever it is served: cache writes cost Anthropic's 1.25x of the input rate on each. */
const CLAUDE_PROVIDERS: readonly Provider[] = [
  'anthropic',
  'anthropic-bedrock',
  'anthropic-vertex',
];

function compileBackend(
  backend: ModelBackend,
  health: HealthState,
  clusterDomain: string,
): CompiledBackend {
  const { spec } = backend;
  const timeouts = spec.timeouts ?? {};
  const compiled: CompiledBackend = {
    id: objectId(backend),
    namespace: namespaceOf(backend),
    name: backend.metadata.name,
    provider: spec.provider,
    baseUrl: resolveBaseUrl(backend, clusterDomain),
    model: spec.model,
    pricing: {
      inputPerMillion: spec.pricing?.inputPerMillion ?? 0,
      outputPerMillion: spec.pricing?.outputPerMillion ?? 0,
      cachedInputPerMillion:
        spec.pricing?.cachedInputPerMillion ?? spec.pricing?.inputPerMillion ?? 0,
      cacheWriteInputPerMillion:
        spec.pricing?.cacheWriteInputPerMillion ??
        (spec.pricing?.inputPerMillion ?? 0) *
          (CLAUDE_PROVIDERS.includes(spec.provider) ? ANTHROPIC_CACHE_WRITE_MULTIPLIER : 1),
    },
    limits: { ...spec.limits },
    capabilities: [...spec.capabilities].sort(),
    compliance: [...spec.compliance].sort(),
    timeouts: {
      connectMs: timeouts.connect
        ? durationToMs(timeouts.connect)
        : DEFAULT_BACKEND_TIMEOUTS.connectMs,
      firstTokenMs: timeouts.firstToken
        ? durationToMs(timeouts.firstToken)
        : DEFAULT_BACKEND_TIMEOUTS.firstTokenMs,
      totalMs: timeouts.total ? durationToMs(timeouts.total) : DEFAULT_BACKEND_TIMEOUTS.totalMs,
    },
    health,
  };
  if (spec.azure) compiled.azure = { ...spec.azure };
  if (spec.anthropic) compiled.anthropic = { ...spec.anthropic };
  if (spec.secretRef)
    compiled.credentials = { secretName: spec.secretRef.name, key: spec.secretRef.key };
  if (spec.bedrock) compiled.bedrock = { ...spec.bedrock };
  if (spec.vertex) compiled.vertex = { ...spec.vertex };
  const auth = compileAuth(spec);
  if (auth) compiled.auth = auth;
  if (spec.headers && Object.keys(spec.headers).length > 0) compiled.headers = { ...spec.headers };
  const tls = compileTls(spec);
  if (tls) compiled.tls = tls;
  if (spec.contextWindow !== undefined) compiled.contextWindow = spec.contextWindow;
  if (spec.maxOutputTokens !== undefined) compiled.maxOutputTokens = spec.maxOutputTokens;
  if (spec.quality !== undefined) compiled.quality = spec.quality;
  return compiled;
}

/**
 * The backend's cloud credentials. AWS and Google providers without an API
 * key use their default credential chains, as their SDKs do.
 */
function compileAuth(spec: ModelBackend['spec']): CompiledAuth | undefined {
  const { auth } = spec;
  if (auth?.aws?.source === NO_CREDENTIALS || auth?.gcp?.source === NO_CREDENTIALS)
    return undefined;
  if (auth?.aws) {
    return {
      type: 'aws',
      source: auth.aws.source,
      ...(auth.aws.secretRef ? { secretName: auth.aws.secretRef.name } : {}),
    };
  }
  if (auth?.gcp) {
    return {
      type: 'gcp',
      source: auth.gcp.source,
      ...(auth.gcp.secretRef
        ? { secret: { secretName: auth.gcp.secretRef.name, key: auth.gcp.secretRef.key } }
        : {}),
    };
  }
  if (auth?.azureEntra) {
    const entra = auth.azureEntra;
    return {
      type: 'azure-entra',
      source: entra.source,
      scope: entra.scope,
      ...(entra.tenantId !== undefined ? { tenantId: entra.tenantId } : {}),
      ...(entra.clientId !== undefined ? { clientId: entra.clientId } : {}),
      ...(entra.secretRef
        ? { secret: { secretName: entra.secretRef.name, key: entra.secretRef.key } }
        : {}),
    };
  }
  if (spec.secretRef) return undefined;
  if (AWS_PROVIDERS.includes(spec.provider)) return { type: 'aws', source: 'default' };
  if (GOOGLE_PROVIDERS.includes(spec.provider)) return { type: 'gcp', source: 'default' };
  return undefined;
}

function compileTls(spec: ModelBackend['spec']): CompiledTls | undefined {
  const { tls } = spec;
  if (!tls) return undefined;
  const out: CompiledTls = {};
  const ca = tls.caBundle;
  if (ca?.secretRef)
    out.caBundle = { kind: 'Secret', name: ca.secretRef.name, key: ca.secretRef.key };
  else if (ca?.configMapRef)
    out.caBundle = { kind: 'ConfigMap', name: ca.configMapRef.name, key: ca.configMapRef.key };
  if (tls.clientCertificate)
    out.clientCertificate = { secretName: tls.clientCertificate.secretRef.name };
  if (tls.serverName !== undefined) out.serverName = tls.serverName;
  return Object.keys(out).length > 0 ? out : undefined;
}

function optionalMs(value: string | undefined): number | undefined {
  return value === undefined ? undefined : durationToMs(value);
}

/**
 * Compiles the routes and the backends they use into one table.
 *
 * Routes that are not Accepted (a model-name or alias conflict, a fallback
 * cycle, a cost-quality backend without quality) are left out, so what status
 * says and what proxies serve agree. References to missing backends are
 * dropped (the route serves with what resolves, and the problem is reported by
 * `checkSemantics` for status and `validate`), as are refs to another
 * namespace's backend that no ModelBackendGrant there allows, and fallback
 * links that are missing or point at a route left out.
 */
export function compileRoutingTable(
  routes: readonly ModelRoute[],
  backends: readonly ModelBackend[],
  health: HealthByBackend = new Map(),
  options: CompileOptions = {},
): RoutingTable {
  const clusterDomain = options.clusterDomain ?? 'cluster.local';
  const quantile = options.difficultyQuantile ?? priorQuantile;
  const grants = new GrantIndex(options.grants);
  const problems = checkSemantics(routes, backends, grants);
  const owners = modelOwners(routes);
  const refused = refusedRouteIds(problems);
  const brokenFallback = new Set(
    problems
      .filter((p) => p.code === 'FallbackCycle' || p.code === 'FallbackRouteNotFound')
      .map((p) => `${p.object.namespace}/${p.object.name}`),
  );

  const backendsById = new Map(backends.map((b) => [objectId(b), b]));
  const used = new Set<string>();
  const compiledRoutes: CompiledRoute[] = [];

  // One table, each model name once (a proxy looks names up without a
  // namespace): routes of several namespaces in one table (local mode) keep
  // the oldest claim, as conflicts within a namespace do.
  const claimed = new Set<string>();
  for (const route of [...routes].sort(compareAge)) {
    const id = objectId(route);
    if (refused.has(id) || claimed.has(route.spec.model)) continue;
    const ns = namespaceOf(route);
    const resolve = (ref: BackendRefLike): string | undefined => {
      if (!grants.permits(ns, ref)) return undefined;
      const backendId = refBackendId(ns, ref);
      if (!backendsById.has(backendId)) return undefined;
      used.add(backendId);
      return backendId;
    };
    const { spec } = route;
    const ownedAliases = (spec.aliases ?? []).filter(
      (a) => owners.get(`${ns}/${a}`) === route && !claimed.has(a),
    );
    for (const name of [spec.model, ...ownedAliases]) claimed.add(name);
    const fallbackOwner =
      spec.fallback?.model !== undefined && !brokenFallback.has(id)
        ? owners.get(`${ns}/${spec.fallback.model}`)
        : undefined;

    const compiled: CompiledRoute = {
      id,
      namespace: ns,
      name: route.metadata.name,
      model: spec.model,
      aliases: [...ownedAliases].sort(),
      rules: spec.rules.map((rule) => {
        const compiledRule: CompiledRoute['rules'][number] = {
          name: rule.name,
          matches: rule.matches ?? [],
          strategy: rule.strategy,
          backends: rule.backendRefs.flatMap((ref) => {
            const backendId = resolve(ref);
            return backendId ? [{ backendId, weight: ref.weight, priority: ref.priority }] : [];
          }),
        };
        if (rule.strategy === 'cost-quality') {
          const cq = rule.costQuality ?? {};
          if (cq.threshold !== undefined) compiledRule.threshold = cq.threshold;
          else if (cq.strongShare !== undefined) {
            compiledRule.threshold = strongShareThreshold(cq.strongShare, quantile);
            compiledRule.strongShare = cq.strongShare;
          }
          if (cq.learning)
            compiledRule.learning = compileLearning(
              cq.learning,
              cq.learning.judgeRef && resolve(cq.learning.judgeRef),
              options.learnedModels?.get(ruleKey(id, rule.name)),
            );
        }
        // A strongShare rule: the fleet's live threshold, once the controller has one, replaces the prior.
        const live =
          compiledRule.strongShare !== undefined
            ? options.liveThresholds?.get(ruleKey(id, rule.name))
            : undefined;
        if (live !== undefined) compiledRule.threshold = clamp01(live);
        return compiledRule;
      }),
      fallback: {
        backendIds: (spec.fallback?.backendRefs ?? []).flatMap((ref) => resolve(ref) ?? []),
      },
      retries: {
        attempts: spec.retries?.attempts ?? DEFAULT_RETRIES.attempts,
        backoffMs: optionalMs(spec.retries?.backoff) ?? DEFAULT_RETRIES.backoffMs,
        maxBackoffMs: optionalMs(spec.retries?.maxBackoff) ?? DEFAULT_RETRIES.maxBackoffMs,
        retryOn: [
          ...(spec.retries?.retryOn ?? [
            'connect-failure',
            'timeout',
            'rate-limited',
            'server-error',
          ]),
        ].sort(),
      },
      timeouts: {},
      budget: {},
    };
    if (fallbackOwner) compiled.fallback.routeId = objectId(fallbackOwner);
    const timeouts = spec.timeouts ?? {};
    const connectMs = optionalMs(timeouts.connect);
    const firstTokenMs = optionalMs(timeouts.firstToken);
    const totalMs = optionalMs(timeouts.total);
    if (connectMs !== undefined) compiled.timeouts.connectMs = connectMs;
    if (firstTokenMs !== undefined) compiled.timeouts.firstTokenMs = firstTokenMs;
    if (totalMs !== undefined) compiled.timeouts.totalMs = totalMs;
    if (spec.budget) {
      const { maxCostPerRequest, dailyUSD, monthlyUSD, onExceeded } = spec.budget;
      if (maxCostPerRequest !== undefined) compiled.budget.maxCostPerRequestUsd = maxCostPerRequest;
      if (dailyUSD !== undefined || monthlyUSD !== undefined)
        Object.assign(compiled.budget, definedFields({ dailyUSD, monthlyUSD, onExceeded }));
    }
    compiledRoutes.push(compiled);
  }

  // A fallback route left out above (not accepted) must not be pointed at.
  const routeIds = new Set(compiledRoutes.map((r) => r.id));
  for (const route of compiledRoutes) {
    if (route.fallback.routeId !== undefined && !routeIds.has(route.fallback.routeId))
      delete route.fallback.routeId;
  }

  const compiledBackends = [...used]
    .sort()
    .map((backendId) =>
      compileBackend(
        backendsById.get(backendId) as ModelBackend,
        health.get(backendId) ?? 'Unknown',
        clusterDomain,
      ),
    );
  compiledRoutes.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const content = {
    formatVersion: TABLE_FORMAT_VERSION,
    routes: compiledRoutes,
    backends: compiledBackends,
    ...(options.identity ?? {}),
  } as const;
  return { ...content, version: tableContentVersion(content) };
}

function clamp01(x: number): number {
  return Math.min(1, Math.max(0, x));
}

/**
 * The model calibration's threshold for a strong share: the score with a
 * share `1 − strongShare` of prompts below it. What a table carries before
 * the fleet has seen traffic, and the fixed threshold `router eval` measures.
 */
export function strongShareThreshold(
  strongShare: number,
  quantile: (q: number) => number = priorQuantile,
): number {
  return clamp01(quantile(1 - strongShare));
}

/** The fields of `o` that are set (a table holds no explicit undefined). */
function definedFields<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
