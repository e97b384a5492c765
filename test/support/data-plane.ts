// A real proxy in front of real simulated backends, all on loopback, for the
// data-plane tests. Objects go through the same schemas and compiler as in
// production; only the endpoints point at the simulators.
import OpenAI from 'openai';
import {
  modelAPIKey,
  modelBackend,
  modelRoute,
  modelTenant,
  type ModelAPIKey,
  type ModelTenant,
  type ModelTenantInput,
  type ModelBackend,
  type ModelBackendInput,
  type ModelRoute,
  type ModelRouteInput,
} from '../../src/api/v1alpha1/index.js';
import { startProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/proxy.js';
import { apiKeyPrefix, hashApiKey } from '../../src/identity/api-key.js';
import { compileRoutingTable, type HealthByBackend } from '../../src/routing/compile.js';
import { compileIdentity } from '../../src/routing/compile-tenants.js';
import type { IdentityPolicy } from '../../src/routing/table.js';
import { seededRandom } from '../../src/routing/random.js';
import {
  startSimulatedBackend,
  type SimulatedBackend,
  type SimulatorOptions,
} from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789abcdef';

export interface TestBackend {
  name: string;
  spec?: Partial<ModelBackendInput['spec']>;
  simulator?: SimulatorOptions;
}

export interface DataPlane {
  proxy: RunningProxy;
  sims: Record<string, SimulatedBackend>;
  backends: ModelBackend[];
  routes: ModelRoute[];
  client: OpenAI;
  /** Recompiles and installs the table (e.g. after changing health). */
  install(health?: HealthByBackend): void;
  close(): Promise<void>;
}

/** Tenants, keys and the unmatched-caller policy the table carries (as the controller compiles them). */
export interface TestIdentity {
  tenants?: ModelTenant[];
  keys?: ModelAPIKey[];
  unmatched?: IdentityPolicy['unmatched'];
  /** The namespace whose tenants and keys the table holds (default "default"). */
  namespace?: string;
  /** The clock keys are compiled with (default Date.now()). */
  compiledAtMs?: number;
}

export function tenant(
  name: string,
  spec: ModelTenantInput['spec'] = {},
  namespace = 'default',
): ModelTenant {
  return modelTenant.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelTenant',
    metadata: { name, namespace },
    spec,
  });
}

/** A ModelAPIKey object for `key` (only its hash is stored, as `modelroute keys create` does). */
export function apiKey(
  name: string,
  key: string,
  tenantName: string,
  options: { namespace?: string; expiresAt?: string; revoked?: boolean } = {},
): ModelAPIKey {
  return modelAPIKey.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelAPIKey',
    metadata: { name, namespace: options.namespace ?? 'default' },
    spec: {
      tenant: tenantName,
      hash: hashApiKey(key),
      prefix: apiKeyPrefix(key),
      ...(options.expiresAt ? { expiresAt: options.expiresAt } : {}),
      ...(options.revoked ? { revoked: true } : {}),
    },
  });
}

export function route(
  name: string,
  spec: Partial<ModelRouteInput['spec']> & Pick<ModelRouteInput['spec'], 'rules'>,
): ModelRoute {
  return modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name, namespace: 'default' },
    spec: { model: name, ...spec },
  });
}

/**
 * A backend spec pointing at a simulator, in the dialect of its provider, or
 * at the endpoint the test gave (a scripted upstream of its own).
 */
function backendAt(b: TestBackend, sim: SimulatedBackend): ModelBackend {
  const provider = b.spec?.provider ?? 'openai-compatible';
  const endpoint =
    b.spec?.endpoint ??
    (provider === 'openai' || provider === 'openai-compatible' ? `${sim.url}/v1` : sim.url);
  return modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name: b.name, namespace: 'default' },
    spec: { provider, model: `${b.name}-upstream`, ...b.spec, endpoint },
  });
}

export async function startDataPlane(
  backends: TestBackend[],
  routes: ModelRoute[],
  options: Partial<ProxyOptions> & { tableIdentity?: TestIdentity } = {},
): Promise<DataPlane> {
  const { tableIdentity, ...proxyOptions } = options;
  const sims: Record<string, SimulatedBackend> = {};
  for (const b of backends)
    sims[b.name] = await startSimulatedBackend({ models: [`${b.name}-upstream`], ...b.simulator });
  const compiled = backends.map((b) => backendAt(b, sims[b.name] as SimulatedBackend));
  const proxy = await startProxy({
    adminToken: { value: ADMIN_TOKEN },
    logger: createLogger({ level: 'error', write: () => {} }),
    rng: seededRandom(7),
    // Tables are installed directly, as in local mode: each limit holds in full.
    quotaMode: 'local',
    ...proxyOptions,
  });
  const identity = tableIdentity
    ? compileIdentity(
        tableIdentity.namespace ?? 'default',
        tableIdentity.tenants ?? [],
        tableIdentity.keys ?? [],
        { unmatched: tableIdentity.unmatched ?? 'default-tenant' },
        tableIdentity.compiledAtMs ?? Date.now(),
      )
    : undefined;
  const install = (health?: HealthByBackend): void => {
    const result = proxy.runtime.store.update(
      compileRoutingTable(routes, compiled, health, identity ? { identity } : {}),
    );
    if (!result.ok) throw new Error(result.error);
  };
  install();
  return {
    proxy,
    sims,
    backends: compiled,
    routes,
    client: new OpenAI({
      baseURL: `${proxy.dataUrl}/v1`,
      apiKey: 'unused',
      maxRetries: 0,
      timeout: 20_000,
    }),
    install,
    async close() {
      await proxy.close();
      await Promise.all(Object.values(sims).map((s) => s.close()));
    },
  };
}

/** Raw HTTP to the proxy, for cases the SDK would not send. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: unknown; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: jsonOrUndefined(text), text };
}

/** The parsed body, or undefined when it is not JSON. */
export function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/**
 * Issue 17's three simulated backends: `weak` and `strong` answer with the
 * quality `csv` records for each prompt (columns weak, strong), `judge`
 * compares two answers by those marks.
 */
export function judgedBackends(csv: string): TestBackend[] {
  return [
    {
      name: 'weak',
      spec: { quality: 0.4, pricing: { inputPerMillion: 1, outputPerMillion: 2 } },
      simulator: { qualityData: csv, qualityColumn: 'weak', outputTokens: 6 },
    },
    {
      name: 'strong',
      spec: { quality: 0.9, pricing: { inputPerMillion: 10, outputPerMillion: 30 } },
      simulator: { qualityData: csv, qualityColumn: 'strong', outputTokens: 6 },
    },
    {
      name: 'judge',
      spec: { pricing: { inputPerMillion: 5, outputPerMillion: 15 } },
      simulator: { judge: true },
    },
  ];
}
