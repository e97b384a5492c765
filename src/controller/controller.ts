// `modelroute controller`: watches ModelRoutes, ModelBackends, proxy Pods and
// Services; the leader pushes tables to proxies, probes backends and writes
// status. Standbys keep their caches warm to take over at once.
//
// The composition root. Every replica runs the caches, the health server and
// the webhook; what only the leader does is a LeaderOnly group of Runnables
// (runnable.ts) started on every acquisition and stopped on every loss: the
// proxy fleet, backend health, stats collection and the reconcile queue.
import { egressFetch } from '../proxy/egress/egress-fetch.js';
import { egressProxiesFromEnv } from '../proxy/egress/proxy-env.js';
import { AdminToken } from '../proxy/admin/admin-token.js';
import { createDashboardListener } from '../dashboard/dashboard-listener.js';
import { ledgerFinopsSource } from '../finops/ledger-source.js';
import { statusObjects } from '../finops/status-objects.js';
import { USAGE_LEDGER_PREFIX, UsageLedgerStore } from './usage-ledger-store.js';
import { SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { createKubeClient } from '../k8s/kube-client.js';
import { leases } from '../k8s/kinds.js';
import type { KubeClient, KubeDeleter } from '../k8s/types.js';
import type { IdentityPolicy } from '../routing/table.js';
import {
  createControllerMetrics,
  type ControllerMetrics,
} from '../telemetry/controller-metrics.js';
import type { Logger } from '../telemetry/logger.js';
import {
  startSidecarInjector,
  type RunningSidecarInjector,
  type SidecarInjectorSettings,
} from '../webhook/sidecar-injector.js';
import { BackendHealth } from './backend-health.js';
import { BudgetLedger, budgetedObjects } from './budget-ledger.js';
import { budgetUses } from './budget-metrics.js';
import { ControllerCaches, inNamespace } from './caches.js';
import type { Clock } from './clock.js';
import { EventRecorder } from './event-recorder.js';
import { invalidSpecEvent, pushFailedEvents } from './route-events.js';
import { redactSecrets } from '../telemetry/redact.js';
import { startHealthServer, type RunningHealthServer } from './health-server.js';
import { InvalidObjects } from './invalid-objects.js';
import { leaderElectionTiming, LeaderElector } from './leader-election.js';
import { LastAcceptedRoutes } from './last-accepted.js';
import { ProxyFleet, type AdminTokenScope } from './proxy-fleet.js';
import { QuotaCoordinator } from './quota-coordinator.js';
import { backendLimitStatusListener } from './quota-status.js';
import { SecretKeyCache } from './secret-keys.js';
import { LeaderFleet, LeaderQueue } from './leader-terms.js';
import { reconcileNamespace, ReconcileError } from './reconcile-namespace.js';
import { RecompileTimers } from './recompile-timers.js';
import { LeaderOnly, PeriodicRunnable } from './runnable.js';
import { StatsCollector } from './stats-collector.js';
import { LearningCoordinator } from './learning-coordinator.js';
import { LearningStore } from './learning-store.js';
import { defaultLearnerFactory } from './learner-factory.js';
import type { LearnerFactory } from './rule-learning-record.js';
import { StatusWriter } from './status/status-writer.js';
import { WorkQueue } from './work-queue.js';

export { ADMIN_PORT_ANNOTATION, DEFAULT_ADMIN_PORT, PROXY_LABEL, proxyPodOf } from './proxy-pod.js';

const COMPONENT = 'modelroute-controller';
const failuresOf = (ns: string, err: unknown): { object: string; error: unknown }[] =>
  err instanceof ReconcileError ? [...err.failures] : [{ object: `namespace ${ns}`, error: err }];

export interface ControllerOptions {
  kubeconfigPath?: string | undefined;
  client?: KubeClient;
  adminToken: string;
  /** Send each proxy the fleet token (default) or its namespace's derived token. */
  adminTokenScope?: AdminTokenScope | undefined;
  /** This replica's name in the leader Lease (the pod name in a cluster). */
  identity: string;
  leaseNamespace: string;
  leaseName?: string;
  /** Watch one namespace only; default all. */
  namespace?: string | undefined;
  /**
   * Watch only these namespaces (e.g. app namespaces and the platform
   * namespace granting them backends); ignored with `namespace`; default all.
   */
  namespaces?: readonly string[] | undefined;
  /**
   * Namespaces whose backends' credentials the controller delivers to proxies
   * of other namespaces (--credential-namespaces); a granted backend elsewhere
   * shows CredentialsUnavailable in route status. Undefined: not checked.
   */
  credentialNamespaces?: readonly string[] | undefined;
  /** Callers no ModelTenant covers: refused, or served as the default tenant (default). */
  unmatchedCallers?: IdentityPolicy['unmatched'] | undefined;
  logger: Logger;
  /** Spans for reconciles (OpenTelemetry, when configured: see telemetry/tracing.ts); absent: none. */
  tracer?: Tracer | undefined;
  now?: () => number;
  /** Drives leader election (tests flap leadership with a manual clock). */
  leaderClock?: Clock;
  /**
   * How often proxies' outcome stats are read (default 2 s): fleet-wide limits
   * are divided again after each read, so this bounds how stale a proxy's share is.
   */
  statsIntervalMs?: number;
  /** How long a proxy's quota shares stand without a newer assignment (default 30 s). */
  quotaValidForMs?: number;
  /**
   * How often a route's status.usage (requests and cost over the last hour)
   * and a route's or tenant's status.spend may be rewritten when nothing else
   * in its status changed (default 5 min): at 1,000 busy routes, every 5 s
   * would be 200 writes a second. It also bounds the spend a leader crash
   * can lose (budget-ledger.ts); a crossed budget threshold is written at once.
   */
  usageIntervalMs?: number;
  /** How often the usage ledger is written to its ConfigMaps (default a minute). */
  ledgerFlushIntervalMs?: number;
  /** Makes the learners of rules with costQuality.learning (issue 17); default src/learning's RuleLearner. */
  learnerFactory?: LearnerFactory;
  /** How often changed learning state is written (default 60 s; a promotion is written at once). */
  learningFlushIntervalMs?: number;
  /**
   * How long calls the proxies saw failing outweigh probes that still answer
   * (default 30 s); then probes may bring the backend back, and traffic judges again.
   */
  passiveHoldMs?: number;
  /** Cap on probe intervals. */
  maxProbeIntervalMs?: number;
  leaseDurationMs?: number;
  /** Serve /healthz, /readyz and /metrics here (port 0 = random). */
  health?: { host: string; port: number } | undefined;
  clusterDomain?: string;
  /** Serve the sidecar-injection webhook (every replica, leader or not); absent = off. */
  webhook?: SidecarInjectorSettings | undefined;
}

export interface RunningController {
  readonly isLeader: boolean;
  /** Leader terms started so far (each restarts everything only the leader does). */
  readonly leaderTerms: number;
  readonly metrics: ControllerMetrics;
  healthUrl: string | undefined;
  /** The webhook's https URL, when it is on. */
  webhookUrl: string | undefined;
  close(): Promise<void>;
}

export async function startController(options: ControllerOptions): Promise<RunningController> {
  const { logger } = options;
  const now = options.now ?? Date.now;
  const invalid = new InvalidObjects();
  const metrics = createControllerMetrics({
    leaseName: options.leaseName ?? 'modelroute-controller',
  });
  const client =
    options.client ??
    createKubeClient({
      kubeconfigPath: options.kubeconfigPath,
      userAgent: COMPONENT,
      onRequest: (method, host, status) => metrics.restClientRequest(method, host, status),
      onInvalid: (kind, id, message, generation, uid) => {
        logger.warn('object refused by the controller; its status says why', {
          kind,
          object: id,
          problem: message,
        });
        const ns = invalid.report(kind, id, message, generation, uid);
        if (ns !== undefined && leaderOnly.active) enqueue(ns);
      },
    });
  const caches = new ControllerCaches(client, logger, options.namespace, options.namespaces);
  const events = new EventRecorder({ client, component: COMPONENT, logger, now });
  const enqueue = (ns: string | undefined): void => queue.add(ns ?? 'default');
  // A backend (its spec, its health) or a grant also matters to the namespaces whose routes use it.
  const enqueueWithDependents = (ns: string | undefined): void => {
    enqueue(ns);
    for (const other of caches.referencingNamespaces(ns ?? 'default')) enqueue(other);
  };
  const identityPolicy: IdentityPolicy = {
    unmatched: options.unmatchedCallers ?? 'default-tenant',
  };
  const recompileTimers = new RecompileTimers(enqueue, options.leaderClock);

  const fleet = new LeaderFleet(
    () =>
      new ProxyFleet({
        adminToken: options.adminToken,
        adminTokenScope: options.adminTokenScope,
        logger,
        onAckChange: (pod) => enqueue(pod.namespace),
        onPushed: (_pod, _version, seconds) => metrics.pushed(seconds),
        onPushFailed: (pod, table, error) => {
          for (const event of pushFailedEvents(pod, table, error, (id) => caches.routes.get(id)))
            void events.record(event);
        },
      }),
  );
  const health = new BackendHealth({
    backends: () => caches.backends.list(),
    backend: (id) => caches.backends.get(id),
    routes: () => caches.routes.list(),
    events,
    metrics,
    logger,
    now,
    enqueue: enqueueWithDependents,
    clusterDomain: options.clusterDomain,
    maxProbeIntervalMs: options.maxProbeIntervalMs ?? 30_000,
    passiveHoldMs: options.passiveHoldMs ?? 30_000,
    // Probes leave the cluster the way proxies' calls do: HTTPS_PROXY, NO_PROXY.
    fetch: egressFetch(egressProxiesFromEnv(process.env)),
  });
  const usageIntervalMs = options.usageIntervalMs ?? 300_000;
  const budgets = new BudgetLedger({
    now,
    objects: () => budgetedObjects(caches.routes.list(), caches.tenants.list()),
    events,
    enqueue,
    usageIntervalMs,
  });
  metrics.budgetsFrom(() =>
    budgetUses(
      budgetedObjects(caches.routes.list(), caches.tenants.list()),
      budgets.budgetWindows(),
    ),
  );
  const quotas = new QuotaCoordinator({
    identity: options.identity,
    now,
    fleet: () => fleet.current,
    budgetWindows: () => budgets.budgetWindows(),
    validForMs: options.quotaValidForMs,
    logger,
  });
  const learning = new LearningCoordinator({
    store: new LearningStore({ client, namespace: options.leaseNamespace, logger }),
    factory: options.learnerFactory ?? defaultLearnerFactory({ now }),
    routes: () => caches.routes.list(),
    now,
    logger,
    recordEvent: (event) => void events.record(event),
    enqueue,
    flushIntervalMs: options.learningFlushIntervalMs,
    statusIntervalMs: Math.min(usageIntervalMs, 60_000),
  });
  const stats = new StatsCollector({
    collect: async () => {
      const current = fleet.current;
      if (!current) return undefined;
      return {
        stats: await current.collectStats((pod) => learning.labelsAfter(pod)),
        pods: current.keys(),
      };
    },
    observeRunningVersion: (pod, version, formats) =>
      fleet.current?.observeRunningVersion(pod, version, formats),
    routes: () => caches.routes.list(),
    tenants: () => caches.tenants.list(),
    health,
    now,
    enqueue,
    usageIntervalMs,
    ledgerStore: new UsageLedgerStore({
      client,
      deleter: isKubeDeleter(client) ? client : undefined,
      namespace: options.leaseNamespace,
      prefix: USAGE_LEDGER_PREFIX,
      logger,
      now,
    }),
    ledgerFlushIntervalMs: options.ledgerFlushIntervalMs,
    onLedgerError: (err) =>
      logger.warn('usage ledger not loaded or written; retried', { error: err }),
    // The ledger first: the coordinator divides the budget windows it has just counted.
    listeners: [
      (collected) => budgets.observe(collected),
      quotas.onStats,
      learning.onStats,
      backendLimitStatusListener({
        backends: () => caches.backends.list(),
        limitStatus: (key) => quotas.limitStatus(key),
        enqueue,
        now,
      }),
    ],
    onListenerError: (err) =>
      logger.warn('acting on proxy stats failed (fleet limits or budgets)', { error: err }),
  });
  const statusWriter = new StatusWriter({ client, metrics, now, usageIntervalMs });

  const reconcile = async (ns: string): Promise<void> => {
    const current = fleet.current;
    if (!current) return; // not leading: the next term reconciles every namespace
    const started = now();
    const span = options.tracer?.startSpan('reconcile namespace', {
      attributes: { 'k8s.namespace.name': ns },
    });
    try {
      // Every object is attempted; each failure is reported with its object.
      const failures = await invalid.writeStatuses(client, ns, now(), (entry) => {
        void events.record(invalidSpecEvent(entry));
      });
      await reconcileNamespace(caches.snapshot(ns), {
        fleet: current,
        health: health.tracker,
        secretKeys: (ns, name) => secretKeys.keys(ns, name),
        lastAccepted,
        failovers: health.failovers,
        observed: (id) => stats.observed(id),
        limitStatus: (key) => quotas.limitStatus(key),
        keyLacking: (id, pods) => stats.keyLacking(id, pods),
        usage: (routeId) => stats.routeUsage(routeId),
        cost: (routeId) => stats.routeCost(routeId),
        tenantCost: (tenantId) => stats.tenantCost(tenantId),
        liveThresholds: () => stats.liveThresholds(),
        strongShareDecisions: (key) => stats.strongShareDecisions(key),
        learnedModels: () => learning.learnedModels(),
        learningStatus: (route) => learning.status(route),
        budgetStatus: (o) => budgets.statusOf(o),
        writeRouteStatus: (r, s) => statusWriter.writeRouteStatus(r, s),
        writeBackendStatus: (b, s) => statusWriter.writeBackendStatus(b, s),
        writeTenantStatus: (t, s) => statusWriter.writeTenantStatus(t, s),
        writeApiKeyStatus: (k, s) => statusWriter.writeApiKeyStatus(k, s),
        identityPolicy,
        credentialNamespaces: options.credentialNamespaces ?? options.webhook?.credentialNamespaces,
        scheduleRecompile: (namespace, atMs) => recompileTimers.schedule(namespace, atMs),
        now,
        clusterDomain: options.clusterDomain,
      }).catch((err: unknown) => failures.push(...failuresOf(ns, err)));
      if (failures.length > 0) throw new ReconcileError(ns, failures);
      metrics.reconciled('success', (now() - started) / 1000);
    } catch (err) {
      metrics.reconciled('error', (now() - started) / 1000);
      span?.setStatus({ code: SpanStatusCode.ERROR, message: redactSecrets(String(err)) });
      throw err;
    } finally {
      span?.end();
      metrics.queueDepth(queue.length);
    }
  };
  const queue = new LeaderQueue(
    () =>
      new WorkQueue(reconcile, {
        metrics: metrics.workQueue,
        // Issue 11 class 9: a namespace failed forever with nothing logged.
        onError: (ns, err) => {
          for (const f of failuresOf(ns, err))
            logger.error('reconcile failed; will retry with backoff', {
              namespace: ns,
              object: f.object,
              error: f.error,
            });
        },
      }),
    () => [...caches.namespaces(), ...invalid.namespaces()],
    () => invalid.forgetWritten(),
  );

  const secretKeys = new SecretKeyCache(client, now);
  const lastAccepted = new LastAcceptedRoutes();

  const leaderOnly = new LeaderOnly({
    onError: (runnable, phase, err) =>
      logger.error(`leader part failed to ${phase}`, { runnable, error: err }),
  })
    .add(fleet)
    .add(recompileTimers)
    .add(health)
    .add(budgets)
    .add(stats)
    .add(quotas)
    .add(learning)
    .add(
      new PeriodicRunnable(
        'stats-loop',
        options.statsIntervalMs ?? 2_000,
        () => stats.collect(),
        (err) => logger.warn('collecting proxy stats failed', { error: err }),
      ),
    )
    .add(queue);

  // Informer events only say which namespace to look at again.
  caches.on((event) => {
    // Read valid (a refused version arrives as a delete, after its report).
    if (event.type !== 'deleted' && (event.kind === 'route' || event.kind === 'backend'))
      invalid.clear(event.kind === 'route' ? 'ModelRoute' : 'ModelBackend', event.key);
    if (!leaderOnly.active) return;
    if (event.kind === 'backend' || event.kind === 'grant') enqueueWithDependents(event.namespace);
    else enqueue(event.namespace);
    if (event.kind === 'backend') health.sync();
    if (event.kind === 'pod' && event.type === 'deleted') fleet.current?.remove(event.key);
  });

  const elector: LeaderElector = new LeaderElector({
    client,
    leaseKind: leases,
    namespace: options.leaseNamespace,
    name: options.leaseName ?? 'modelroute-controller',
    identity: options.identity,
    ...leaderElectionTiming(options.leaseDurationMs ?? 15_000),
    ...(options.leaderClock ? { clock: options.leaderClock } : {}),
    onStartedLeading: () => {
      logger.info('leading: pushing tables and writing status', { identity: options.identity });
      metrics.leader(true);
      void leaderOnly.startAll();
    },
    onStoppedLeading: () => {
      logger.warn('lost leadership: standing by', { identity: options.identity });
      metrics.leader(false);
      void leaderOnly.stopAll();
    },
    onError: (err) => logger.warn('leader election', { error: err }),
  });

  // Listens before the caches sync, so a taken port fails the start at once;
  // it answers 503 until they have (a pod injected earlier would miss volumes).
  let injector: RunningSidecarInjector | undefined;
  if (options.webhook) {
    injector = await startSidecarInjector(options.webhook, {
      kubeconfigPath: options.kubeconfigPath,
      logger: logger.child({ component: 'webhook' }),
      adminToken: options.adminToken,
      routes: (ns) => inNamespace(caches.routes.list(), ns),
      backends: (ns) => inNamespace(caches.backends.list(), ns),
      grants: (ns) => inNamespace(caches.grants.list(), ns),
      synced: () => caches.routes.synced && caches.backends.synced,
      watchedNamespace: options.namespace,
      now,
    });
  }
  await caches.start(60_000);
  elector.start();

  let healthServer: RunningHealthServer | undefined;
  if (options.health) {
    const adminToken = new AdminToken({ value: options.adminToken });
    healthServer = await startHealthServer({
      ...options.health,
      dashboard: createDashboardListener({
        source: ledgerFinopsSource({
          ledger: () => stats.usageLedger,
          objects: () => statusObjects(caches.routes.list(), caches.tenants.list()),
          now,
        }),
        authorize: (req) => adminToken.accepts(req.headers.authorization),
        logger,
      }),
      metrics,
      synced: () => caches.synced,
      isLeader: () => elector.isLeader,
      queueDepth: () => queue.length,
    });
  }

  return {
    get isLeader() {
      return elector.isLeader;
    },
    get leaderTerms() {
      return leaderOnly.termsStarted;
    },
    metrics,
    healthUrl: healthServer?.url,
    webhookUrl: injector?.url,
    async close() {
      await elector.stop();
      await leaderOnly.stopAll();
      caches.stop();
      await injector?.close();
      await healthServer?.close();
    },
  };
}

/** The real client deletes; test fakes may not. */
function isKubeDeleter(client: object): client is KubeDeleter {
  return typeof (client as Partial<KubeDeleter>).delete === 'function';
}
