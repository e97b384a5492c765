// The controller's Prometheus metrics: reconciles, queue depth, push latency,
// health transitions and leadership, on a registry of its own.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sharedProcessRegistry } from './proxy-metrics.js';

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
}

export function createControllerMetrics(): ControllerMetrics {
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
  const processMetrics = sharedProcessRegistry();
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
    leader: (isLeader) => leader.set(isLeader ? 1 : 0),
  };
}
