// Backend health while this replica leads: active probes, what the proxies
// saw, transitions turned into Events, failovers and a reconcile. A new
// HealthProber per leader term, seeded from the health already in status, so
// a term always probes (issue 11 class 7) and a takeover announces only real
// changes (class 12).
import type { ModelBackend, ModelRoute } from '../api/v1alpha1/index.js';
import type { PassiveObservation } from '../health/passive.js';
import { HealthProber } from '../health/prober.js';
import { compileRoutingTable } from '../routing/compile.js';
import { BackendHealthTracker, type HealthTransition } from '../routing/health-tracker.js';
import { objectId } from '../routing/semantics.js';
import type { ControllerMetrics } from '../telemetry/controller-metrics.js';
import type { Logger } from '../telemetry/logger.js';
import type { EventRecorder } from './event-recorder.js';
import { failoverEvent, recordFailover, type Failover } from './failover.js';
import type { Runnable } from './runnable.js';

export interface BackendHealthOptions {
  backends: () => ModelBackend[];
  backend: (id: string) => ModelBackend | undefined;
  routes: () => ModelRoute[];
  events: EventRecorder;
  metrics: ControllerMetrics;
  logger: Logger;
  now: () => number;
  /** Asks for a reconcile of a namespace. */
  enqueue: (namespace: string) => void;
  clusterDomain?: string | undefined;
  /** Cap on probe intervals. */
  maxProbeIntervalMs: number;
  /** How long calls the proxies saw failing outweigh probes that still answer. */
  passiveHoldMs: number;
  /** Probes' fetch (through the egress proxy of HTTPS_PROXY / NO_PROXY); default the global one. */
  fetch?: typeof globalThis.fetch | undefined;
}

export class BackendHealth implements Runnable {
  readonly name = 'backend-health';
  private prober: HealthProber | undefined;
  /** Read between terms: nothing known. */
  private readonly idle = new BackendHealthTracker(() => this.options.now());
  private readonly callsFailing = new Map<
    string,
    { reason: string; message: string; until: number }
  >();
  /** The most recent failover per route id (status keeps older ones). */
  readonly failovers = new Map<string, Failover>();

  constructor(private readonly options: BackendHealthOptions) {}

  /** This term's health records. */
  get tracker(): BackendHealthTracker {
    return this.prober?.tracker ?? this.idle;
  }

  start(): void {
    const { now, maxProbeIntervalMs } = this.options;
    // Without the API keys (the controller never reads Secret values), a 401
    // from a provider still proves its endpoint answers; proxies report the rest.
    // Calls failing through the proxies outweigh a probe that still answers,
    // for a while (then probes may bring the backend back).
    this.prober = new HealthProber({
      now,
      onTransition: (t) => this.onTransition(t),
      distrust: (backendId) => {
        const failing = this.callsFailing.get(backendId);
        return failing && failing.until > now() ? failing : undefined;
      },
      clientErrorsMeanUp: true,
      maxIntervalMs: maxProbeIntervalMs,
      ...(this.options.fetch ? { fetch: this.options.fetch } : {}),
    });
    for (const b of this.options.backends()) {
      const health = b.status?.health;
      if (!health) continue;
      const since = health.lastTransitionTime ? Date.parse(health.lastTransitionTime) : NaN;
      this.prober.tracker.seed(objectId(b), health.state, Number.isNaN(since) ? undefined : since);
    }
    this.sync();
  }

  stop(): void {
    this.prober?.stop();
    this.prober = undefined;
    this.callsFailing.clear();
    this.failovers.clear();
  }

  /** Probes exactly the backends that exist (no-op between terms). */
  sync(): void {
    this.prober?.sync(
      this.options.backends().map((b) => ({ backend: this.compiledFor(b), spec: b.spec })),
    );
  }

  /** What the proxies saw counts like a probe, under the same hysteresis. */
  observePassive(backendId: string, seen: PassiveObservation): void {
    const { now, passiveHoldMs } = this.options;
    if (!this.prober) return;
    if (seen.ok) this.callsFailing.delete(backendId);
    else
      this.callsFailing.set(backendId, {
        reason: seen.reason ?? 'CallsFailing',
        message: seen.message,
        until: now() + passiveHoldMs,
      });
    const spec = this.options.backend(backendId)?.spec;
    if (!spec) return;
    const transition = this.prober.tracker.observe(
      backendId,
      seen.ok,
      {
        unhealthyThreshold: spec.healthCheck?.unhealthyThreshold ?? 3,
        healthyThreshold: spec.healthCheck?.healthyThreshold ?? 2,
      },
      seen.message,
      seen.reason,
    );
    if (transition) this.onTransition(transition);
  }

  private onTransition(t: HealthTransition): void {
    const { metrics, logger, now } = this.options;
    metrics.healthTransition(t.to);
    logger.info('backend health changed', {
      backend: t.backendId,
      from: t.from,
      to: t.to,
      message: t.record.message,
    });
    const [ns, name] = t.backendId.split('/') as [string, string];
    const routes = this.options.routes();
    const moved = recordFailover(this.failovers, routes, t, this.tracker.states(), now());
    for (const id of moved) {
      const route = routes.find((r) => objectId(r) === id);
      const failover = this.failovers.get(id);
      if (route && failover) void this.options.events.record(failoverEvent(route, failover));
    }
    const backend = this.options.backend(t.backendId);
    if (t.to !== 'Unknown') {
      void this.options.events.record({
        involved: {
          kind: 'ModelBackend',
          apiVersion: 'modelroute.io/v1alpha1',
          namespace: ns,
          name,
          uid: backend?.metadata.uid,
        },
        type: t.to === 'Unhealthy' ? 'Warning' : 'Normal',
        reason: t.to === 'Unhealthy' ? 'BackendUnhealthy' : 'BackendHealthy',
        message: `health ${t.from} -> ${t.to}: ${t.record.message ?? ''}`.trim(),
      });
    }
    this.options.enqueue(ns);
  }

  /** A backend as the prober sees it (compiled alone, health irrelevant). */
  private compiledFor(b: ModelBackend) {
    const route: ModelRoute = {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: '_probe', namespace: b.metadata.namespace ?? 'default' },
      spec: {
        model: '_probe',
        rules: [
          {
            name: 'probe',
            strategy: 'weighted',
            backendRefs: [{ name: b.metadata.name, weight: 1, priority: 0 }],
          },
        ],
      },
    };
    return compileRoutingTable([route], [b], new Map(), {
      clusterDomain: this.options.clusterDomain,
    }).backends[0]!;
  }
}
