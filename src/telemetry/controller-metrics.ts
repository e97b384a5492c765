// The controller's Prometheus metrics: reconciles, queue depth, push latency,
// health transitions and leadership, on a registry of its own. Beside the
// modelroute_controller_* names, the names client-go and controller-runtime
// export (workqueue_*, rest_client_requests_total, leader_election_master_status),
// so stock controller dashboards and alerts apply; and the budget-used gauge.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sharedProcessRegistry } from './proxy-metrics.js';

/** client-go's workqueue MetricsProvider, for one named queue (times in seconds). */
export interface WorkQueueMetrics {
  /** A key was added (not counted when it was already waiting). */
  added(): void;
  depth(waiting: number): void;
  /** A key left the queue for a handler after waiting this long. */
  dequeued(waitedSeconds: number): void;
  /** A handler finished a key after this long. */
  worked(seconds: number): void;
  /** A failed key was put back with backoff. */
  retried(): void;
}

/** One route's or tenant's budget window, as budget-used ratio (spent / budget). */
export interface BudgetUse {
  scope: 'route' | 'tenant';
  namespace: string;
  name: string;
  window: string;
  usedRatio: number;
}

export interface ControllerMetrics {
  readonly contentType: string;
  render(): Promise<string>;
  reconciled(result: 'success' | 'error', seconds: number): void;
  queueDepth(depth: number): void;
  pushed(seconds: number): void;
  pushFailed(): void;
  healthTransition(to: string): void;
  statusWrite(kind: string): void;
  leader(isLeader: boolean): void;
  /** The reconcile queue's workqueue_* metrics (name="modelroute"). */
  readonly workQueue: WorkQueueMetrics;
  /** One request to the API server answered (code is the HTTP status, or "<error>" without one). */
  restClientRequest(method: string, host: string, code: number | undefined): void;
  /** Read at each scrape: every budget window the leader counts (standbys: none). */
  budgetsFrom(source: () => readonly BudgetUse[]): void;
}

export interface ControllerMetricsOptions {
  /** The leader-election Lease's name: leader_election_master_status's `name` label. */
  leaseName?: string;
  /** The work queue's `name` label (controller-runtime uses the controller's name). */
  queueName?: string;
}

/** client-go's workqueue duration buckets: 10 ns to 10 s, by factors of 10. */
export const WORKQUEUE_BUCKETS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];

export function createControllerMetrics(options: ControllerMetricsOptions = {}): ControllerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const reconciles = new Counter({
    name: 'modelroute_controller_reconciles_total',
    help: 'Reconciles by result.',
    labelNames: ['result'],
    registers,
  });
  const reconcileSeconds = new Histogram({
    name: 'modelroute_controller_reconcile_duration_seconds',
    help: 'Time a reconcile took.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers,
  });
  const depth = new Gauge({
    name: 'modelroute_controller_queue_depth',
    help: 'Keys waiting in the work queue.',
    registers,
  });
  const push = new Histogram({
    name: 'modelroute_controller_push_duration_seconds',
    help: 'Time to push a table to a proxy and get its acknowledgement.',
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    registers,
  });
  const pushFailures = new Counter({
    name: 'modelroute_controller_push_failures_total',
    help: 'Failed table pushes.',
    registers,
  });
  const transitions = new Counter({
    name: 'modelroute_controller_health_transitions_total',
    help: 'Backend health transitions by new state.',
    labelNames: ['to'],
    registers,
  });
  const writes = new Counter({
    name: 'modelroute_controller_status_writes_total',
    help: 'Status patches written, by kind.',
    labelNames: ['kind'],
    registers,
  });
  const leader = new Gauge({
    name: 'modelroute_controller_leader',
    help: '1 while this replica leads.',
    registers,
  });

  // client-go / controller-runtime names.
  const queue = { name: options.queueName ?? 'modelroute' };
  const wqDepth = new Gauge({
    name: 'workqueue_depth',
    help: 'Current depth of workqueue.',
    labelNames: ['name'] as const,
    registers,
  });
  const wqAdds = new Counter({
    name: 'workqueue_adds_total',
    help: 'Total number of adds handled by workqueue.',
    labelNames: ['name'] as const,
    registers,
  });
  const wqQueueSeconds = new Histogram({
    name: 'workqueue_queue_duration_seconds',
    help: 'How long in seconds an item stays in workqueue before being requested.',
    labelNames: ['name'] as const,
    buckets: WORKQUEUE_BUCKETS,
    registers,
  });
  const wqWorkSeconds = new Histogram({
    name: 'workqueue_work_duration_seconds',
    help: 'How long in seconds processing an item from workqueue takes.',
    labelNames: ['name'] as const,
    buckets: WORKQUEUE_BUCKETS,
    registers,
  });
  const wqRetries = new Counter({
    name: 'workqueue_retries_total',
    help: 'Total number of retries handled by workqueue.',
    labelNames: ['name'] as const,
    registers,
  });
  // Present from the start, as client-go's are once a queue exists.
  wqDepth.set(queue, 0);
  wqAdds.inc(queue, 0);
  wqRetries.inc(queue, 0);
  const restRequests = new Counter({
    name: 'rest_client_requests_total',
    help: 'Number of HTTP requests, partitioned by status code, method, and host.',
    labelNames: ['code', 'method', 'host'] as const,
    registers,
  });
  const leaseName = options.leaseName ?? 'modelroute-controller';
  const masterStatus = new Gauge({
    name: 'leader_election_master_status',
    help: 'Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. name is the string used to identify the lease.',
    labelNames: ['name'] as const,
    registers,
  });
  masterStatus.set({ name: leaseName }, 0);

  let budgetSource: () => readonly BudgetUse[] = () => [];
  new Gauge({
    name: 'modelroute_budget_used_ratio',
    help: 'Spend in the current budget window over the budget (1 = all of it), per route or tenant with a budget; exported by the leader only.',
    labelNames: ['scope', 'namespace', 'name', 'window'] as const,
    registers,
    collect() {
      this.reset();
      for (const b of budgetSource()) {
        if (Number.isNaN(b.usedRatio)) continue;
        const { scope, namespace, name, window } = b;
        this.set({ scope, namespace, name, window }, b.usedRatio);
      }
    },
  });

  const processMetrics = sharedProcessRegistry();
  const nonNegative = (s: number): boolean => Number.isFinite(s) && s >= 0;
  return {
    contentType: registry.contentType,
    async render() {
      return (await registry.metrics()) + (await processMetrics.metrics());
    },
    reconciled(result, seconds) {
      reconciles.inc({ result });
      reconcileSeconds.observe(seconds);
    },
    queueDepth: (d) => depth.set(d),
    pushed: (s) => push.observe(s),
    pushFailed: () => pushFailures.inc(),
    healthTransition: (to) => transitions.inc({ to }),
    statusWrite: (kind) => writes.inc({ kind }),
    leader: (isLeader) => {
      leader.set(isLeader ? 1 : 0);
      masterStatus.set({ name: leaseName }, isLeader ? 1 : 0);
    },
    workQueue: {
      added: () => wqAdds.inc(queue),
      depth: (n) => wqDepth.set(queue, n),
      dequeued: (s) => {
        if (nonNegative(s)) wqQueueSeconds.observe(queue, s);
      },
      worked: (s) => {
        if (nonNegative(s)) wqWorkSeconds.observe(queue, s);
      },
      retried: () => wqRetries.inc(queue),
    },
    restClientRequest(method, host, code) {
      restRequests.inc({ code: code === undefined ? '<error>' : String(code), method, host });
    },
    budgetsFrom(source) {
      budgetSource = source;
    },
  };
}
