// `modelroute controller`: the control plane (leader-elected; run 2 replicas).
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DURATION_PATTERN, durationToMs } from '../api/v1alpha1/index.js';
import {
  ensureAdminTokenSecret,
  MIN_ADMIN_TOKEN_LENGTH,
} from '../controller/admin-token-secret.js';
import { startController } from '../controller/controller.js';
import { createKubeClient } from '../k8s/kube-client.js';
import { UNMATCHED_CALLERS } from '../routing/table.js';
import {
  DEFAULT_SIDECAR_CONFIG,
  RESOURCE_QUANTITY,
  SIDECAR_MODES,
  type QuotaStoreSource,
} from '../webhook/sidecar-patch.js';
import { quotaStoreUrlProblem } from '../quota/redis-store-url.js';
import { sidecarOtelEnvFrom, type SidecarTelemetry } from '../webhook/sidecar-telemetry.js';
import { createLogger } from '../telemetry/logger.js';
import { createTracing, type Tracing } from '../telemetry/tracing.js';
import { shutdownSignal } from './shutdown.js';
import type { CommandIO } from './validate.js';

/** As startController's own client calls itself. */
const USER_AGENT = 'modelroute-controller';

export const CONTROLLER_USAGE = `usage: modelroute controller [options]

Watches ModelRoute, ModelBackend, proxy Pods and Services; the elected leader
pushes routing tables to proxies, probes backends and writes status.

  --kubeconfig F           kubeconfig to use (default: KUBECONFIG, ~/.kube/config or in-cluster)
  --admin-token-file F     the proxies' admin bearer token (env MODELROUTE_ADMIN_TOKEN_FILE,
                           or the token itself in MODELROUTE_ADMIN_TOKEN)
  --ensure-admin-token-secret
                           instead: read the token from the Secret --admin-token-secret (key
                           --admin-token-key) in this pod's namespace (env POD_NAMESPACE, else
                           --lease-namespace), creating it with a random token when it does not
                           exist (what the chart does unless adminToken.existingSecret is set)
  --admin-token-scope S    for proxies holding the token Secret (not injected sidecars, which
                           are sent their own per-pod token): fleet: send the token (default);
                           namespace: send only HMAC(token, its namespace), so a token copied into
                           one namespace (or a pod posing as a proxy) reaches no other namespace
  --namespace NS           watch only this namespace (default: all)
  --unmatched-callers P    a verified caller no ModelTenant covers: default-tenant (served as the
                           tenant named default; the default) or deny (403)
                           (env MODELROUTE_UNMATCHED_CALLERS)
  --lease-namespace NS     namespace of the leader-election Lease (env POD_NAMESPACE; default modelroute-system)
  --lease-name NAME        name of the leader-election Lease (default modelroute-controller)
  --identity NAME          this replica's identity in the Lease (env POD_NAME; default the host name)
  --lease-duration D       leader Lease duration (default 15s); a standby takes over within
                           it plus two retry periods (19s) if the leader dies, at once if it stops
  --usage-interval D       how often new traffic figures alone (status.usage, the realised
                           status.strongShare) may rewrite a route's status (default 5m)
  --health-host ADDR       address of /healthz, /readyz and /metrics (default 0.0.0.0)
  --health-port N          port of /healthz, /readyz and /metrics (default 8081)
  --log-level L            debug|info|warn|error (env MODELROUTE_LOG_LEVEL; default info)

Sidecar injection (a mutating admission webhook served by every replica; off unless --webhook-port):
  --webhook-port N         HTTPS port of /mutate-pods (0 or absent: webhook off; the chart uses 9443)
  --webhook-host ADDR      address of the webhook (default 0.0.0.0)
  --webhook-service NAME   the Service in front of the controller: the certificate's DNS names
                           (NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local); required with --webhook-port
  --webhook-namespace NS   namespace of that Service and of the certificate Secret
                           (default: env POD_NAMESPACE, else --lease-namespace)
  --webhook-secret NAME    Secret holding the CA and serving certificate, shared by the replicas
                           (created and rotated by the controller; default modelroute-webhook-cert)
  --webhook-config-name N  MutatingWebhookConfiguration whose caBundle is kept current
                           (default modelroute-sidecar-injector)
  --webhook-extra-san S    another certificate name, IP or DNS (repeatable; e.g. 127.0.0.1 for tests)
  --proxy-image IMAGE      image of the injected proxy container; required with --webhook-port
  --sidecar-mode M         native: a restartable init container, started before the app's
                           containers (Kubernetes >= 1.29; default); container: a plain container
  --admin-token-secret N   Secret in the pod's namespace holding the admin token, referenced only
                           while the credential channel is not up yet (otherwise the sidecar
                           fetches its own token from the controller; default modelroute-admin-token)
  --admin-token-key K      its key (default token)
  --sidecar-cpu-request Q, --sidecar-memory-request Q, --sidecar-cpu-limit Q, --sidecar-memory-limit Q
                           the injected proxy's resources (default requests 50m CPU and 160Mi, a
                           320Mi memory limit and no CPU limit; "" for no limit); a pod's
                           modelroute.io/proxy-cpu… annotations override them
  --sidecar-quota-store-secret S
                           Secret in each injected pod's namespace whose key holds the exact-mode
                           quota store URL (a secretKeyRef in the sidecar, never a literal); or env
                           MODELROUTE_SIDECAR_QUOTA_STORE: the URL itself, set literally in each sidecar
  --sidecar-quota-store-key K
                           its key (default url)
  --sidecar-otlp-headers-secret S
                           Secret in each injected pod's namespace whose key holds the sidecar's
                           OTEL_EXPORTER_OTLP_HEADERS (optional there); the sidecars' other OTEL_*
                           variables are the controller's MODELROUTE_SIDECAR_OTEL_* ones, renamed
  --sidecar-otlp-headers-key K
                           its key (default headers)
  --sidecar-access-log-sample-rate R
                           share of requests each sidecar writes to its access log, 0..1
                           (default: the proxy's own, 0: off)
  --credential-namespaces L  comma-separated namespaces whose ModelBackends' API keys the webhook
                           listener delivers to proxies (POST /v1/credentials), the only Secrets
                           it reads (env MODELROUTE_CREDENTIAL_NAMESPACES; default --webhook-namespace)`;

/** Where injected sidecars find the exact-mode quota store: a Secret reference or the URL, not both. */
const sidecarQuotaStore = z
  .object({
    secretName: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    url: z.string().optional(),
  })
  .superRefine((q, ctx) => {
    if (q.secretName !== undefined && q.url !== undefined)
      ctx.addIssue({
        code: 'custom',
        message:
          'give sidecars the quota store either as --sidecar-quota-store-secret or as MODELROUTE_SIDECAR_QUOTA_STORE, not both',
      });
    const problem = q.url === undefined ? undefined : quotaStoreUrlProblem(q.url);
    if (problem)
      ctx.addIssue({ code: 'custom', message: `MODELROUTE_SIDECAR_QUOTA_STORE: ${problem}` });
  })
  .transform((q): QuotaStoreSource | undefined =>
    q.secretName !== undefined
      ? { secretName: q.secretName, key: q.key ?? 'url' }
      : q.url !== undefined
        ? { url: q.url }
        : undefined,
  );

/** OpenTelemetry and the access log for injected sidecars (sidecar-telemetry.ts). */
const sidecarTelemetry = z
  .object({
    otelEnv: z.record(z.string(), z.string()),
    headersSecret: z.string().min(1).optional(),
    headersKey: z.string().min(1),
    accessLogSampleRate: z.coerce
      .number({ message: '--sidecar-access-log-sample-rate must be a number from 0 to 1' })
      .min(0, {
        message: '--sidecar-access-log-sample-rate must be from 0 (off) to 1 (every request)',
      })
      .max(1, {
        message: '--sidecar-access-log-sample-rate must be from 0 (off) to 1 (every request)',
      })
      .optional(),
  })
  .transform((t): SidecarTelemetry => ({
    otelEnv: t.otelEnv,
    headersSecret:
      t.headersSecret !== undefined ? { name: t.headersSecret, key: t.headersKey } : undefined,
    accessLogSampleRate: t.accessLogSampleRate,
  }));

const quantity = (flag: string) =>
  z.string().regex(RESOURCE_QUANTITY, {
    message: `${flag} must be a resource quantity such as 100m or 128Mi`,
  });
/** A limit may be "" (no limit). */
const limit = (flag: string) =>
  z
    .string()
    .refine((v) => v === '' || RESOURCE_QUANTITY.test(v), {
      message: `${flag} must be a resource quantity such as 100m or 128Mi, or "" for no limit`,
    })
    .transform((v) => (v === '' ? undefined : v));

const settings = z.object({
  kubeconfig: z.string().min(1).optional(),
  adminToken: z
    .discriminatedUnion('from', [
      z.object({
        from: z.literal('value'),
        token: z.string().min(MIN_ADMIN_TOKEN_LENGTH, {
          message: `the admin token must be at least ${MIN_ADMIN_TOKEN_LENGTH} characters (--admin-token-file or MODELROUTE_ADMIN_TOKEN)`,
        }),
      }),
      z.object({ from: z.literal('secret'), namespace: z.string().min(1) }),
      z.object({ from: z.literal('both') }),
    ])
    .refine((t) => t.from !== 'both', {
      message:
        'give the admin token one way: --ensure-admin-token-secret (the controller keeps it in a Secret) or --admin-token-file / MODELROUTE_ADMIN_TOKEN, not both',
    }),
  adminTokenScope: z.enum(['fleet', 'namespace'], {
    message: '--admin-token-scope must be fleet or namespace',
  }),
  namespace: z.string().min(1).optional(),
  unmatchedCallers: z.enum(UNMATCHED_CALLERS, {
    message: `--unmatched-callers (or MODELROUTE_UNMATCHED_CALLERS) must be one of ${UNMATCHED_CALLERS.join(', ')}`,
  }),
  leaseNamespace: z.string().min(1),
  leaseName: z.string().min(1),
  identity: z.string().min(1),
  healthHost: z.string().min(1),
  leaseDurationMs: z
    .string()
    .regex(DURATION_PATTERN, { message: '--lease-duration must be a duration such as "15s"' })
    .transform(durationToMs)
    .refine((ms) => ms >= 1000, { message: '--lease-duration must be at least 1s' }),
  usageIntervalMs: z
    .string()
    .regex(DURATION_PATTERN, { message: '--usage-interval must be a duration such as "5m"' })
    .transform(durationToMs),
  healthPort: z.coerce
    .number()
    .int()
    .min(0)
    .max(65535, { message: '--health-port must be 0-65535' }),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']),
  webhook: z
    .object({
      port: z.coerce
        .number()
        .int()
        .min(0)
        .max(65535, { message: '--webhook-port must be 0-65535' }),
      host: z.string().min(1),
      serviceName: z.string().min(1).optional(),
      namespace: z.string().min(1),
      secretName: z.string().min(1),
      configName: z.string().min(1),
      extraSans: z.array(z.string().min(1)),
      proxyImage: z.string().min(1).optional(),
      sidecarMode: z.enum(SIDECAR_MODES, {
        message: `--sidecar-mode must be one of ${SIDECAR_MODES.join(', ')}`,
      }),
      adminTokenSecret: z.string().min(1),
      adminTokenKey: z.string().min(1),
      resources: z.object({
        requests: z.object({
          cpu: quantity('--sidecar-cpu-request'),
          memory: quantity('--sidecar-memory-request'),
        }),
        limits: z.object({
          cpu: limit('--sidecar-cpu-limit'),
          memory: limit('--sidecar-memory-limit'),
        }),
      }),
      quotaStore: sidecarQuotaStore,
      telemetry: sidecarTelemetry,
      credentialNamespaces: z
        .array(
          z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, {
            message:
              '--credential-namespaces must be a comma-separated list of namespace names such as "modelroute-system,platform"',
          }),
        )
        .min(1, { message: '--credential-namespaces must name at least one namespace' }),
    })
    .refine((w) => w.port === 0 || w.serviceName !== undefined, {
      message: '--webhook-service is required with --webhook-port (it names the certificate)',
    })
    .refine((w) => w.port === 0 || w.proxyImage !== undefined, {
      message: '--proxy-image is required with --webhook-port (the image of the injected sidecar)',
    }),
});

export async function runController(
  argv: string[],
  io: CommandIO,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        kubeconfig: { type: 'string' },
        'admin-token-file': { type: 'string' },
        'ensure-admin-token-secret': { type: 'boolean' },
        'admin-token-scope': { type: 'string' },
        namespace: { type: 'string' },
        'unmatched-callers': { type: 'string' },
        'lease-namespace': { type: 'string' },
        identity: { type: 'string' },
        'lease-name': { type: 'string' },
        'health-host': { type: 'string' },
        'lease-duration': { type: 'string' },
        'usage-interval': { type: 'string' },
        'health-port': { type: 'string' },
        'log-level': { type: 'string' },
        'webhook-port': { type: 'string' },
        'webhook-host': { type: 'string' },
        'webhook-service': { type: 'string' },
        'webhook-namespace': { type: 'string' },
        'webhook-secret': { type: 'string' },
        'webhook-config-name': { type: 'string' },
        'webhook-extra-san': { type: 'string', multiple: true },
        'proxy-image': { type: 'string' },
        'sidecar-mode': { type: 'string' },
        'admin-token-secret': { type: 'string' },
        'admin-token-key': { type: 'string' },
        'sidecar-cpu-request': { type: 'string' },
        'sidecar-memory-request': { type: 'string' },
        'sidecar-cpu-limit': { type: 'string' },
        'sidecar-memory-limit': { type: 'string' },
        'sidecar-quota-store-secret': { type: 'string' },
        'sidecar-quota-store-key': { type: 'string' },
        'sidecar-otlp-headers-secret': { type: 'string' },
        'sidecar-otlp-headers-key': { type: 'string' },
        'sidecar-access-log-sample-rate': { type: 'string' },
        'credential-namespaces': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${CONTROLLER_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.out(CONTROLLER_USAGE);
    return 0;
  }
  let token = env.MODELROUTE_ADMIN_TOKEN;
  const tokenFile = values['admin-token-file'] ?? env.MODELROUTE_ADMIN_TOKEN_FILE;
  if (tokenFile) {
    try {
      token = readFileSync(tokenFile, 'utf8').trim();
    } catch (err) {
      io.err(
        `cannot read the admin token file ${tokenFile}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
      );
      return 2;
    }
  }
  const leaseNamespace = values['lease-namespace'] ?? env.POD_NAMESPACE ?? 'modelroute-system';
  const ensureSecret = values['ensure-admin-token-secret'] === true;
  const defaultResources = DEFAULT_SIDECAR_CONFIG.resources;
  const sidecarOtel = sidecarOtelEnvFrom(env);
  if (!sidecarOtel.ok) {
    io.err(sidecarOtel.message);
    return 2;
  }
  const parsed = settings.safeParse({
    kubeconfig: values.kubeconfig ?? env.KUBECONFIG,
    adminToken: !ensureSecret
      ? { from: 'value', token: token ?? '' }
      : token === undefined || token === ''
        ? { from: 'secret', namespace: env.POD_NAMESPACE ?? leaseNamespace }
        : { from: 'both' },
    adminTokenScope: values['admin-token-scope'] ?? 'fleet',
    namespace: values.namespace,
    unmatchedCallers:
      values['unmatched-callers'] ?? env.MODELROUTE_UNMATCHED_CALLERS ?? 'default-tenant',
    leaseNamespace,
    identity: values.identity ?? env.POD_NAME ?? hostname(),
    leaseName: values['lease-name'] ?? 'modelroute-controller',
    healthHost: values['health-host'] ?? '0.0.0.0',
    leaseDurationMs: values['lease-duration'] ?? '15s',
    usageIntervalMs: values['usage-interval'] ?? '5m',
    healthPort: values['health-port'] ?? '8081',
    logLevel: values['log-level'] ?? env.MODELROUTE_LOG_LEVEL ?? 'info',
    webhook: {
      port: values['webhook-port'] ?? '0',
      host: values['webhook-host'] ?? '0.0.0.0',
      serviceName: values['webhook-service'],
      namespace: values['webhook-namespace'] ?? env.POD_NAMESPACE ?? leaseNamespace,
      secretName: values['webhook-secret'] ?? 'modelroute-webhook-cert',
      configName: values['webhook-config-name'] ?? 'modelroute-sidecar-injector',
      extraSans: values['webhook-extra-san'] ?? [],
      proxyImage: values['proxy-image'],
      sidecarMode: values['sidecar-mode'] ?? DEFAULT_SIDECAR_CONFIG.mode,
      adminTokenSecret: values['admin-token-secret'] ?? DEFAULT_SIDECAR_CONFIG.adminTokenSecret,
      adminTokenKey: values['admin-token-key'] ?? DEFAULT_SIDECAR_CONFIG.adminTokenKey,
      resources: {
        requests: {
          cpu: values['sidecar-cpu-request'] ?? defaultResources.requests.cpu,
          memory: values['sidecar-memory-request'] ?? defaultResources.requests.memory,
        },
        limits: {
          cpu: values['sidecar-cpu-limit'] ?? defaultResources.limits.cpu ?? '',
          memory: values['sidecar-memory-limit'] ?? defaultResources.limits.memory ?? '',
        },
      },
      quotaStore: {
        secretName: values['sidecar-quota-store-secret'],
        key: values['sidecar-quota-store-key'],
        url: env.MODELROUTE_SIDECAR_QUOTA_STORE || undefined,
      },
      telemetry: {
        otelEnv: sidecarOtel.otelEnv,
        headersSecret: values['sidecar-otlp-headers-secret'],
        headersKey: values['sidecar-otlp-headers-key'] ?? 'headers',
        accessLogSampleRate: values['sidecar-access-log-sample-rate'],
      },
      credentialNamespaces: (
        values['credential-namespaces'] ??
        env.MODELROUTE_CREDENTIAL_NAMESPACES ??
        values['webhook-namespace'] ??
        env.POD_NAMESPACE ??
        leaseNamespace
      )
        .split(',')
        .map((ns) => ns.trim())
        .filter((ns) => ns !== ''),
    },
  });
  if (!parsed.success) {
    io.err(parsed.error.issues.map((i) => i.message).join('\n'));
    return 2;
  }
  const s = parsed.data;
  const logger = createLogger({ level: s.logLevel });
  const w = s.webhook;
  let controller;
  let telemetry: Tracing | undefined;
  try {
    // Loads OpenTelemetry's Node SDK only when OTEL_* variables configure it.
    telemetry = createTracing({ serviceName: 'modelroute-controller' });
    const adminToken =
      s.adminToken.from === 'value'
        ? s.adminToken.token
        : await ensureAdminTokenSecret({
            client: createKubeClient({ kubeconfigPath: s.kubeconfig, userAgent: USER_AGENT }),
            secret: { namespace: s.adminToken.namespace, name: w.adminTokenSecret },
            key: w.adminTokenKey,
            logger,
          });
    controller = await startController({
      kubeconfigPath: s.kubeconfig,
      adminToken,
      adminTokenScope: s.adminTokenScope,
      identity: s.identity,
      leaseNamespace: s.leaseNamespace,
      leaseName: s.leaseName,
      namespace: s.namespace,
      unmatchedCallers: s.unmatchedCallers,
      logger,
      health: { host: s.healthHost, port: s.healthPort },
      leaseDurationMs: s.leaseDurationMs,
      usageIntervalMs: s.usageIntervalMs,
      tracer: telemetry.enabled ? telemetry.tracer : undefined,
      webhook:
        w.port === 0 || !w.serviceName || !w.proxyImage
          ? undefined
          : {
              host: w.host,
              port: w.port,
              serviceName: w.serviceName,
              namespace: w.namespace,
              secretName: w.secretName,
              configName: w.configName,
              extraSans: w.extraSans,
              credentialNamespaces: w.credentialNamespaces,
              sidecar: {
                ...DEFAULT_SIDECAR_CONFIG,
                image: w.proxyImage,
                mode: w.sidecarMode,
                adminTokenSecret: w.adminTokenSecret,
                adminTokenKey: w.adminTokenKey,
                resources: w.resources,
                quotaStore: w.quotaStore,
                telemetry: w.telemetry,
              },
            },
    });
  } catch (err) {
    await telemetry?.shutdown();
    io.err(`cannot start the controller: ${(err as Error).message}`);
    return 1;
  }
  logger.info('controller started', {
    identity: s.identity,
    health: controller.healthUrl,
    webhook: controller.webhookUrl ?? null,
  });
  const signal = await shutdownSignal();
  logger.info('controller stopping', { signal });
  await controller.close();
  await telemetry.shutdown();
  return 0;
}
