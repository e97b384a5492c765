// Local mode: the whole product on a laptop. Loads ModelRoute/ModelBackend
// YAML, starts simulated backends, compiles the table, serves it with a real
// proxy and keeps backend health current with its own probes.
import { localDashboard } from './local-dashboard.js';
import {
  AWS_PROVIDERS,
  GOOGLE_PROVIDERS,
  NO_CREDENTIALS,
  durationToMs,
  type ModelBackend,
} from '../../api/v1alpha1/index.js';
import { formatManifestError, loadAndCheckManifests } from '../../api/manifest-files.js';
import { compileRoutingTable } from '../../routing/compile.js';
import { compileIdentity } from '../../routing/compile-tenants.js';
import { checkSemantics, objectId, oneTableConflicts } from '../../routing/semantics.js';
import {
  simulatorOptions,
  startSimulatedBackend,
  type SimulatedBackend,
} from '../../simulator/index.js';
import type { Logger } from '../../telemetry/logger.js';
import { startProxy, type ProxyOptions, type RunningProxy } from '../proxy.js';
import { HealthProber } from '../../health/prober.js';
import { learningRules } from '../../controller/learning-coordinator.js';
import { defaultLearnerFactory } from '../../controller/learner-factory.js';
import type { LearnedModel } from '../../routing/compile.js';
import { parseLabelsCursor } from '../learning/label-outbox.js';
import { startLocalLearning, type LocalLearning } from './local-learning.js';

/** A cursor this process made itself (labelsCursor): parsed back for the outbox. */
function labelsCursorOf(after: string | undefined) {
  if (after === undefined) return undefined;
  const cursor = parseLabelsCursor(after);
  return typeof cursor === 'string' ? undefined : cursor;
}

export interface DevModeOptions extends Pick<
  ProxyOptions,
  | 'host'
  | 'dataPort'
  | 'adminPort'
  | 'adminToken'
  | 'otlpEndpoint'
  | 'accessLog'
  | 'credentialsDir'
  | 'difficultyModelFile'
  | 'maxBodyBytes'
  | 'headersTimeoutMs'
  | 'requestTimeoutMs'
  | 'clientStallTimeoutMs'
> {
  configPaths: string[];
  /** Call as this tenant (`--tenant`); absent: the default tenant, unless a key says otherwise. */
  tenant?: string | undefined;
  /** Simulate every backend, not only simulate:// ones. */
  simulateAll: boolean;
  logger: Logger;
  /** Cap on probe intervals so local mode reacts quickly. */
  maxProbeIntervalMs?: number;
  /** How often learning rules take in their labels and retrain when due (default 2 s). */
  learningIntervalMs?: number;
}

export interface DevMode {
  proxy: RunningProxy;
  simulators: Map<string, SimulatedBackend>;
  /** ModelRoute model names served. */
  models: string[];
  /** The in-process learning loop, when a route has a learning rule. */
  learning: LocalLearning | undefined;
  close(): Promise<void>;
}

type KnobKind = 'duration' | 'number' | 'string' | 'boolean';

const KNOBS: Record<string, { key: string; kind: KnobKind }> = {
  latency: { key: 'latencyMs', kind: 'duration' },
  ttft: { key: 'ttftMs', kind: 'duration' },
  tps: { key: 'tokensPerSecond', kind: 'number' },
  outputTokens: { key: 'outputTokens', kind: 'number' },
  errorRate: { key: 'errorRate', kind: 'number' },
  errorStatus: { key: 'errorStatus', kind: 'number' },
  retryAfter: { key: 'retryAfterSeconds', kind: 'number' },
  stall: { key: 'stallMs', kind: 'duration' },
  cutAfter: { key: 'cutAfterTokens', kind: 'number' },
  seed: { key: 'seed', kind: 'number' },
  // Learning (issue 17): answers marked with a data set's recorded quality, and a simulated judge.
  qualityData: { key: 'qualityData', kind: 'string' },
  qualityColumn: { key: 'qualityColumn', kind: 'string' },
  qualityDefault: { key: 'qualityDefault', kind: 'number' },
  judge: { key: 'judge', kind: 'boolean' },
  judgeBias: { key: 'judgePositionBias', kind: 'number' },
};

function knobValue(kind: KnobKind, name: string, value: string, backendId: string): unknown {
  switch (kind) {
    case 'duration':
      return durationToMs(value);
    case 'number':
      return Number(value);
    case 'string':
      return value;
    case 'boolean':
      if (value === '1' || value === 'true') return true;
      if (value === '0' || value === 'false') return false;
      throw new Error(
        `ModelBackend ${backendId}: simulator knob "${name}" takes 1/true or 0/false, not "${value}"`,
      );
  }
}

/**
 * simulate://name?latency=50ms&ttft=200ms&tps=40&errorRate=0.1 → simulator
 * options. `qualityData=<csv path, relative to the working directory>&qualityColumn=<column>`
 * answers with the quality recorded per prompt; `judge=1` (and `judgeBias=0.2`)
 * makes the backend a simulated pairwise judge.
 */
export function simulatorKnobs(
  endpoint: string | undefined,
  backendId: string,
): Record<string, unknown> {
  if (!endpoint?.startsWith('simulate://')) return {};
  const url = new URL(endpoint);
  const knobs: Record<string, unknown> = {};
  for (const [name, value] of url.searchParams) {
    const knob = KNOBS[name];
    if (!knob) {
      throw new Error(
        `ModelBackend ${backendId}: unknown simulator knob "${name}" in ${endpoint}; known: ${Object.keys(KNOBS).join(', ')}`,
      );
    }
    knobs[knob.key] = knobValue(knob.kind, name, value, backendId);
  }
  return knobs;
}

function isSimulated(backend: ModelBackend, simulateAll: boolean): boolean {
  return simulateAll || backend.spec.endpoint?.startsWith('simulate://') === true;
}

/**
 * The endpoint a backend of this provider needs to reach a simulator at
 * `simulatorUrl`: OpenAI dialects take the /v1 base, the others the root.
 */
export function simulatorEndpoint(
  provider: ModelBackend['spec']['provider'],
  simulatorUrl: string,
): string {
  return provider === 'openai' || provider === 'openai-compatible'
    ? `${simulatorUrl}/v1`
    : simulatorUrl;
}

/**
 * Points a backend at its simulator, in the dialect its provider speaks,
 * with no credentials: local mode needs no keys and no cloud account.
 */
function pointAtSimulator(backend: ModelBackend, sim: SimulatedBackend): ModelBackend {
  const {
    serviceRef: _serviceRef,
    secretRef: _secretRef,
    auth: _auth,
    tls: _tls,
    ...spec
  } = backend.spec;
  const unauthenticated = AWS_PROVIDERS.includes(spec.provider)
    ? { auth: { aws: { source: NO_CREDENTIALS } } }
    : GOOGLE_PROVIDERS.includes(spec.provider)
      ? { auth: { gcp: { source: NO_CREDENTIALS } } }
      : {};
  return {
    ...backend,
    spec: { ...spec, ...unauthenticated, endpoint: simulatorEndpoint(spec.provider, sim.url) },
  };
}

/**
 * The namespace local mode acts as a proxy of, whose ModelTenants and
 * ModelAPIKeys it serves: the one they all live in; with none, or when they
 * span several, `default` (the others are left out, and `skipped` names them).
 */
export function localNamespace(loaded: {
  tenants: readonly { metadata: { namespace?: string | undefined; name: string } }[];
  apiKeys: readonly { metadata: { namespace?: string | undefined; name: string } }[];
}): { namespace: string; skipped: string[] } {
  const objects = [...loaded.tenants, ...loaded.apiKeys];
  const namespaces = new Set(objects.map((o) => o.metadata.namespace ?? 'default'));
  const namespace = namespaces.size === 1 ? ([...namespaces][0] as string) : 'default';
  const skipped = objects
    .filter((o) => (o.metadata.namespace ?? 'default') !== namespace)
    .map((o) => `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`);
  return { namespace, skipped };
}

export async function startDevMode(options: DevModeOptions): Promise<DevMode> {
  const loaded = loadAndCheckManifests(options.configPaths, (routes, backends, grants) => [
    ...checkSemantics(routes, backends, grants),
    ...oneTableConflicts(routes),
  ]);
  if (loaded.errors.length > 0) {
    throw new Error(
      `the manifests have ${loaded.errors.length} error(s):\n${loaded.errors.map(formatManifestError).join('\n')}`,
    );
  }
  if (loaded.routes.length === 0) {
    throw new Error(
      `no ModelRoute found in ${options.configPaths.join(', ')}: local mode needs at least one route to serve`,
    );
  }

  const simulators = new Map<string, SimulatedBackend>();
  const backends: ModelBackend[] = [];
  try {
    for (const backend of loaded.backends) {
      if (!isSimulated(backend, options.simulateAll)) {
        backends.push(backend);
        continue;
      }
      const id = objectId(backend);
      const knobs = simulatorKnobs(backend.spec.endpoint, id);
      const parsed = simulatorOptions.safeParse({
        models: [backend.spec.model],
        seed: simulators.size + 1,
        ...knobs,
      });
      if (!parsed.success)
        throw new Error(
          `ModelBackend ${id}: bad simulator settings: ${parsed.error.issues[0]?.message ?? ''}`,
        );
      const sim = await startSimulatedBackend(parsed.data).catch((err: unknown) => {
        throw new Error(
          `ModelBackend ${id}: cannot start its simulator: ${(err as Error).message}`,
        );
      });
      simulators.set(id, sim);
      backends.push(pointAtSimulator(backend, sim));
    }
  } catch (err) {
    await Promise.all([...simulators.values()].map((s) => s.close()));
    throw err;
  }

  const local = localNamespace(loaded);
  if (local.skipped.length > 0)
    options.logger.warn(
      'ModelTenants and ModelAPIKeys span several namespaces: local mode serves those of "default" only',
      { skipped: local.skipped },
    );
  const proxy = await startProxy({
    identity: { mode: 'local', tenant: options.tenant },
    // No controller divides limits here: this proxy is the whole fleet.
    quotaMode: 'local',
    namespace: local.namespace,
    host: options.host,
    dataPort: options.dataPort,
    adminPort: options.adminPort,
    adminToken: options.adminToken,
    otlpEndpoint: options.otlpEndpoint,
    accessLog: options.accessLog,
    credentialsDir: options.credentialsDir,
    difficultyModelFile: options.difficultyModelFile,
    maxBodyBytes: options.maxBodyBytes,
    headersTimeoutMs: options.headersTimeoutMs,
    requestTimeoutMs: options.requestTimeoutMs,
    clientStallTimeoutMs: options.clientStallTimeoutMs,
    logger: options.logger,
    adminExtras: (runtime) => localDashboard(runtime, options.logger),
  });
  const { runtime } = proxy;
  let learnedModels: ReadonlyMap<string, LearnedModel> = new Map();
  const install = (): void => {
    // Local mode has no controller to deny anyone: callers nobody claims are the default tenant.
    const identity = compileIdentity(
      local.namespace,
      loaded.tenants,
      loaded.apiKeys,
      { unmatched: 'default-tenant' },
      runtime.now(),
    );
    const table = compileRoutingTable(loaded.routes, backends, prober.tracker.states(), {
      identity,
      grants: loaded.grants,
      learnedModels,
    });
    const result = runtime.store.update(table);
    if (!result.ok) throw new Error(`compiled table was refused: ${result.error}`);
  };
  const prober: HealthProber = new HealthProber({
    authFor: (backend) => runtime.upstreamAuth.authFor(backend),
    // The proxy's own connections: the backend's TLS material and the egress proxy apply.
    dispatcherFor: (backend, origin) =>
      runtime.pools.forBackend(backend, origin, backend.timeouts.connectMs),
    now: runtime.now,
    maxIntervalMs: options.maxProbeIntervalMs ?? 5_000,
    onTransition: (t) => {
      options.logger.info('backend health changed', {
        backend: t.backendId,
        from: t.from,
        to: t.to,
        message: t.record.message,
      });
      install();
    },
  });
  install();
  prober.start(
    runtime.store.prepared?.table.backends.map((backend) => ({
      backend,
      spec: (backends.find((b) => objectId(b) === backend.id) as ModelBackend).spec,
    })) ?? [],
  );

  // Rules with costQuality.learning learn here too, from this proxy's own labels.
  const learning = loaded.routes.some((r) => learningRules(r).length > 0)
    ? startLocalLearning({
        routes: loaded.routes,
        read: (after) => runtime.learning.stats(labelsCursorOf(after)),
        factory: defaultLearnerFactory({ now: runtime.now }),
        now: runtime.now,
        logger: options.logger.child({ component: 'learning' }),
        onModels: (models) => {
          learnedModels = models;
          install();
        },
        intervalMs: options.learningIntervalMs,
      })
    : undefined;

  return {
    proxy,
    simulators,
    learning,
    models: [...new Set(loaded.routes.map((r) => r.spec.model))].sort(),
    async close() {
      learning?.stop();
      prober.stop();
      await proxy.close();
      await Promise.all([...simulators.values()].map((s) => s.close()));
    },
  };
}
