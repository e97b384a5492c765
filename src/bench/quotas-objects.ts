// The ModelBackends, ModelRoutes, ModelTenants and ModelAPIKeys the quotas
// benchmark creates, valid by our own schemas (parsed here, defaults applied).
// One backend per measured limit, each on its own simulator, so what a
// simulator receives is exactly the traffic under that limit.
import { randomBytes } from 'node:crypto';
import {
  modelAPIKey,
  modelBackend,
  modelRoute,
  modelTenant,
  type ModelAPIKey,
  type ModelBackend,
  type ModelBackendInput,
  type ModelRoute,
  type ModelTenant,
} from '../api/v1alpha1/index.js';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../identity/api-key.js';

const API = 'modelroute.io/v1alpha1';

/** Request-count limit of the rpm backend and of the priority backend: the 600 rpm. */
export const RPM_LIMIT = 600;
/** Tokens a tpm-phase request costs the backend: TPM_PROMPT_CHARS / 4 prompt tokens + TPM_OUTPUT_TOKENS. */
export const TPM_OUTPUT_TOKENS = 100;
export const TPM_PROMPT_CHARS = 400;
export const TPM_REQUEST_TOKENS = TPM_PROMPT_CHARS / 4 + TPM_OUTPUT_TOKENS;
/** Binds at 600 such requests a minute, as the rpm backend does (its rpm is left unlimited). */
export const TPM_LIMIT = RPM_LIMIT * TPM_REQUEST_TOKENS;
/** rpm-phase requests are small: the request count, not the tokens, is measured. */
export const RPM_OUTPUT_TOKENS = 8;

/** Prices of the budget backend, USD per million tokens. */
export const BUDGET_PRICING = { inputPerMillion: 2, outputPerMillion: 8 } as const;
/** The priority backend's answer time: p99 latency is compared with and without overload. */
export const PRIORITY_LATENCY_MS = 20;

export type BackendRole = 'rpm' | 'tpm' | 'budget' | 'prio-main' | 'prio-alt';
export const BACKEND_ROLES: readonly BackendRole[] = [
  'rpm',
  'tpm',
  'budget',
  'prio-main',
  'prio-alt',
];

/** Client model names, one route each. */
export const MODELS = {
  rpm: 'bench-rpm',
  tpm: 'bench-tpm',
  budget: 'bench-budget',
  priority: 'bench-priority',
} as const;

export const TENANTS = { capped: 'capped', gold: 'gold', bulk: 'bulk' } as const;

function backend(
  namespace: string,
  role: BackendRole,
  url: string,
  extra: Partial<ModelBackendInput['spec']>,
): ModelBackend {
  return modelBackend.parse({
    apiVersion: API,
    kind: 'ModelBackend',
    metadata: { name: role, namespace },
    spec: {
      provider: 'openai-compatible',
      endpoint: `${url}/v1`,
      model: `sim-${role}`,
      // The simulators always answer; probes would only add traffic the windows must not count.
      healthCheck: { enabled: false },
      ...extra,
    },
  });
}

export function benchBackends(
  namespace: string,
  urls: Record<BackendRole, string>,
): ModelBackend[] {
  return [
    backend(namespace, 'rpm', urls.rpm, { limits: { rpm: RPM_LIMIT } }),
    backend(namespace, 'tpm', urls.tpm, { limits: { tpm: TPM_LIMIT } }),
    backend(namespace, 'budget', urls.budget, { pricing: { ...BUDGET_PRICING } }),
    backend(namespace, 'prio-main', urls['prio-main'], { limits: { rpm: RPM_LIMIT } }),
    backend(namespace, 'prio-alt', urls['prio-alt'], {}),
  ];
}

function route(
  namespace: string,
  name: string,
  model: string,
  backends: BackendRole[],
): ModelRoute {
  return modelRoute.parse({
    apiVersion: API,
    kind: 'ModelRoute',
    metadata: { name, namespace },
    spec: {
      model,
      rules: [
        {
          name: 'main',
          // In order: the first backend available to the request's priority serves it.
          strategy: 'priority',
          backendRefs: backends.map((name) => ({ name })),
        },
      ],
      // No extra attempts: a retry would be a second request the windows count.
      retries: { attempts: 0 },
    },
  });
}

export function benchRoutes(namespace: string): ModelRoute[] {
  return [
    route(namespace, 'rpm', MODELS.rpm, ['rpm']),
    route(namespace, 'tpm', MODELS.tpm, ['tpm']),
    route(namespace, 'budget', MODELS.budget, ['budget']),
    // Low priority moves to prio-alt when prio-main nears its limit; high keeps prio-main.
    route(namespace, 'priority', MODELS.priority, ['prio-main', 'prio-alt']),
  ];
}

export function benchTenants(namespace: string, dailyBudgetUSD: number): ModelTenant[] {
  const tenant = (name: string, spec: Record<string, unknown>) =>
    modelTenant.parse({
      apiVersion: API,
      kind: 'ModelTenant',
      metadata: { name, namespace },
      spec,
    });
  return [
    tenant(TENANTS.capped, { budget: { dailyUSD: dailyBudgetUSD, onExceeded: 'refuse' } }),
    tenant(TENANTS.gold, { priority: 'high' }),
    tenant(TENANTS.bulk, { priority: 'low' }),
  ];
}

/** A fresh virtual key per tenant and run; only its hash goes to the API server. */
export function benchApiKeys(namespace: string): {
  objects: ModelAPIKey[];
  keys: Record<string, string>;
} {
  const keys: Record<string, string> = {};
  const objects = Object.values(TENANTS).map((tenant) => {
    const key = generateApiKey(randomBytes);
    keys[tenant] = key;
    return modelAPIKey.parse({
      apiVersion: API,
      kind: 'ModelAPIKey',
      metadata: { name: `${tenant}-key`, namespace },
      spec: { tenant, hash: hashApiKey(key), prefix: apiKeyPrefix(key) },
    });
  });
  return { objects, keys };
}

/** A chat body of `promptChars` characters of user content asking for `maxTokens` tokens. */
export function chatBody(model: string, promptChars: number, maxTokens: number): string {
  const words = 'the quick brown fox jumps over the lazy dog while counting tokens ';
  const content = words.repeat(Math.ceil(promptChars / words.length)).slice(0, promptChars);
  return JSON.stringify({
    model,
    messages: [{ role: 'user', content }],
    max_tokens: maxTokens,
  });
}
