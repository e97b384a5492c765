// The RoutingTable: the versioned contract between control plane and data
// plane. It is plain JSON, knows nothing of Kubernetes, and is validated with
// zod wherever it crosses a process boundary (pushed tables, files on disk).
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { projectOntoSchema, type JsonSchema } from './schema-projection.js';
import { difficultyModelFileV2 } from './difficulty/learned/model.js';
import {
  BUDGET_ACTIONS,
  LIMIT_ENFORCEMENTS,
  MAX_TIMER_MS,
  STORE_UNAVAILABLE_ACTIONS,
  AWS_CREDENTIAL_SOURCES,
  AZURE_ENTRA_CREDENTIAL_SOURCES,
  GOOGLE_CREDENTIAL_SOURCES,
  PROVIDERS,
  RETRY_ON,
  STRATEGIES,
  healthState,
  labelSelector,
  priorityClass,
  routeMatch,
  trustableHeader,
} from '../api/v1alpha1/index.js';

/**
 * The format the controller writes. Format 1 is the closed schema 0.1.0 reads
 * strictly (any key it does not know fails the whole push); format 2 has the
 * same fields but an open contract: readers ignore keys they do not know, so
 * a field whose absence an older proxy can live with is added without a new
 * format. Bump only for a change a reader that ignores it would misread (a
 * field that narrows which requests a rule takes, say). docs/version-skew.md.
 */
export const TABLE_FORMAT_VERSION = 2;

/** Formats this proxy reads: 1 too, so a persisted table or a 0.1.0 controller still loads. */
export const READABLE_TABLE_FORMATS = [1, 2] as const;
export type TableFormat = (typeof READABLE_TABLE_FORMATS)[number];

const nonNegative = z.number().min(0);
const positiveInt = z.int().min(1);
/** A delay a timer can hold: a pushed table with a longer one is refused, not armed. */
const timerMs = z
  .int()
  .min(0)
  .max(MAX_TIMER_MS, {
    message: `must be at most ${MAX_TIMER_MS} ms (what a timer can hold)`,
  });
const positiveTimerMs = timerMs.min(1);

/** Fleet-wide rpm/tpm/concurrency, and how they are enforced (absent: fleet shares). */
const compiledLimits = z.strictObject({
  rpm: positiveInt.optional(),
  tpm: positiveInt.optional(),
  maxConcurrency: positiveInt.optional(),
  enforcement: z.enum(LIMIT_ENFORCEMENTS).optional(),
  onStoreUnavailable: z.enum(STORE_UNAVAILABLE_ACTIONS).optional(),
});

/** A day/month spend budget; the controller counts spend and tells proxies its state. */
const compiledSpendBudget = z.strictObject({
  dailyUSD: nonNegative.optional(),
  monthlyUSD: nonNegative.optional(),
  onExceeded: z.enum(BUDGET_ACTIONS).optional(),
});

const compiledSecretKey = z.strictObject({ secretName: z.string(), key: z.string() });

/**
 * How a proxy gets a backend's credential when it is not an API key
 * (issue 18). Only where secrets live, never a secret. Sources are in
 * providers/auth/.
 */
export const compiledAuth = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('aws'),
    source: z.enum(AWS_CREDENTIAL_SOURCES),
    /** source secret: the Secret with keys accessKeyId, secretAccessKey, sessionToken (optional). */
    secretName: z.string().optional(),
  }),
  z.strictObject({
    type: z.literal('gcp'),
    source: z.enum(GOOGLE_CREDENTIAL_SOURCES),
    /** source serviceAccountKey: the service account JSON key. */
    secret: compiledSecretKey.optional(),
  }),
  z.strictObject({
    type: z.literal('azure-entra'),
    source: z.enum(AZURE_ENTRA_CREDENTIAL_SOURCES),
    tenantId: z.string().optional(),
    clientId: z.string().optional(),
    /** source clientSecret: the app registration's secret. */
    secret: compiledSecretKey.optional(),
    scope: z.string().min(1),
  }),
]);
export type CompiledAuth = z.infer<typeof compiledAuth>;

/** Egress settings of calls to a backend (issue 18); absent: system CAs, no extra headers. */
export const compiledTls = z.strictObject({
  /** PEM CA certificates the server must chain to, instead of the system's. */
  caBundle: z
    .strictObject({ kind: z.enum(['Secret', 'ConfigMap']), name: z.string(), key: z.string() })
    .optional(),
  /** A kubernetes.io/tls Secret (tls.crt, tls.key) presented for mutual TLS. */
  clientCertificate: z.strictObject({ secretName: z.string() }).optional(),
  serverName: z.string().optional(),
});
export type CompiledTls = z.infer<typeof compiledTls>;

export const compiledBackend = z.strictObject({
  /** `<namespace>/<name>` of the ModelBackend. */
  id: z.string().min(1),
  namespace: z.string().min(1),
  name: z.string().min(1),
  provider: z.enum(PROVIDERS),
  /** Base URL of the API (endpoint, or the Service's cluster DNS name). */
  baseUrl: z.string().min(1),
  model: z.string().min(1),
  azure: z.strictObject({ deployment: z.string(), apiVersion: z.string() }).optional(),
  anthropic: z.strictObject({ version: z.string() }).optional(),
  bedrock: z.strictObject({ region: z.string() }).optional(),
  vertex: z.strictObject({ project: z.string(), location: z.string() }).optional(),
  /** Cloud credentials (SigV4, Google or Entra ID tokens); absent: the API key of `credentials`, if any. */
  auth: compiledAuth.optional(),
  /** Extra headers on every upstream call (never credentials; reserved names refused at admission). */
  headers: z.record(z.string(), z.string()).optional(),
  tls: compiledTls.optional(),
  /** Where the API key lives; never the key itself. */
  credentials: z.strictObject({ secretName: z.string(), key: z.string() }).optional(),
  pricing: z.strictObject({
    inputPerMillion: nonNegative,
    outputPerMillion: nonNegative,
    cachedInputPerMillion: nonNegative,
    /** Absent in tables compiled before cache writes were priced: inputPerMillion. */
    cacheWriteInputPerMillion: nonNegative.optional(),
  }),
  contextWindow: positiveInt.optional(),
  maxOutputTokens: positiveInt.optional(),
  /** Fleet-wide limits (issue 14): each proxy enforces its share (quota assignment) or the shared store. */
  limits: compiledLimits.extend({
    priorityCeilings: z
      .strictObject({ low: z.number().min(0).max(1), normal: z.number().min(0).max(1) })
      .optional(),
    latencyObjectiveMs: positiveInt.optional(),
  }),
  capabilities: z.array(z.string()),
  quality: z.number().min(0).max(1).optional(),
  compliance: z.array(z.string()),
  timeouts: z.strictObject({
    connectMs: positiveTimerMs,
    firstTokenMs: positiveTimerMs,
    totalMs: positiveTimerMs,
  }),
  health: healthState,
});
export type CompiledBackend = z.infer<typeof compiledBackend>;

/**
 * A rule's learning settings and, once the controller has promoted one, the
 * rule's own difficulty model (a format-2 model file, checked again by the
 * proxy on load). Absent `model`: the proxy's own model (the shipped prior).
 */
export const compiledLearning = z.strictObject({
  /** Share of the rule's requests shadow-judged (0: feedback only). */
  sampleRate: z.number().min(0).max(1),
  /** `<namespace>/<name>` of the judge backend; in `backends` like any other. */
  judgeBackendId: z.string().min(1).optional(),
  /** Shadow and judge spend a proxy may make for this rule per UTC day. */
  maxShadowCostPerDayUsd: nonNegative,
  /** How long after a response its feedback is accepted. */
  feedbackWindowMs: positiveTimerMs,
  /** The rule's promoted model: its version (1, 2, …) and file. Absent: the prior. */
  model: z
    .strictObject({
      version: z.int().min(1),
      /** A difficulty model file, format 2 (its feature set and checksum are checked where it is loaded). */
      file: difficultyModelFileV2,
    })
    .optional(),
});
export type CompiledLearning = z.infer<typeof compiledLearning>;

export const compiledRule = z.strictObject({
  name: z.string().min(1),
  /** Any match selects the rule; an empty list matches every request. */
  matches: z.array(routeMatch),
  strategy: z.enum(STRATEGIES),
  backends: z.array(
    z.strictObject({
      backendId: z.string().min(1),
      weight: z.int().min(0),
      priority: z.int().min(0),
    }),
  ),
  /**
   * cost-quality only: difficulty at or above which the strongest backend
   * leads. With `strongShare`, the fleet's threshold for that share (the
   * controller's live one, or at first compile the model calibration's prior);
   * each proxy calibrates its own from it.
   */
  threshold: z.number().min(0).max(1).optional(),
  /** cost-quality with spec strongShare: the target share of requests to the strong tier. */
  strongShare: z.number().min(0).max(1).optional(),
  /** cost-quality with spec learning (issue 17); older proxies ignore it (an open format-2 key). */
  learning: compiledLearning.optional(),
});
export type CompiledRule = z.infer<typeof compiledRule>;

/** The key of a rule's live strongShare calibration: in proxies, stats and the controller. */
export function ruleKey(routeId: string, ruleName: string): string {
  return `${routeId}#${ruleName}`;
}

export const compiledRoute = z.strictObject({
  /** `<namespace>/<name>` of the ModelRoute. */
  id: z.string().min(1),
  namespace: z.string().min(1),
  name: z.string().min(1),
  model: z.string().min(1),
  aliases: z.array(z.string()),
  rules: z.array(compiledRule),
  fallback: z.strictObject({
    backendIds: z.array(z.string()),
    /** Route that takes over when this one's backends are exhausted. */
    routeId: z.string().optional(),
  }),
  retries: z.strictObject({
    attempts: z.int().min(0),
    backoffMs: timerMs,
    maxBackoffMs: timerMs,
    retryOn: z.array(z.enum(RETRY_ON)),
  }),
  timeouts: z.strictObject({
    connectMs: positiveTimerMs.optional(),
    firstTokenMs: positiveTimerMs.optional(),
    totalMs: positiveTimerMs.optional(),
  }),
  budget: compiledSpendBudget.extend({ maxCostPerRequestUsd: nonNegative.optional() }),
});
export type CompiledRoute = z.infer<typeof compiledRoute>;

/** A ModelTenant of the proxy's namespace, as proxies resolve callers to it. */
export const compiledTenant = z.strictObject({
  /** `<namespace>/<name>` of the ModelTenant. */
  id: z.string().min(1),
  namespace: z.string().min(1),
  name: z.string().min(1),
  priority: priorityClass,
  identities: z.strictObject({
    serviceAccounts: z.array(
      z.strictObject({ namespace: z.string().min(1), name: z.string().min(1) }),
    ),
    namespaces: z.array(z.string().min(1)),
    workloads: labelSelector.optional(),
  }),
  /** Route ids (`<namespace>/<name>`) the tenant may use; absent: all. */
  routeIds: z.array(z.string().min(1)).optional(),
  /** Client model names the tenant may request; absent: all. */
  models: z.array(z.string().min(1)).optional(),
  compliance: z.array(z.string()),
  capabilities: z.array(z.string()),
  task: z.string().optional(),
  trustedHeaders: z.array(trustableHeader),
  limits: compiledLimits,
  budget: compiledSpendBudget.optional(),
});
export type CompiledTenant = z.infer<typeof compiledTenant>;

/** A virtual API key that is valid (revoked keys are left out of the table). */
export const compiledApiKey = z.strictObject({
  /** `<namespace>/<name>` of the ModelAPIKey. */
  id: z.string().min(1),
  /** `sha256:<hex>` of the key. */
  hash: z.string().regex(/^sha256:[0-9a-f]{64}$/),
  /** Id of the ModelTenant it calls as. */
  tenantId: z.string().min(1),
  /** Epoch ms after which the key is refused; absent: never. */
  expiresAtMs: z.int().min(0).optional(),
});
export type CompiledApiKey = z.infer<typeof compiledApiKey>;

export const UNMATCHED_CALLERS = ['deny', 'default-tenant'] as const;

/** How the proxy treats callers: who they are is decided here, not by request headers. */
export const identityPolicy = z.strictObject({
  /**
   * A verified caller no ModelTenant covers: refused (403), or served as the
   * tenant named `default` (the namespace's ModelTenant of that name if there
   * is one, else priority normal, every route, no trusted headers).
   */
  unmatched: z.enum(UNMATCHED_CALLERS),
});
export type IdentityPolicy = z.infer<typeof identityPolicy>;

export const routingTable = z
  .strictObject({
    /** Format 1's fields are format 2's: a format 1 table reads as one of format 2. */
    formatVersion: z.literal(READABLE_TABLE_FORMATS),
    /** Content hash of everything else in the table. */
    version: z.string().regex(/^sha256:[0-9a-f]{20}$/),
    routes: z.array(compiledRoute),
    backends: z.array(compiledBackend),
    /** ModelTenants of the proxy's namespace; absent (an older controller): no tenants. */
    tenants: z.array(compiledTenant).optional(),
    /** Valid virtual API keys of the proxy's namespace. */
    apiKeys: z.array(compiledApiKey).optional(),
    /** Absent: callers resolve to the default tenant (as with `unmatched: default-tenant`). */
    identity: identityPolicy.optional(),
  })
  .superRefine((table, ctx) => {
    const backendIds = new Set(table.backends.map((b) => b.id));
    const routeIds = new Set(table.routes.map((r) => r.id));
    // A proxy finds a route by the request's model name alone: each name once.
    const servedBy = new Map<string, string>();
    table.routes.forEach((route, i) => {
      [route.model, ...route.aliases].forEach((name, k) => {
        const owner = servedBy.get(name);
        if (owner !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: k === 0 ? ['routes', i, 'model'] : ['routes', i, 'aliases', k - 1],
            message: `model name "${name}" is served by both route ${owner} and route ${route.id}; a table may hold each model name once`,
          });
        } else servedBy.set(name, route.id);
      });
    });
    table.routes.forEach((route, i) => {
      route.rules.forEach((rule, j) =>
        rule.backends.forEach((ref, k) => {
          if (!backendIds.has(ref.backendId)) {
            ctx.addIssue({
              code: 'custom',
              path: ['routes', i, 'rules', j, 'backends', k, 'backendId'],
              message: `route ${route.id} rule ${rule.name} refers to backend ${ref.backendId}, which the table does not contain`,
            });
          }
        }),
      );
      route.fallback.backendIds.forEach((id, k) => {
        if (!backendIds.has(id)) {
          ctx.addIssue({
            code: 'custom',
            path: ['routes', i, 'fallback', 'backendIds', k],
            message: `route ${route.id} falls back to backend ${id}, which the table does not contain`,
          });
        }
      });
      if (route.fallback.routeId !== undefined && !routeIds.has(route.fallback.routeId)) {
        ctx.addIssue({
          code: 'custom',
          path: ['routes', i, 'fallback', 'routeId'],
          message: `route ${route.id} falls back to route ${route.fallback.routeId}, which the table does not contain`,
        });
      }
    });
  });
export type RoutingTable = z.infer<typeof routingTable>;

/** JSON with object keys sorted, so equal content always hashes equal. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) sorted[k] = (v as Record<string, unknown>)[k];
      return sorted;
    }
    return v;
  });
}

export function tableContentVersion(content: object): string {
  const digest = createHash('sha256').update(canonicalJson(content)).digest('hex');
  return `sha256:${digest.slice(0, 20)}`;
}

export type TableParseResult =
  | {
      ok: true;
      table: RoutingTable;
      /** The table as received, keys this proxy does not know included: what its version hashes. */
      received: Record<string, unknown>;
    }
  | { ok: false; error: string };

/** The table's shape as JSON Schema, to find keys this proxy does not know (built on first use). */
let readableShape: JsonSchema | undefined;
function tableShape(): JsonSchema {
  readableShape ??= z.toJSONSchema(routingTable, {
    io: 'input',
    unrepresentable: 'any',
  }) as JsonSchema;
  return readableShape;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const SKEW_ADVICE =
  'a controller may be at most one minor version ahead of its proxies (docs/version-skew.md): upgrade the proxy';

/**
 * Validates an untrusted table (pushed over the admin API or read from disk).
 * Tolerant: keys this proxy does not know are ignored at every level, since a
 * newer controller may add fields (format 2's contract). Refused, with the
 * field named: a format it does not read, a field it knows holding a value it
 * cannot read (a strategy it has never heard of), internal references that do
 * not resolve, and a version that is not the hash of the content as sent.
 */
export function parseRoutingTable(input: unknown): TableParseResult {
  if (
    isRecord(input) &&
    'formatVersion' in input &&
    !(READABLE_TABLE_FORMATS as readonly unknown[]).includes(input.formatVersion)
  ) {
    return {
      ok: false,
      error: `routing table format ${JSON.stringify(input.formatVersion)} is not supported by this proxy (it reads formats ${READABLE_TABLE_FORMATS.join(', ')}); ${SKEW_ADVICE}`,
    };
  }
  const known = isRecord(input)
    ? projectOntoSchema(input, tableShape(), { validate: false })
    : undefined;
  const parsed = routingTable.safeParse(known?.ok ? known.value : input);
  if (!parsed.success || !isRecord(input)) {
    const issues = (parsed.error?.issues ?? [])
      .slice(0, 10)
      .map((i) => `${i.path.join('.') || '(table)'}: ${i.message}`)
      .join('; ');
    const newer =
      isRecord(input) && input.formatVersion === TABLE_FORMAT_VERSION
        ? ` (if the controller is newer than this proxy, ${SKEW_ADVICE})`
        : '';
    return { ok: false, error: `invalid routing table: ${issues}${newer}` };
  }
  // The writer hashed what it sent, keys unknown here included.
  const { version, ...content } = input;
  const expected = tableContentVersion(content);
  if (parsed.data.version !== expected) {
    return {
      ok: false,
      error: `routing table version ${String(version)} does not match its content (expected ${expected})`,
    };
  }
  return { ok: true, table: parsed.data, received: input };
}
