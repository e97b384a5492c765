// Flags and environment shared by the long-running commands (proxy, dev),
// validated with zod so a bad value stops the start with a clear message.
import type { parseArgs } from 'node:util';
import { z } from 'zod';
import { DURATION_PATTERN, durationToMs, objectName } from '../api/v1alpha1/index.js';
import {
  IDENTITY_MODES,
  sidecarHostProblem,
  type ProxyIdentity,
} from '../identity/authenticate.js';
import { DEFAULT_TOKEN_AUDIENCE } from '../identity/token-review.js';
import { WORKLOAD_ENV, parseWorkload } from '../identity/workload.js';
import { QUOTA_STORE_ENV, quotaStoreUrlProblem } from '../quota/redis-store-url.js';

const port = (flag: string) =>
  z.coerce
    .number()
    .int()
    .min(0, { message: `${flag} must be a port number 0-65535` })
    .max(65535, { message: `${flag} must be a port number 0-65535` });
/** A duration flag, bounded well inside what a timer can hold (2^31-1 ms). */
const duration = (flag: string, max: string) =>
  z
    .string()
    .regex(DURATION_PATTERN, { message: `${flag} must be a duration such as "10s"` })
    .transform(durationToMs)
    .refine((ms) => ms <= durationToMs(max), { message: `${flag} must be at most ${max}` });

export const serverSettings = z.object({
  host: z.string().min(1),
  port: port('--port'),
  adminHost: z.string().min(1),
  adminPort: port('--admin-port'),
  adminTokenFile: z.string().min(1).optional(),
  adminToken: z
    .string()
    .min(16, { message: 'MODELROUTE_ADMIN_TOKEN must be at least 16 characters' })
    .optional(),
  tableFile: z.string().min(1).optional(),
  credentialsDir: z.string().min(1).optional(),
  difficultyModelFile: z.string().min(1).optional(),
  maxBodyBytes: z.coerce
    .number()
    .int()
    .min(1024, { message: '--max-body-bytes must be at least 1024' }),
  headersTimeoutMs: duration('--headers-timeout', '1h'),
  requestTimeoutMs: duration('--request-timeout', '24h'),
  clientStallTimeoutMs: duration('--client-stall-timeout', '1h').refine((ms) => ms > 0, {
    message: '--client-stall-timeout must be more than 0',
  }),
  drainMs: duration('--drain-timeout', '1h'),
  otlpEndpoint: z
    .url({ message: '--otlp-endpoint must be a URL such as http://otel-collector:4318' })
    .optional(),
  /** Absent: the command's default (proxy: 1 as a gateway, else 0; dev: 1). */
  accessLogSampleRate: z.coerce
    .number({ message: '--access-log-sample-rate must be a number from 0 to 1, such as 0.1' })
    .min(0, { message: '--access-log-sample-rate must be from 0 (off) to 1 (every request)' })
    .max(1, { message: '--access-log-sample-rate must be from 0 (off) to 1 (every request)' })
    .optional(),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']),
});
export type ServerSettings = z.infer<typeof serverSettings>;

export const SERVER_FLAG_HELP = `  --host ADDR              data port address (env MODELROUTE_HOST; default 127.0.0.1)
  --port N                 data port, OpenAI-compatible API (env MODELROUTE_PORT; default 8080)
  --admin-host ADDR        admin port address (env MODELROUTE_ADMIN_HOST)
  --admin-port N           admin port (env MODELROUTE_ADMIN_PORT; default 9901)
  --admin-token-file F     file holding the admin bearer token (env MODELROUTE_ADMIN_TOKEN_FILE,
                           or the token itself in MODELROUTE_ADMIN_TOKEN)
  --table-file F           where the last good routing table is kept (env MODELROUTE_TABLE_FILE)
  --credentials-dir D      Secret volume with <secret>/<key> files (env MODELROUTE_CREDENTIALS_DIR);
                           keys may also come from env MODELROUTE_SECRET_<SECRET>_<KEY>
  --difficulty-model F     difficulty model file (\`modelroute router train\`) instead of the shipped
                           one (env MODELROUTE_DIFFICULTY_MODEL); a refused file stops the start;
                           the file is watched, and a changed file that is refused keeps the current model
  --max-body-bytes N       largest request body accepted (default 8388608)
  --headers-timeout D      time a client may take to send headers (default 10s)
  --request-timeout D      time a client may take to send a whole request (default 60s)
  --client-stall-timeout D a streaming client that takes no bytes this long is cut off
                           (default 30s; the backend is not blamed)
  --drain-timeout D        proxy: on SIGTERM, time requests in flight get to finish while new
                           connections are refused (env MODELROUTE_DRAIN_TIMEOUT; default 25s)
  --otlp-endpoint URL      export traces as OTLP/HTTP JSON to URL/v1/traces; without it the standard
                           OTEL_* variables configure OpenTelemetry (OTEL_EXPORTER_OTLP_ENDPOINT,
                           OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER, ...); with neither it is not loaded
  --access-log-sample-rate R  share of requests written to the JSON access log, 0..1 (env
                           MODELROUTE_ACCESS_LOG_SAMPLE_RATE; default 1 for dev and a gateway, 0 for
                           a sidecar or a local proxy)
  --log-level L            debug|info|warn|error (env MODELROUTE_LOG_LEVEL; default info)`;

export const SERVER_FLAG_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  'admin-host': { type: 'string' },
  'admin-port': { type: 'string' },
  'admin-token-file': { type: 'string' },
  'table-file': { type: 'string' },
  'credentials-dir': { type: 'string' },
  'difficulty-model': { type: 'string' },
  'max-body-bytes': { type: 'string' },
  'headers-timeout': { type: 'string' },
  'request-timeout': { type: 'string' },
  'client-stall-timeout': { type: 'string' },
  'drain-timeout': { type: 'string' },
  'otlp-endpoint': { type: 'string' },
  'access-log-sample-rate': { type: 'string' },
  'log-level': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<
  typeof parseArgs<{ options: typeof SERVER_FLAG_OPTIONS; strict: true }>
>['values'];

/** Combines flags, environment and defaults; returns the settings or a message naming what is wrong. */
export function resolveServerSettings(
  values: Partial<Values> & Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  defaults: { port: string; adminPort: string; adminHost: string },
): { ok: true; settings: ServerSettings } | { ok: false; message: string } {
  const parsed = serverSettings.safeParse({
    host: values.host ?? env.MODELROUTE_HOST ?? '127.0.0.1',
    port: values.port ?? env.MODELROUTE_PORT ?? defaults.port,
    adminHost: values['admin-host'] ?? env.MODELROUTE_ADMIN_HOST ?? defaults.adminHost,
    adminPort: values['admin-port'] ?? env.MODELROUTE_ADMIN_PORT ?? defaults.adminPort,
    adminTokenFile: values['admin-token-file'] ?? env.MODELROUTE_ADMIN_TOKEN_FILE,
    adminToken: env.MODELROUTE_ADMIN_TOKEN || undefined,
    tableFile: values['table-file'] ?? env.MODELROUTE_TABLE_FILE,
    credentialsDir: values['credentials-dir'] ?? env.MODELROUTE_CREDENTIALS_DIR,
    difficultyModelFile: values['difficulty-model'] ?? env.MODELROUTE_DIFFICULTY_MODEL,
    maxBodyBytes: values['max-body-bytes'] ?? '8388608',
    headersTimeoutMs: values['headers-timeout'] ?? '10s',
    requestTimeoutMs: values['request-timeout'] ?? '60s',
    clientStallTimeoutMs: values['client-stall-timeout'] ?? '30s',
    // Inside a pod's default 30 s grace period, with room for the exit itself.
    drainMs: values['drain-timeout'] ?? env.MODELROUTE_DRAIN_TIMEOUT ?? '25s',
    // OTEL_* variables are the OpenTelemetry SDK's to read (tracing.ts): the flag only.
    otlpEndpoint: values['otlp-endpoint'],
    accessLogSampleRate:
      values['access-log-sample-rate'] ?? (env.MODELROUTE_ACCESS_LOG_SAMPLE_RATE || undefined),
    logLevel: values['log-level'] ?? env.MODELROUTE_LOG_LEVEL ?? 'info',
  });
  if (!parsed.success)
    return { ok: false, message: parsed.error.issues.map((i) => i.message).join('\n') };
  return { ok: true, settings: parsed.data };
}

// Who callers are. `--tenant` is shared by `proxy` and `dev`; the others are the proxy's.
export const TENANT_FLAG_HELP = `  --tenant NAME            local mode: call as this tenant (env MODELROUTE_TENANT); a bearer
                           virtual key (mr-...) listed in the table calls as its own tenant instead`;

export const IDENTITY_FLAG_HELP = `  --identity MODE          who callers are (env MODELROUTE_IDENTITY; default local):
                             local   whoever started the proxy (--tenant), or a virtual key in the table
                             sidecar the pod (MODELROUTE_WORKLOAD, set by the sidecar injector); needs a
                                     loopback --host
                             gateway Authorization: Bearer with a virtual key or a ServiceAccount token
${TENANT_FLAG_HELP}
  --token-audience A       gateway: audience ServiceAccount tokens must carry (env
                           MODELROUTE_TOKEN_AUDIENCE; default ${DEFAULT_TOKEN_AUDIENCE})
  --token-cache-ttl D      gateway: how long a verified token is trusted before it is reviewed again
                           (env MODELROUTE_TOKEN_CACHE_TTL; default 60s, at most 10m; never past its exp)`;

export const TENANT_FLAG_OPTIONS = { tenant: { type: 'string' } } as const;
export const IDENTITY_FLAG_OPTIONS = {
  ...TENANT_FLAG_OPTIONS,
  identity: { type: 'string' },
  'token-audience': { type: 'string' },
  'token-cache-ttl': { type: 'string' },
} as const;

const identitySettings = z
  .object({
    identity: z.enum(IDENTITY_MODES, {
      message: `--identity must be one of ${IDENTITY_MODES.join(', ')}`,
    }),
    tenant: z
      .string()
      .refine((t) => objectName.safeParse(t).success, {
        message:
          '--tenant must be a ModelTenant name: lower-case letters, digits, "-" and ".", such as acme-premium',
      })
      .optional(),
    tokenAudience: z.string().min(1, { message: '--token-audience must not be empty' }),
    tokenCacheTtlMs: duration('--token-cache-ttl', '10m'),
    host: z.string(),
    workload: z.string().optional(),
    pod: z.string().optional(),
  })
  .superRefine((s, ctx) => {
    const problem = (message: string) => ctx.addIssue({ code: 'custom', message });
    if (s.tenant !== undefined && s.identity !== 'local')
      problem(
        `--tenant names the caller in local mode only; with --identity ${s.identity} the caller is ${s.identity === 'sidecar' ? 'the pod, resolved by the ModelTenants of its namespace' : 'whoever the Bearer key or ServiceAccount token proves'}`,
      );
    if (s.identity === 'sidecar') {
      const hostProblem = sidecarHostProblem(s.host);
      if (hostProblem) problem(hostProblem);
      if (s.workload === undefined || s.workload === '')
        problem(
          `--identity sidecar needs ${WORKLOAD_ENV} (the pod's namespace, ServiceAccount and labels); the sidecar injector sets it: run the proxy as an injected sidecar, or use --identity local`,
        );
    }
  });

/** The identity a proxy (or `dev`, local only) starts with, or a message naming what is wrong. */
export function resolveIdentitySettings(
  values: {
    identity?: string | undefined;
    tenant?: string | undefined;
    'token-audience'?: string | undefined;
    'token-cache-ttl'?: string | undefined;
  },
  env: NodeJS.ProcessEnv,
  host: string,
): { ok: true; identity: ProxyIdentity } | { ok: false; message: string } {
  const parsed = identitySettings.safeParse({
    identity: values.identity ?? (env.MODELROUTE_IDENTITY || 'local'),
    tenant: values.tenant ?? (env.MODELROUTE_TENANT || undefined),
    tokenAudience:
      values['token-audience'] ?? (env.MODELROUTE_TOKEN_AUDIENCE || DEFAULT_TOKEN_AUDIENCE),
    tokenCacheTtlMs: values['token-cache-ttl'] ?? (env.MODELROUTE_TOKEN_CACHE_TTL || '60s'),
    host,
    workload: env[WORKLOAD_ENV],
    pod: env.POD_NAME,
  });
  if (!parsed.success)
    return { ok: false, message: parsed.error.issues.map((i) => i.message).join('\n') };
  const s = parsed.data;
  switch (s.identity) {
    case 'local':
      return { ok: true, identity: { mode: 'local', tenant: s.tenant } };
    case 'gateway':
      return {
        ok: true,
        identity: {
          mode: 'gateway',
          audience: s.tokenAudience,
          tokenCacheTtlMs: s.tokenCacheTtlMs,
        },
      };
    case 'sidecar':
      try {
        return {
          ok: true,
          identity: {
            mode: 'sidecar',
            workload: parseWorkload(s.workload ?? '', s.pod || undefined),
          },
        };
      } catch (err) {
        return { ok: false, message: (err as Error).message };
      }
  }
}

// Exact-mode limits (issue 14): the shared store the proxy counts them in.
export const QUOTA_STORE_FLAG_HELP = `  --quota-store URL        Redis or Valkey for limits with enforcement: exact, redis://[user:password@]host:port[/db]
                           or rediss:// for TLS (env ${QUOTA_STORE_ENV}); without it exact limits are enforced
                           as fleet shares`;
export const QUOTA_STORE_FLAG_OPTIONS = { 'quota-store': { type: 'string' } } as const;

const quotaStoreUrl = z
  .string()
  .superRefine((url, ctx) => {
    const problem = quotaStoreUrlProblem(url);
    if (problem)
      ctx.addIssue({
        code: 'custom',
        message: `--quota-store (or ${QUOTA_STORE_ENV}): ${problem}`,
      });
  })
  .optional();

/** The exact-mode store URL from the flag or the environment, undefined when neither is set, or a message naming what is wrong. */
export function resolveQuotaStoreUrl(
  values: { 'quota-store'?: string | undefined },
  env: NodeJS.ProcessEnv,
): { ok: true; url: string | undefined } | { ok: false; message: string } {
  const parsed = quotaStoreUrl.safeParse(
    values['quota-store'] ?? (env[QUOTA_STORE_ENV] || undefined),
  );
  if (!parsed.success)
    return { ok: false, message: parsed.error.issues.map((i) => i.message).join('\n') };
  return { ok: true, url: parsed.data };
}
