// ModelBackend: one model served at one endpoint, with its economics and health.
import { z } from 'zod';
import { backendLimits, fleetLimitStatus } from './quota.js';
import {
  API_VERSION,
  conditions,
  count,
  boundedDuration,
  connectTimeout,
  firstTokenTimeout,
  totalTimeout,
  healthState,
  labelName,
  objectMeta,
  objectName,
  withCrossFieldRules,
} from './common.js';

export const PROVIDERS = ['openai', 'azure-openai', 'anthropic', 'openai-compatible'] as const;
export const provider = z.enum(PROVIDERS);
export type Provider = z.infer<typeof provider>;

export const CAPABILITIES = [
  'chat',
  'completions',
  'embeddings',
  'streaming',
  'tools',
  'vision',
  'json-mode',
  'reasoning',
  'code',
  'long-context',
  'audio',
] as const;
export const capability = z.enum(CAPABILITIES);
export type Capability = z.infer<typeof capability>;

/**
 * http(s) URLs, plus simulate:// for local mode's simulated backends. No
 * backslash anywhere: WHATWG URL parsing reads a backslash as `/`, so
 * `https://evil.example\@api.openai.com` would name evil.example as its host.
 */
export const ENDPOINT_PATTERN = /^(https?|simulate):\/\/[^\s/?#\\]+([/?#][^\s\\]*)?$/;

/** Userinfo (`user:key@`) in an endpoint's authority. RE2 and JavaScript read it alike. */
export const ENDPOINT_USERINFO = '^[a-z]+://[^/?#]*@';

/**
 * Hosts a plain http:// endpoint of a hosted provider may name: only this
 * machine (a local mock or tunnel), where nothing crosses a network.
 */
export const LOOPBACK_HTTP =
  '^http://(localhost|127\\.[0-9]+\\.[0-9]+\\.[0-9]+|\\[::1\\])(:[0-9]+)?([/?#].*)?$';

/** A CEL string literal holding `value` exactly (RE2 backslashes doubled). */
function celString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/**
 * Probe paths: one leading slash (a second one would start a new authority,
 * `//evil:80/x`), no backslash (read as a slash), no fragment.
 */
export const PROBE_PATH_PATTERN = /^\/([^/\s\\#][^\s\\#]*)?$/;

const serviceRef = z
  .strictObject({
    name: objectName.describe("Name of a Service in the ModelBackend's namespace."),
    port: z.int().min(1).max(65535).describe('Service port number.'),
    path: z
      .string()
      .max(1024)
      .regex(/^\/[^\s?#]*$/, { message: 'must be an absolute URL path such as "/v1"' })
      .default('/v1')
      .describe('Path prefix of the OpenAI-compatible API on that service.'),
    scheme: z.enum(['http', 'https']).default('http').describe('Scheme used to reach the service.'),
  })
  .describe('An in-cluster Service serving the model; resolved to its cluster DNS name.');

const secretKeyRef = z
  .strictObject({
    name: objectName.describe("Name of a Secret in the ModelBackend's namespace."),
    key: z
      .string()
      .min(1)
      .max(253)
      .default('apiKey')
      .describe('Key within the Secret holding the API key.'),
  })
  .describe(
    'Reference to the Secret holding the API key. Only the reference is ever stored or logged.',
  );

const pricing = z
  .strictObject({
    inputPerMillion: z
      .number()
      .min(0)
      .default(0)
      .describe('USD per million input (prompt) tokens.'),
    outputPerMillion: z
      .number()
      .min(0)
      .default(0)
      .describe('USD per million output (completion) tokens.'),
    cachedInputPerMillion: z
      .number()
      .min(0)
      .optional()
      .describe('USD per million cached input tokens; defaults to inputPerMillion.'),
    cacheWriteInputPerMillion: z
      .number()
      .min(0)
      .optional()
      .describe(
        "USD per million input tokens written to the provider's prompt cache (Anthropic's cache_creation_input_tokens); defaults to 1.25 x inputPerMillion for provider anthropic (Anthropic's five-minute cache-write rate), else inputPerMillion.",
      ),
  })
  .describe('Price list used for cost accounting, least-cost routing and budgets.');

const azure = z
  .strictObject({
    deployment: z.string().min(1).max(256).describe('Azure OpenAI deployment name.'),
    apiVersion: z
      .string()
      .regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, {
        message: 'must look like "2024-10-21" or "2024-12-01-preview"',
      })
      .default('2024-10-21')
      .describe('Azure OpenAI api-version query parameter.'),
  })
  .describe('Azure OpenAI settings; required when provider is azure-openai.');

const anthropic = z
  .strictObject({
    version: z
      .string()
      .min(1)
      .default('2023-06-01')
      .describe('Value of the anthropic-version header.'),
  })
  .describe('Anthropic settings.');

const healthCheck = z
  .strictObject({
    enabled: z.boolean().default(true).describe('Whether the controller probes this backend.'),
    probe: z
      .enum(['models', 'completion', 'http'])
      .default('models')
      .describe('models: GET <base>/models; completion: a 1-token completion; http: GET of path.'),
    path: z
      .string()
      .max(1024)
      .regex(PROBE_PATH_PATTERN, {
        message:
          'must be an absolute path on the backend such as "/health": one leading "/", no "//host" prefix, no backslashes, no "#"',
      })
      .optional()
      .describe(
        "Path probed when probe is http, on the endpoint's own scheme, host and port (it replaces the endpoint's path); it can never name another host.",
      ),
    interval: boundedDuration({ min: '1s', max: '1h' })
      .default('30s')
      .describe('Time between probes, 1s to 1h.'),
    timeout: boundedDuration({ min: '10ms', max: '5m' })
      .default('5s')
      .describe('Time a probe may take before it counts as failed, 10ms to 5m.'),
    unhealthyThreshold: z
      .int()
      .min(1)
      .max(100)
      .default(3)
      .describe('Consecutive failures before Unhealthy.'),
    healthyThreshold: z
      .int()
      .min(1)
      .max(100)
      .default(2)
      .describe('Consecutive successes before Healthy again.'),
  })
  .describe('Active health checking.');

export const backendTimeouts = z
  .strictObject({
    connect: connectTimeout.optional().describe('Time to establish a connection, 1ms to 10m.'),
    firstToken: firstTokenTimeout
      .optional()
      .describe('Time until the first response byte (first token when streaming), 1ms to 1h.'),
    total: totalTimeout.optional().describe('Time for the whole response, 1ms to 24h.'),
  })
  .describe('Per-attempt timeouts.');

export const modelBackendSpec = withCrossFieldRules(
  z
    .strictObject({
      provider: provider.describe(
        'API dialect: openai, azure-openai, anthropic or openai-compatible (vLLM, TGI, Ollama, ...).',
      ),
      endpoint: z
        .string()
        .max(2048)
        .regex(ENDPOINT_PATTERN, {
          message:
            'must be an absolute http(s):// URL such as "https://api.openai.com/v1" (simulate:// in local mode)',
        })
        .optional()
        .describe(
          'Base URL of the API, e.g. https://api.openai.com/v1. Exactly one of endpoint or serviceRef. ' +
            'It must not carry credentials (no user:key@, no query string or fragment): put the key in a Secret and name it in secretRef. ' +
            'Hosted providers (openai, azure-openai, anthropic) need https://; plain http:// is refused for them except to localhost, ' +
            'because the key would cross the network in clear text (use openai-compatible or serviceRef for an in-cluster server).',
        ),
      serviceRef: serviceRef.optional(),
      model: z.string().min(1).max(256).describe('Model name sent upstream.'),
      secretRef: secretKeyRef.optional(),
      azure: azure.optional(),
      anthropic: anthropic.optional(),
      pricing: pricing.optional(),
      contextWindow: z
        .int()
        .min(1)
        .optional()
        .describe('Maximum prompt plus output tokens the model accepts.'),
      maxOutputTokens: z
        .int()
        .min(1)
        .optional()
        .describe('Maximum output tokens the model produces.'),
      limits: backendLimits.optional(),
      capabilities: z
        .array(capability)
        .max(CAPABILITIES.length)
        .default(['chat'])
        .meta({ 'x-kubernetes-list-type': 'set' })
        .describe('What the model can do; requests needing a capability skip backends without it.'),
      quality: z
        .number()
        .min(0)
        .max(1)
        .optional()
        .describe(
          'Relative answer quality from 0 (weakest) to 1 (strongest); used by cost-quality routing.',
        ),
      compliance: z
        .array(labelName)
        .max(32)
        .default([])
        .meta({ 'x-kubernetes-list-type': 'set' })
        .describe('Compliance tags this backend is approved for (e.g. hipaa, gdpr, eu-residency).'),
      healthCheck: healthCheck.optional(),
      timeouts: backendTimeouts.optional(),
    })
    .describe('Desired state of a ModelBackend.'),
  [
    {
      rule: 'has(self.endpoint) != has(self.serviceRef)',
      message: 'set exactly one of spec.endpoint or spec.serviceRef',
      holds: (s) => (s.endpoint === undefined) !== (s.serviceRef === undefined),
    },
    {
      rule: `!has(self.endpoint) || !self.endpoint.matches(${celString(ENDPOINT_USERINFO)})`,
      message:
        'spec.endpoint must not carry credentials (user:key@host): put the API key in a Secret and reference it with spec.secretRef',
      fieldPath: '.endpoint',
      holds: (s) => s.endpoint === undefined || !new RegExp(ENDPOINT_USERINFO).test(s.endpoint),
    },
    {
      // simulate:// (local mode only, no key ever sent) keeps its ?latency=… knobs.
      rule: "!has(self.endpoint) || self.endpoint.startsWith('simulate://') || !(self.endpoint.contains('?') || self.endpoint.contains('#'))",
      message:
        'spec.endpoint must not have a query string or fragment (keys such as ?api-key= belong in a Secret referenced by spec.secretRef; the Azure api-version goes in spec.azure.apiVersion)',
      fieldPath: '.endpoint',
      holds: (s) =>
        s.endpoint === undefined ||
        s.endpoint.startsWith('simulate://') ||
        !/[?#]/.test(s.endpoint),
    },
    {
      rule: `self.provider == 'openai-compatible' || !has(self.endpoint) || !self.endpoint.startsWith('http://') || self.endpoint.matches(${celString(LOOPBACK_HTTP)})`,
      message:
        'spec.endpoint must use https:// for hosted providers (openai, azure-openai, anthropic): over http:// the API key crosses the network in clear text (http:// is allowed only to localhost; use provider openai-compatible or spec.serviceRef for an in-cluster server)',
      fieldPath: '.endpoint',
      holds: (s) =>
        s.provider === 'openai-compatible' ||
        s.endpoint === undefined ||
        !s.endpoint.startsWith('http://') ||
        new RegExp(LOOPBACK_HTTP).test(s.endpoint),
    },
    {
      rule: "self.provider != 'azure-openai' || has(self.azure)",
      message: 'spec.azure (deployment, apiVersion) is required when spec.provider is azure-openai',
      holds: (s) => s.provider !== 'azure-openai' || s.azure !== undefined,
    },
    {
      rule: "!has(self.healthCheck) || !has(self.healthCheck.probe) || self.healthCheck.probe != 'http' || has(self.healthCheck.path)",
      message: 'spec.healthCheck.path is required when spec.healthCheck.probe is http',
      fieldPath: '.healthCheck',
      holds: (s) => s.healthCheck?.probe !== 'http' || s.healthCheck.path !== undefined,
    },
    {
      rule: '!has(self.maxOutputTokens) || !has(self.contextWindow) || self.maxOutputTokens <= self.contextWindow',
      message: 'spec.maxOutputTokens must not exceed spec.contextWindow',
      fieldPath: '.maxOutputTokens',
      holds: (s) =>
        s.maxOutputTokens === undefined ||
        s.contextWindow === undefined ||
        s.maxOutputTokens <= s.contextWindow,
    },
  ],
);
export type ModelBackendSpec = z.infer<typeof modelBackendSpec>;

export const modelBackendStatus = z
  .strictObject({
    observedGeneration: count.optional().describe('The metadata.generation this status describes.'),
    conditions: conditions.optional(),
    health: z
      .strictObject({
        state: healthState.describe('Healthy, Unhealthy or Unknown.'),
        reason: z.string().max(256).optional().describe('CamelCase reason for the current state.'),
        message: z.string().max(4096).optional().describe('Details of the last probe or failure.'),
        consecutiveFailures: count.default(0).describe('Failed probes in a row.'),
        consecutiveSuccesses: count.default(0).describe('Successful probes in a row.'),
        lastProbeTime: z.string().optional().describe('When the last probe ran (RFC 3339).'),
        lastTransitionTime: z.string().optional().describe('When state last changed (RFC 3339).'),
      })
      .optional()
      .describe('Health as seen by active probes and proxy outcome stats.'),
    resolvedEndpoint: z.string().max(2048).optional().describe('The base URL proxies use.'),
    observed: z
      .strictObject({
        latencyMs: z
          .number()
          .min(0)
          .optional()
          .describe('Typical (EWMA) request latency in milliseconds.'),
        errorRate: z
          .number()
          .min(0)
          .max(1)
          .optional()
          .describe('Share of failed requests in the recent window.'),
        requests: count.optional().describe('Requests seen in the recent window.'),
      })
      .optional()
      .describe('Outcome statistics reported by the proxies.'),
    limits: fleetLimitStatus.optional(),
  })
  .describe('Observed state of a ModelBackend.');
export type ModelBackendStatus = z.infer<typeof modelBackendStatus>;

export const modelBackend = z.strictObject({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('ModelBackend'),
  metadata: objectMeta,
  spec: modelBackendSpec,
  status: modelBackendStatus.optional(),
});
export type ModelBackend = z.infer<typeof modelBackend>;
/** A ModelBackend as written by users (defaults not yet applied). */
export type ModelBackendInput = z.input<typeof modelBackend>;
