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

export const PROVIDERS = [
  'openai',
  'azure-openai',
  'anthropic',
  'openai-compatible',
  'bedrock',
  'anthropic-bedrock',
  'vertex-gemini',
  'anthropic-vertex',
] as const;
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

/** Providers reached through AWS Bedrock: SigV4-signed with AWS credentials. */
export const AWS_PROVIDERS: readonly Provider[] = ['bedrock', 'anthropic-bedrock'];
/** Providers reached through Google Vertex AI: OAuth 2 tokens from Google credentials. */
export const GOOGLE_PROVIDERS: readonly Provider[] = ['vertex-gemini', 'anthropic-vertex'];

const bedrock = z
  .strictObject({
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: 'must be an AWS region such as "us-east-1"' })
      .describe('AWS region of the Bedrock runtime endpoint; part of every SigV4 signature.'),
  })
  .describe('AWS Bedrock settings; required when provider is bedrock or anthropic-bedrock.');

const vertex = z
  .strictObject({
    project: z
      .string()
      .regex(/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/, {
        message: 'must be a Google Cloud project id such as "my-project-123"',
      })
      .describe('Google Cloud project id.'),
    location: z
      .string()
      .regex(/^(global|[a-z]+-[a-z]+\d+)$/, {
        message: 'must be a Vertex AI location such as "us-central1" or "global"',
      })
      .describe('Vertex AI location (region), e.g. us-central1, or global.'),
  })
  .describe(
    'Google Vertex AI settings; required when provider is vertex-gemini or anthropic-vertex.',
  );

const secretNameRef = z
  .strictObject({ name: objectName.describe("Name of a Secret in the ModelBackend's namespace.") })
  .describe("A Secret in the ModelBackend's namespace.");

const keyedSecretRef = (defaultKey: string, what: string) =>
  z
    .strictObject({
      name: objectName.describe("Name of a Secret in the ModelBackend's namespace."),
      key: z.string().min(1).max(253).default(defaultKey).describe(`Key holding ${what}.`),
    })
    .describe(`The Secret key holding ${what}.`);

export const AWS_CREDENTIAL_SOURCES = [
  'default',
  'webIdentity',
  'containerCredentials',
  'secret',
] as const;
export const GOOGLE_CREDENTIAL_SOURCES = [
  'default',
  'serviceAccountKey',
  'metadataServer',
] as const;
/**
 * `none`: send requests unauthenticated, for an endpoint that authenticates
 * for the proxy (a signing gateway, an authenticating egress proxy) or a
 * simulator. Not a credential source, so it never reaches the table.
 */
export const NO_CREDENTIALS = 'none' as const;
export const AZURE_ENTRA_CREDENTIAL_SOURCES = ['workloadIdentity', 'clientSecret'] as const;
/** The Entra ID scope of Azure OpenAI (Cognitive Services). */
export const AZURE_OPENAI_SCOPE = 'https://cognitiveservices.azure.com/.default';

const auth = z
  .strictObject({
    aws: z
      .strictObject({
        source: z
          .enum([...AWS_CREDENTIAL_SOURCES, NO_CREDENTIALS])
          .default('default')
          .describe(
            "default: web identity (IRSA, EKS Pod Identity-style AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), then the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI), then AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY in the proxy's environment; " +
              'webIdentity, containerCredentials: only that one; secret: keys accessKeyId, secretAccessKey and optionally sessionToken of secretRef; none: unsigned requests (an endpoint that signs for the proxy, or a simulator).',
          ),
        secretRef: secretNameRef.optional(),
      })
      .optional()
      .describe('AWS credentials for SigV4 (bedrock, anthropic-bedrock).'),
    gcp: z
      .strictObject({
        source: z
          .enum([...GOOGLE_CREDENTIAL_SOURCES, NO_CREDENTIALS])
          .default('default')
          .describe(
            'default: GOOGLE_APPLICATION_CREDENTIALS (a service account key file), else the metadata server (GKE Workload Identity); ' +
              'serviceAccountKey: the service account JSON key in secretRef; metadataServer: only the metadata server; none: no token (an endpoint that authenticates for the proxy, or a simulator).',
          ),
        secretRef: keyedSecretRef('credentials.json', 'a service account JSON key').optional(),
      })
      .optional()
      .describe('Google credentials for OAuth 2 access tokens (vertex-gemini, anthropic-vertex).'),
    azureEntra: z
      .strictObject({
        source: z
          .enum(AZURE_ENTRA_CREDENTIAL_SOURCES)
          .default('workloadIdentity')
          .describe(
            "workloadIdentity: the federated token of Azure Workload Identity (AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_AUTHORITY_HOST); clientSecret: an app registration's secret in secretRef.",
          ),
        tenantId: z
          .string()
          .min(1)
          .max(256)
          .optional()
          .describe('Entra ID tenant; default AZURE_TENANT_ID.'),
        clientId: z
          .string()
          .min(1)
          .max(256)
          .optional()
          .describe('Application (client) id; default AZURE_CLIENT_ID.'),
        secretRef: keyedSecretRef('clientSecret', 'the client secret').optional(),
        scope: z
          .string()
          .min(1)
          .max(512)
          .default(AZURE_OPENAI_SCOPE)
          .describe("Token scope; Azure OpenAI's is https://cognitiveservices.azure.com/.default."),
      })
      .optional()
      .describe('Entra ID (Azure AD) tokens instead of an api-key (azure-openai).'),
  })
  .describe(
    'How the proxy authenticates to the provider, when it is not an API key in secretRef. AWS and Google providers default to their default credential chains.',
  );

/** Headers the proxy owns on upstream requests: a backend's extra headers may not set them. */
export const RESERVED_UPSTREAM_HEADERS = [
  'authorization',
  'api-key',
  'x-api-key',
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
  'te',
  'upgrade',
  'accept',
  'anthropic-version',
  'traceparent',
  'tracestate',
  'x-amz-date',
  'x-amz-security-token',
  'x-amz-content-sha256',
] as const;

const upstreamHeaderName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/, { message: 'must be an HTTP header name' });

const tls = z
  .strictObject({
    caBundle: z
      .strictObject({
        secretRef: keyedSecretRef('ca.crt', 'PEM CA certificates').optional(),
        configMapRef: z
          .strictObject({
            name: objectName.describe("Name of a ConfigMap in the ModelBackend's namespace."),
            key: z
              .string()
              .min(1)
              .max(253)
              .default('ca.crt')
              .describe('Key holding PEM CA certificates.'),
          })
          .optional()
          .describe('A ConfigMap key holding PEM CA certificates.'),
      })
      .optional()
      .describe(
        "CA certificates the backend's server certificate must chain to, instead of the system's. Exactly one of secretRef or configMapRef.",
      ),
    clientCertificate: z
      .strictObject({
        secretRef: secretNameRef.describe(
          'A kubernetes.io/tls Secret: keys tls.crt (PEM certificate chain) and tls.key (PEM private key).',
        ),
      })
      .optional()
      .describe('A client certificate for backends that require mutual TLS.'),
    serverName: z
      .string()
      .min(1)
      .max(253)
      .optional()
      .describe(
        'TLS server name (SNI) and the name the certificate must carry, when not the endpoint host.',
      ),
  })
  .describe('TLS settings of calls to this backend.');

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
        'API dialect: openai, azure-openai, anthropic, openai-compatible (vLLM, TGI, Ollama, ...), bedrock (AWS Bedrock Converse), anthropic-bedrock (Claude on Bedrock, Messages API), vertex-gemini (Gemini on Vertex AI) or anthropic-vertex (Claude on Vertex AI).',
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
      bedrock: bedrock.optional(),
      vertex: vertex.optional(),
      auth: auth.optional(),
      headers: z
        .record(upstreamHeaderName, z.string().max(4096))
        .meta({ maxProperties: 32 })
        .optional()
        .describe(
          'Extra headers sent on every call to the backend, e.g. OpenAI-Project. Not for credentials (use secretRef or auth) and not the headers the proxy sets itself.',
        ),
      tls: tls.optional(),
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
      rule: "!(self.provider in ['bedrock', 'anthropic-bedrock']) || has(self.bedrock)",
      message: 'spec.bedrock.region is required when spec.provider is bedrock or anthropic-bedrock',
      holds: (s) => !AWS_PROVIDERS.includes(s.provider) || s.bedrock !== undefined,
    },
    {
      rule: "!(self.provider in ['vertex-gemini', 'anthropic-vertex']) || has(self.vertex)",
      message:
        'spec.vertex (project, location) is required when spec.provider is vertex-gemini or anthropic-vertex',
      holds: (s) => !GOOGLE_PROVIDERS.includes(s.provider) || s.vertex !== undefined,
    },
    {
      rule: "!has(self.auth) || !has(self.auth.aws) || self.provider in ['bedrock', 'anthropic-bedrock']",
      message: 'spec.auth.aws is for providers bedrock and anthropic-bedrock only',
      fieldPath: '.auth',
      holds: (s) => s.auth?.aws === undefined || AWS_PROVIDERS.includes(s.provider),
    },
    {
      rule: "!has(self.auth) || !has(self.auth.gcp) || self.provider in ['vertex-gemini', 'anthropic-vertex']",
      message: 'spec.auth.gcp is for providers vertex-gemini and anthropic-vertex only',
      fieldPath: '.auth',
      holds: (s) => s.auth?.gcp === undefined || GOOGLE_PROVIDERS.includes(s.provider),
    },
    {
      rule: "!has(self.auth) || !has(self.auth.azureEntra) || self.provider == 'azure-openai'",
      message: 'spec.auth.azureEntra is for provider azure-openai only',
      fieldPath: '.auth',
      holds: (s) => s.auth?.azureEntra === undefined || s.provider === 'azure-openai',
    },
    {
      rule: "!has(self.auth) || !has(self.auth.aws) || !has(self.auth.aws.source) || self.auth.aws.source != 'secret' || has(self.auth.aws.secretRef)",
      message: 'spec.auth.aws.secretRef is required when spec.auth.aws.source is secret',
      fieldPath: '.auth.aws',
      holds: (s) => s.auth?.aws?.source !== 'secret' || s.auth.aws.secretRef !== undefined,
    },
    {
      rule: "!has(self.auth) || !has(self.auth.gcp) || !has(self.auth.gcp.source) || self.auth.gcp.source != 'serviceAccountKey' || has(self.auth.gcp.secretRef)",
      message: 'spec.auth.gcp.secretRef is required when spec.auth.gcp.source is serviceAccountKey',
      fieldPath: '.auth.gcp',
      holds: (s) =>
        s.auth?.gcp?.source !== 'serviceAccountKey' || s.auth.gcp.secretRef !== undefined,
    },
    {
      rule: "!has(self.auth) || !has(self.auth.azureEntra) || !has(self.auth.azureEntra.source) || self.auth.azureEntra.source != 'clientSecret' || (has(self.auth.azureEntra.secretRef) && has(self.auth.azureEntra.tenantId) && has(self.auth.azureEntra.clientId))",
      message:
        'spec.auth.azureEntra with source clientSecret needs secretRef, tenantId and clientId',
      fieldPath: '.auth.azureEntra',
      holds: (s) =>
        s.auth?.azureEntra?.source !== 'clientSecret' ||
        (s.auth.azureEntra.secretRef !== undefined &&
          s.auth.azureEntra.tenantId !== undefined &&
          s.auth.azureEntra.clientId !== undefined),
    },
    {
      rule: '!has(self.auth) || !has(self.secretRef) || !(has(self.auth.aws) || has(self.auth.gcp) || has(self.auth.azureEntra))',
      message: 'set either spec.secretRef (an API key) or spec.auth (cloud credentials), not both',
      holds: (s) =>
        s.secretRef === undefined ||
        (s.auth?.aws === undefined &&
          s.auth?.gcp === undefined &&
          s.auth?.azureEntra === undefined),
    },
    {
      rule: `!has(self.headers) || self.headers.all(h, !(h.lowerAscii() in [${RESERVED_UPSTREAM_HEADERS.map(celString).join(', ')}]))`,
      message:
        'spec.headers may not set a header the proxy owns (authorization, api-key, x-api-key, host, content-*, accept, anthropic-version, trace context, x-amz-*): credentials go in secretRef or auth',
      fieldPath: '.headers',
      holds: (s) =>
        s.headers === undefined ||
        Object.keys(s.headers).every(
          (h) => !(RESERVED_UPSTREAM_HEADERS as readonly string[]).includes(h.toLowerCase()),
        ),
    },
    {
      rule: '!has(self.tls) || !has(self.tls.caBundle) || (has(self.tls.caBundle.secretRef) != has(self.tls.caBundle.configMapRef))',
      message: 'spec.tls.caBundle needs exactly one of secretRef or configMapRef',
      fieldPath: '.tls.caBundle',
      holds: (s) =>
        s.tls?.caBundle === undefined ||
        (s.tls.caBundle.secretRef === undefined) !== (s.tls.caBundle.configMapRef === undefined),
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
