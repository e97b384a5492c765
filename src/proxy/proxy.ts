// Assembles a proxy: data port, admin port, table store, live backend state
// and telemetry, with every dependency injectable for tests and local mode.
import { BaselineCache } from '../finops/counterfactual.js';
import { ProxyAttribution } from '../finops/proxy-attribution.js';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  gatewayAuthenticator,
  localAuthenticator,
  sidecarAuthenticator,
  sidecarHostProblem,
  type Authenticator,
  type ProxyIdentity,
} from '../identity/authenticate.js';
import { RequestIdentifier } from '../identity/request-identity.js';
import { TokenVerifier } from '../identity/token-review.js';
import type { DifficultyScorer } from '../routing/difficulty/types.js';
import type { CompiledBackend } from '../routing/table.js';
import { createLogger, type Logger } from '../telemetry/logger.js';
import { createProxyMetrics } from '../telemetry/proxy-metrics.js';
import { createTracing, type Tracing } from '../telemetry/tracing.js';
import type { ExactQuotaStore } from '../quota/exact-store.js';
import { ProxyQuotas } from '../quota/proxy-quotas.js';
import type { QuotaMode } from '../quota/quota-state.js';
import { readFileSync } from 'node:fs';
import { AccessLog, NO_ACCESS_LOG } from './access-log.js';
import { createAdminApp } from './admin/admin-server.js';
import { AdminToken, type AdminTokenSource } from './admin/admin-token.js';
import { BackendLiveState } from './backend-live-state.js';
import {
  CredentialNotFoundError,
  createCredentialResolver,
  type CredentialBinding,
  type CredentialResolver,
} from './credentials.js';
import { createUpstreamAuth, type UpstreamAuthResolver } from '../providers/auth/upstream-auth.js';
import type { UpstreamAuth } from '../providers/types.js';
import { CredentialCheck } from './credential-check.js';
import { CredentialDelivery, createCredentialsFetch } from './delivered-credentials.js';
import type { CredentialDeliverySettings } from './delivered-credentials.js';
import { rememberSecret } from '../telemetry/redact.js';
import { createDataServer } from './data-server.js';
import { initialDifficultyRouter, watchDifficultyModelFile } from './difficulty-router.js';
import { warmTokenizerFor } from './prompt/tokenizer-warmup.js';
import { ProxyLearning } from './learning/proxy-learning.js';
import { proxyShadowJudge } from './learning/shadow-judge.js';
import type { LabelSink, ShadowJudging } from './learning/shadow-judging.js';
import { requestIdGenerator } from './request-id.js';
import { RouteUsage } from './route-usage.js';
import { StrongShareCalibrators } from './strong-share-calibrators.js';
import type { ProxyRuntime } from './runtime.js';
import { TableStore } from './table-store.js';
import { UpstreamPools } from './upstream-pools.js';
import { BackendTls } from './egress/backend-tls.js';
import { CONFIG_MAPS_DIR_ENV, readConfigMapKey } from './egress/config-maps.js';
import { egressFetch } from './egress/egress-fetch.js';
import { egressProxiesFromEnv } from './egress/proxy-env.js';
import { UpstreamTargets } from './upstream-target.js';

export interface ProxyOptions {
  host?: string;
  dataPort?: number;
  adminHost?: string;
  adminPort?: number;
  adminToken?: AdminTokenSource;
  /** Where the last good table is kept across restarts. */
  tableFile?: string | undefined;
  credentialsDir?: string | undefined;
  /** Mounted ConfigMaps (<dir>/<name>/<key>) backends' CA bundles may come from; default env MODELROUTE_CONFIGMAPS_DIR. */
  configMapsDir?: string | undefined;
  /**
   * The environment cloud credential sources read (AWS_*, GOOGLE_*,
   * GCE_METADATA_HOST, AZURE_*) and egress follows (HTTPS_PROXY, HTTP_PROXY,
   * NO_PROXY, lower-case too); default process.env.
   */
  env?: NodeJS.ProcessEnv;
  /** Where each mounted key may be sent (the injector's binding); absent = unrestricted. */
  credentialBinding?: CredentialBinding | undefined;
  /** Fetch other namespaces' backend keys from the controller (--credentials-url); absent = off. */
  credentialDelivery?: CredentialDeliverySettings | undefined;
  maxBodyBytes?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /**
   * On close, how long requests in flight may take to finish before their
   * connections are cut (new connections are refused at once). 0, the
   * default, cuts them at once.
   */
  drainMs?: number;
  /** A streaming client that takes no bytes for this long is cut off (default 30 s). */
  clientStallTimeoutMs?: number;
  otlpEndpoint?: string | undefined;
  /**
   * Share of requests written to the JSON access log, 0..1 (default 0: off).
   * `random` draws the samples (default Math.random).
   */
  accessLog?: { sampleRate: number; random?: () => number } | undefined;
  logger?: Logger;
  tracing?: Tracing;
  credentials?: CredentialResolver;
  now?: () => number;
  rng?: () => number;
  /** Makes each data-port request's x-modelroute-request-id (default: 128 random bits, base64url). */
  requestId?: () => string;
  /** A fixed scorer instead of a model (tests). */
  scoreDifficulty?: DifficultyScorer;
  /** Who callers are (default: local mode, no tenant). */
  identity?: ProxyIdentity;
  /**
   * The proxy's namespace: its tenants, and the default tenant, live there
   * (default: the sidecar's pod namespace, else "default"; `modelroute proxy` passes POD_NAMESPACE).
   */
  namespace?: string | undefined;
  /** A difficulty model file to use instead of the shipped one, watched for changes. */
  difficultyModelFile?: string | undefined;
  /** How often that file is checked for changes (default 5 s). */
  difficultyModelPollMs?: number;
  /**
   * How fleet-wide limits apply before a controller assigns shares: fleet (the
   * default: the proxy is one of many a controller feeds, so limit / 20 until
   * the first assignment) or local (`modelroute dev`, tests: the whole fleet).
   */
  quotaMode?: QuotaMode;
  /**
   * The shared store exact-mode limits are counted in (--quota-store). The
   * caller owns it: close it after the proxy.
   */
  quotaStore?: ExactQuotaStore | undefined;
  /**
   * Pages and APIs answered on the admin port before the admin routes (the
   * dev proxy's FinOps dashboard); built once the runtime exists.
   */
  adminExtras?: ((runtime: ProxyRuntime) => AdminExtras) | undefined;
  /**
   * The shadow judge of learning rules with a sampleRate (issue 17), built
   * once the runtime exists; it pushes its labels and counts to `sink`.
   * Default: proxyShadowJudge (the other tier and the judge through this
   * proxy's own pools, adapters and keys).
   */
  shadowJudge?: ((sink: LabelSink, runtime: ProxyRuntime) => ShadowJudging) | undefined;
  /** The epoch of this process's label sequence (default: a random UUID). */
  learningEpoch?: string | undefined;
}

/** Answers a request and returns true when the path is its own; false leaves it to the admin routes. */
export type AdminExtras = (req: IncomingMessage, res: ServerResponse) => boolean;

export interface RunningProxy {
  dataUrl: string;
  adminUrl: string;
  runtime: ProxyRuntime;
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** How often a draining server closes the keep-alive connections that have gone idle. */
const DRAIN_SWEEP_MS = 100;

/**
 * Stops accepting connections, then lets requests in flight finish for up to
 * `drainMs` before cutting what is left. Keep-alive connections are closed as
 * soon as they are idle, so a client's next request opens a new connection,
 * which kube-proxy sends to a pod that is not stopping.
 */
function closeServer(server: Server, drainMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (drainMs <= 0) {
      server.close(() => resolve());
      server.closeAllConnections();
      return;
    }
    const sweep = setInterval(() => server.closeIdleConnections(), DRAIN_SWEEP_MS);
    const deadline = setTimeout(() => server.closeAllConnections(), drainMs);
    server.close(() => {
      clearInterval(sweep);
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}

/** Cloud credentials are remembered by the redactor too, as they are handed out. */
function rememberingAuth(resolver: UpstreamAuthResolver): UpstreamAuthResolver {
  const remember = (auth: UpstreamAuth | undefined): UpstreamAuth | undefined => {
    if (auth?.kind === 'bearer') rememberSecret(auth.token);
    else if (auth?.kind === 'aws') {
      rememberSecret(auth.credentials.secretAccessKey);
      if (auth.credentials.sessionToken !== undefined)
        rememberSecret(auth.credentials.sessionToken);
    }
    return auth;
  };
  return {
    authFor(backend) {
      const auth = resolver.authFor(backend);
      // API keys are remembered by rememberingSecrets already.
      if (auth instanceof Promise) return auth.then((a) => remember(a) as UpstreamAuth);
      return auth?.kind === 'api-key' ? auth : remember(auth);
    },
    refused: (backend) => resolver.refused(backend),
  };
}

function rememberingSecrets(resolver: CredentialResolver): CredentialResolver {
  return {
    apiKeyFor(backend) {
      const key = resolver.apiKeyFor(backend);
      if (key !== undefined) rememberSecret(key);
      return key;
    },
    // Cloud credentials' Secret keys (AWS access keys) are secrets too.
    ...(resolver.secretFor
      ? {
          secretFor: (backend, ref) => {
            const value = (resolver.secretFor as NonNullable<CredentialResolver['secretFor']>)(
              backend,
              ref,
            );
            rememberSecret(value);
            return value;
          },
        }
      : {}),
  };
}

async function createAuthenticator(
  identity: ProxyIdentity,
  now: () => number,
  logger: Logger,
): Promise<Authenticator> {
  switch (identity.mode) {
    case 'local':
      return localAuthenticator(identity.tenant, now);
    case 'sidecar':
      return sidecarAuthenticator(identity.workload);
    case 'gateway':
      return gatewayAuthenticator(
        new TokenVerifier({
          // Loaded only here: importing the Kubernetes client takes ~0.4 s (measured), which every
          // sidecar and `modelroute dev` start would pay for nothing.
          reviewer:
            identity.tokenReviewer ??
            (await import('../k8s/token-reviewer.js')).createKubeTokenReviewer(),
          audience: identity.audience,
          ttlMs: identity.tokenCacheTtlMs,
          now,
          onReviewFailed: (reason) =>
            logger.warn(
              'TokenReview failed: ServiceAccount tokens cannot be verified (the gateway needs create on tokenreviews.authentication.k8s.io)',
              { reason },
            ),
        }),
        now,
      );
  }
}

export async function startProxy(options: ProxyOptions = {}): Promise<RunningProxy> {
  const now = options.now ?? Date.now;
  const identity = options.identity ?? { mode: 'local' };
  const host = options.host ?? '127.0.0.1';
  const hostProblem = identity.mode === 'sidecar' ? sidecarHostProblem(host) : undefined;
  if (hostProblem) throw new Error(hostProblem);
  const logger = options.logger ?? createLogger();
  const metrics = createProxyMetrics();
  // First: a refused --difficulty-model file stops the start before anything listens.
  const difficulty = initialDifficultyRouter({
    scorer: options.scoreDifficulty,
    file: options.difficultyModelFile,
    onShippedRefused: (error) =>
      logger.error('difficulty model refused; using the heuristic scorer', { error }),
  });
  metrics.difficultyModelLoaded(difficulty.model.name, difficulty.model.checksum ?? 'none');
  const store = new TableStore(options.tableFile);
  const quotas = new ProxyQuotas({
    mode: options.quotaMode ?? 'fleet',
    now,
    logger,
    store: options.quotaStore,
  });
  const live = new BackendLiveState({
    now,
    quotas: quotas.state,
    exactStore: options.quotaStore !== undefined,
    onCircuitChange: (backendId, state) => {
      metrics.circuitState(backendId, state);
      logger.warn('circuit state changed', { backend: backendId, state });
    },
  });
  const strongShare = new StrongShareCalibrators();
  const rng = options.rng ?? Math.random;
  const learning = new ProxyLearning({
    now,
    rng,
    logger: logger.child({ component: 'learning' }),
    metrics,
    prior: difficulty,
    epoch: options.learningEpoch ?? randomUUID(),
  });
  const token = new AdminToken(options.adminToken ?? {});
  const deliveryClient = options.credentialDelivery
    ? createCredentialsFetch(options.credentialDelivery)
    : undefined;
  const namespace =
    options.namespace ??
    (identity.mode === 'sidecar' ? identity.workload.namespace : undefined) ??
    'default';
  const credentialCheck = new CredentialCheck({
    // The runtime's resolver (below), asked only once a table or a delivery arrives.
    resolver: { apiKeyFor: (backend) => runtime.credentials.apiKeyFor(backend) },
    namespace,
  });
  const delivery =
    deliveryClient &&
    new CredentialDelivery({
      fetch: deliveryClient.fetch,
      namespace: options.credentialDelivery?.namespace,
      logger: logger.child({ component: 'credentials' }),
      // This pod's own admin token, when the injector left out the admin-token Secret.
      onAdminToken: (delivered) => {
        if (delivered !== undefined) rememberSecret(delivered);
        token.deliver(delivered);
      },
      onUpdate: () => credentialCheck.recheck(),
    });
  if (delivery) store.onChange((prepared) => delivery.onTable(prepared.table));
  store.onChange((prepared) => {
    live.configure(prepared.table.backends);
    quotas.configure(prepared.table.tenants ?? []);
    // A rule whose model changed scores on a new scale: its live threshold restarts from the table's.
    strongShare.configure(prepared.table, learning.configure(prepared.table));
    metrics.tableLoaded(prepared.table.version);
    // Its first load builds tables (~110 ms): better on a table push than on a request.
    if (warmTokenizerFor(prepared))
      logger.info('loaded the tokenizer: the routing table counts prompt tokens');
  });
  const credentials = rememberingSecrets(
    options.credentials ??
      createCredentialResolver({
        directory: options.credentialsDir,
        binding: options.credentialBinding,
        delivered: delivery,
        onRefused: (refusal) => {
          metrics.credentialRefused(refusal.secret);
          logger.warn(
            'API key not sent: the table names an origin the key is not bound to',
            refusal,
          );
        },
      }),
  );
  const env = options.env ?? process.env;
  // Read once: upstream pools and token endpoints go through the same forward proxies.
  const egress = egressProxiesFromEnv(env);
  const secretOf = (backend: CompiledBackend, ref: { secretName: string; key: string }): string => {
    if (!credentials.secretFor)
      throw new CredentialNotFoundError(
        `no credential for backend ${backend.id}: this proxy's credential resolver reads API keys only`,
        ref.secretName,
        ref.key,
        false,
      );
    return credentials.secretFor(backend, ref);
  };
  const configMaps = { env, directory: options.configMapsDir ?? env[CONFIG_MAPS_DIR_ENV] };
  const upstreamAuth = rememberingAuth(
    createUpstreamAuth({
      apiKey: (backend) => credentials.apiKeyFor(backend),
      secret: secretOf,
      fetch: egressFetch(egress),
      env,
      now,
      readFile: (path) => readFileSync(path, 'utf8'),
    }),
  );
  const runtime: ProxyRuntime = {
    now,
    rng,
    newRequestId: options.requestId ?? requestIdGenerator(),
    logger,
    metrics,
    tracing:
      options.tracing ??
      createTracing({ serviceName: 'modelroute-proxy', otlpEndpoint: options.otlpEndpoint }),
    accessLog:
      options.accessLog && options.accessLog.sampleRate > 0
        ? new AccessLog({ logger, ...options.accessLog })
        : NO_ACCESS_LOG,
    live,
    quotas,
    usage: new RouteUsage(),
    attribution: new ProxyAttribution(),
    baselines: new BaselineCache(),
    strongShare,
    pools: new UpstreamPools({
      egress,
      tls: new BackendTls({
        secret: secretOf,
        configMap: (_backend, ref) => readConfigMapKey(configMaps, ref),
        now,
      }),
    }),
    targets: new UpstreamTargets(),
    // Every key handed out is remembered by the redactor, so a provider
    // echoing it back never gets it to a client, a span or a log.
    credentials,
    upstreamAuth,
    store,
    credentialCheck,
    identity: new RequestIdentifier(await createAuthenticator(identity, now, logger), namespace),
    difficulty,
    learning,
    limits: {
      maxBodyBytes: options.maxBodyBytes ?? 8 * 1024 * 1024,
      clientStallTimeoutMs: options.clientStallTimeoutMs ?? 30_000,
    },
  };

  learning.useShadowJudge((options.shadowJudge ?? proxyShadowJudge)(learning.outbox, runtime));

  // After delivery.onTable (registered first), so keys already held count.
  store.onChange((prepared) => credentialCheck.onTable(prepared.table));

  const persisted = store.loadPersisted();
  if (persisted?.ok)
    logger.info('loaded the last good routing table', {
      version: persisted.version,
      file: options.tableFile,
    });
  else if (persisted)
    logger.error('ignoring the persisted routing table', { error: persisted.error });

  if (token.generated && !delivery)
    logger.warn(
      'no admin token configured: table pushes are disabled (set MODELROUTE_ADMIN_TOKEN or --admin-token-file)',
    );

  const data = createDataServer(runtime, {
    headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
    requestTimeoutMs: options.requestTimeoutMs ?? 60_000,
    keepAliveTimeoutMs: 65_000,
  });
  const admin = createAdminApp(runtime, token, now());
  const extras = options.adminExtras?.(runtime);
  const adminServer = createServer(
    extras
      ? (req, res) => {
          if (!extras(req, res)) admin(req, res);
        }
      : admin,
  );

  const stopWatchingModel =
    options.difficultyModelFile === undefined
      ? () => {}
      : watchDifficultyModelFile(difficulty, {
          file: options.difficultyModelFile,
          intervalMs: options.difficultyModelPollMs ?? 5_000,
          onLoaded: (model) => {
            metrics.difficultyModelLoaded(model.name, model.checksum ?? 'none');
            logger.info('difficulty model replaced', { ...model });
          },
          onRefused: (error) => {
            metrics.difficultyModelRefused();
            logger.error('difficulty model file refused; keeping the current model', { error });
          },
        });

  const adminHost = options.adminHost ?? host;
  const dataPort = await listen(data, host, options.dataPort ?? 0);
  const adminPort = await listen(adminServer, adminHost, options.adminPort ?? 0);
  // After the admin port listens: the token it brings is what the controller's first push needs.
  delivery?.start();
  const urlHost = (h: string) => (h.includes(':') ? `[${h}]` : h === '0.0.0.0' ? '127.0.0.1' : h);

  return {
    dataUrl: `http://${urlHost(host)}:${dataPort}`,
    adminUrl: `http://${urlHost(adminHost)}:${adminPort}`,
    runtime,
    async close() {
      stopWatchingModel();
      await delivery?.close();
      await deliveryClient?.close();
      // The data port drains; the admin port has nothing a caller waits on.
      await Promise.all([closeServer(data, options.drainMs ?? 0), closeServer(adminServer, 0)]);
      await learning.close();
      await runtime.pools.close();
      await runtime.tracing.shutdown();
    },
  };
}
