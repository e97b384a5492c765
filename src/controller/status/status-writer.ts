// Writes ModelRoute and ModelBackend statuses that changed, and no more often
// than their volatile parts deserve: usage, spend and realised strong-share
// figures alone at most once per usage interval, probe times and counters
// alone at most once a minute.
import type { SpendStatus } from '../../api/v1alpha1/quota.js';
import type {
  ModelAPIKey,
  ModelBackend,
  ModelRoute,
  ModelRouteStatus,
  ModelTenant,
  ModelTenantStatus,
} from '../../api/v1alpha1/index.js';
import { modelAPIKeys, modelBackends, modelRoutes, modelTenants } from '../../k8s/kinds.js';
import type { KubeClient, ObjectMetaLike, ResourceKind } from '../../k8s/types.js';
import { objectId } from '../../routing/semantics.js';
import type { ControllerMetrics } from '../../telemetry/controller-metrics.js';
import { statusChanged, statusMergePatch } from './status-diff.js';

export interface StatusWriterOptions {
  client: KubeClient;
  metrics: ControllerMetrics;
  now: () => number;
  /** How often status.usage alone may be rewritten. */
  usageIntervalMs: number;
}

/**
 * Spend without its amounts: the windows and budgets. A new window or budget
 * is written at once (with the conditions it resets); new amounts wait.
 */
const spendWindows = (s: SpendStatus | undefined) =>
  s && {
    day: s.day && { ...s.day, spentUSD: 0, display: '' },
    month: s.month && { ...s.month, spentUSD: 0, display: '' },
  };

/** What moves with every stats read: usage, spend, and the strong share realised (not its target or threshold). */
const traffic = (s: ModelRouteStatus | undefined) => ({
  usage: s?.usage,
  spend: s?.spend,
  strong: s?.strongShare && {
    realized: s.strongShare.realized,
    decisions: s.strongShare.decisions,
  },
});
const withoutTraffic = (s: ModelRouteStatus | undefined) =>
  s
    ? {
        ...s,
        usage: undefined,
        spend: spendWindows(s.spend),
        strongShare: s.strongShare && { ...s.strongShare, realized: 0, decisions: 0 },
      }
    : s;
const tenantWithoutSpend = (s: ModelTenantStatus | undefined) =>
  s ? { ...s, spend: spendWindows(s.spend) } : s;

// Probe times and counters move on every probe: they alone do not justify a write more than once a minute.
const volatile = (s: ModelBackend['status']) =>
  s
    ? {
        ...s,
        health: s.health
          ? { ...s.health, lastProbeTime: undefined, consecutiveSuccesses: undefined }
          : undefined,
        observed: undefined,
        // Fleet-limit counters move every collection: written with the rest, or once a minute.
        limits: s.limits ? { proxies: s.limits.proxies } : undefined,
      }
    : s;

export class StatusWriter {
  private readonly lastBackendWrite = new Map<string, number>();
  private readonly lastUsageWrite = new Map<string, number>();
  private readonly lastSpendWrite = new Map<string, number>();

  constructor(private readonly options: StatusWriterOptions) {}

  /**
   * New figures in status.usage or strongShare.realized alone are written at
   * most once per usage interval; either appearing or going is written at once.
   */
  async writeRouteStatus(route: ModelRoute, status: ModelRouteStatus): Promise<void> {
    const { client, metrics, now, usageIntervalMs } = this.options;
    if (!statusChanged(route.status, status)) return;
    const id = objectId(route);
    const trafficOnly = !statusChanged(withoutTraffic(route.status), withoutTraffic(status));
    const samePresence =
      (route.status?.usage === undefined) === (status.usage === undefined) &&
      (route.status?.strongShare === undefined) === (status.strongShare === undefined);
    if (
      trafficOnly &&
      samePresence &&
      now() - (this.lastUsageWrite.get(id) ?? -Infinity) < usageIntervalMs
    )
      return;
    await client.patchStatus(
      modelRoutes,
      { namespace: route.metadata.namespace ?? 'default', name: route.metadata.name },
      statusMergePatch(route.status, status),
    );
    if (statusChanged(traffic(route.status), traffic(status))) this.lastUsageWrite.set(id, now());
    metrics.statusWrite('ModelRoute');
  }

  /**
   * Tenant statuses move with objects and pods, written whenever they change,
   * and with spend: new amounts alone at most once per usage interval.
   */
  async writeTenantStatus(tenant: ModelTenant, status: ModelTenantStatus): Promise<void> {
    const { now, usageIntervalMs } = this.options;
    const id = objectId(tenant);
    const spendOnly = !statusChanged(tenantWithoutSpend(tenant.status), tenantWithoutSpend(status));
    if (spendOnly && now() - (this.lastSpendWrite.get(id) ?? -Infinity) < usageIntervalMs) return;
    if (!statusChanged(tenant.status, status)) return;
    await this.writeIfChanged(modelTenants, tenant, status);
    if (statusChanged(tenant.status?.spend, status.spend)) this.lastSpendWrite.set(id, now());
  }

  writeApiKeyStatus(key: ModelAPIKey, status: NonNullable<ModelAPIKey['status']>): Promise<void> {
    return this.writeIfChanged(modelAPIKeys, key, status);
  }

  private async writeIfChanged<T extends ObjectMetaLike & { status?: object | undefined }>(
    kind: ResourceKind<T>,
    object: T,
    status: Record<string, unknown>,
  ): Promise<void> {
    const stored = object.status as Record<string, unknown> | undefined;
    if (!statusChanged(stored, status)) return;
    await this.options.client.patchStatus(
      kind,
      { namespace: object.metadata.namespace ?? 'default', name: object.metadata.name },
      statusMergePatch(stored, status),
    );
    this.options.metrics.statusWrite(kind.kind);
  }

  async writeBackendStatus(
    backend: ModelBackend,
    status: NonNullable<ModelBackend['status']>,
  ): Promise<void> {
    const { client, metrics, now } = this.options;
    const id = objectId(backend);
    const stale = now() - (this.lastBackendWrite.get(id) ?? 0) > 60_000;
    if (
      !statusChanged(volatile(backend.status), volatile(status)) &&
      !(stale && statusChanged(backend.status, status))
    )
      return;
    await client.patchStatus(
      modelBackends,
      { namespace: backend.metadata.namespace ?? 'default', name: backend.metadata.name },
      statusMergePatch(backend.status, status),
    );
    this.lastBackendWrite.set(id, now());
    metrics.statusWrite('ModelBackend');
  }
}
