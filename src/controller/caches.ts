// The controller's informer caches (every replica keeps them warm, leader or
// not, so a standby takes over at once) and the per-namespace snapshot the
// reconciler reads.
import type {
  ModelAPIKey,
  ModelBackend,
  ModelBackendGrant,
  ModelRoute,
  ModelTenant,
} from '../api/v1alpha1/index.js';
import {
  endpointSlices,
  modelAPIKeys,
  modelBackendGrants,
  modelBackends,
  modelRoutes,
  modelTenants,
  pods,
  services,
  SERVICE_NAME_LABEL,
  type EndpointSlice,
  type Pod,
  type Service,
} from '../k8s/kinds.js';
import type { KubeClient, ObjectMetaLike, ResourceKind } from '../k8s/types.js';
import type { Logger } from '../telemetry/logger.js';
import { Informer, type InformerEvent } from './informer.js';
import { PROXY_LABEL, proxyPodOf, workloadOf } from './proxy-pod.js';
import { backendIdOfKey, referencedBackends } from './status/route-status.js';
import type { NamespaceSnapshot } from './reconcile-namespace.js';

export const inNamespace = <T extends { metadata: { namespace?: string | undefined } }>(
  items: T[],
  ns: string,
): T[] => items.filter((o) => (o.metadata.namespace ?? 'default') === ns);

export type CacheEvent = {
  kind: 'route' | 'backend' | 'pod' | 'service' | 'endpointSlice' | 'tenant' | 'apiKey' | 'grant';
} & {
  type: InformerEvent<ObjectMetaLike>['type'];
  key: string;
  namespace: string | undefined;
};

export class ControllerCaches {
  readonly routes: Informer<ModelRoute>;
  readonly backends: Informer<ModelBackend>;
  readonly pods: Informer<Pod>;
  readonly services: Informer<Service>;
  /** Whether anything is Ready behind a serviceRef backend's Service. */
  readonly endpointSlices: Informer<EndpointSlice>;
  readonly tenants: Informer<ModelTenant>;
  readonly apiKeys: Informer<ModelAPIKey>;
  /** Grants live in the backends' namespace and let routes of others use them. */
  readonly grants: Informer<ModelBackendGrant>;
  /** Backend namespace → namespaces whose routes reference a backend there; rebuilt after route changes. */
  private referencing: Map<string, Set<string>> | undefined;

  /**
   * `namespace`: watch only it; `namespaces`: only these (several, watched
   * cluster-wide and filtered); neither: every namespace.
   */
  constructor(
    client: KubeClient,
    logger: Logger,
    namespace: string | undefined,
    namespaces?: readonly string[],
  ) {
    const scope = namespace !== undefined ? { namespace } : namespaces ? { namespaces } : {};
    const watch = <T extends ObjectMetaLike>(kind: ResourceKind<T>, labelSelector?: string) =>
      new Informer<T>(client, {
        kind,
        ...scope,
        ...(labelSelector ? { labelSelector } : {}),
        onError: (e: Error) => logger.warn('watch error', { kind: kind.kind, error: e }),
      });
    this.routes = watch(modelRoutes);
    this.backends = watch(modelBackends);
    this.pods = watch(pods, `${PROXY_LABEL}=true`);
    this.services = watch(services);
    this.endpointSlices = watch(endpointSlices);
    this.tenants = watch(modelTenants);
    this.apiKeys = watch(modelAPIKeys);
    this.grants = watch(modelBackendGrants);
    this.routes.on(() => (this.referencing = undefined));
  }

  private get all(): [CacheEvent['kind'], Informer<ObjectMetaLike>][] {
    return [
      ['route', this.routes],
      ['backend', this.backends],
      ['pod', this.pods],
      ['service', this.services],
      ['endpointSlice', this.endpointSlices],
      ['tenant', this.tenants],
      ['apiKey', this.apiKeys],
      ['grant', this.grants],
    ];
  }

  /** Tells `listener` which object of which kind changed. */
  on(listener: (event: CacheEvent) => void): void {
    for (const [kind, informer] of this.all) {
      informer.on((e) =>
        listener({ kind, type: e.type, key: e.key, namespace: e.object.metadata.namespace }),
      );
    }
  }

  get synced(): boolean {
    return this.all.every(([, i]) => i.synced);
  }

  async start(timeoutMs: number): Promise<void> {
    for (const [, informer] of this.all) informer.start();
    await Promise.all(this.all.map(([, i]) => i.waitForSync(timeoutMs)));
  }

  stop(): void {
    for (const [, informer] of this.all) informer.stop();
  }

  /** Namespaces holding anything the controller acts on. */
  namespaces(): string[] {
    const set = new Set<string>();
    for (const o of [
      ...this.routes.list(),
      ...this.backends.list(),
      ...this.pods.list(),
      ...this.tenants.list(),
      ...this.apiKeys.list(),
    ])
      set.add(o.metadata.namespace ?? 'default');
    return [...set];
  }

  /**
   * Namespaces (other than `backendNamespace`) whose routes reference a
   * backend of `backendNamespace`: what a change to a backend or grant there
   * also affects.
   */
  referencingNamespaces(backendNamespace: string): string[] {
    if (!this.referencing) {
      const index = new Map<string, Set<string>>();
      for (const route of this.routes.list()) {
        const ns = route.metadata.namespace ?? 'default';
        for (const key of referencedBackends(route)) {
          const target = backendIdOfKey(ns, key).split('/')[0]!;
          if (target === ns) continue;
          const set = index.get(target) ?? new Set<string>();
          set.add(ns);
          index.set(target, set);
        }
      }
      this.referencing = index;
    }
    return [...(this.referencing.get(backendNamespace) ?? [])];
  }

  snapshot(ns: string): NamespaceSnapshot {
    const routes = inNamespace(this.routes.list(), ns);
    // Backends of other namespaces the routes name, and the grants there that may allow them.
    const foreignIds = new Set(
      routes.flatMap((r) => referencedBackends(r).map((key) => backendIdOfKey(ns, key))),
    );
    const foreignNamespaces = new Set<string>();
    for (const id of foreignIds) {
      const target = id.split('/')[0]!;
      if (target === ns) foreignIds.delete(id);
      else foreignNamespaces.add(target);
    }
    const pods = inNamespace(this.pods.list(), ns);
    return {
      namespace: ns,
      routes,
      backends: inNamespace(this.backends.list(), ns),
      foreignBackends: [...foreignIds].flatMap((id) => this.backends.get(id) ?? []),
      grants: this.grants.list().filter((g) => foreignNamespaces.has(g.metadata.namespace ?? '')),
      tenants: inNamespace(this.tenants.list(), ns),
      apiKeys: inNamespace(this.apiKeys.list(), ns),
      workloads: pods.flatMap((p) => (p.metadata.deletionTimestamp ? [] : (workloadOf(p) ?? []))),
      proxies: pods.flatMap((p) => proxyPodOf(p) ?? []),
      serviceExists: (name) => this.services.get(`${ns}/${name}`) !== undefined,
      readyEndpoints: (name) => {
        const slices = inNamespace(this.endpointSlices.list(), ns).filter(
          (s) => s.metadata.labels?.[SERVICE_NAME_LABEL] === name,
        );
        if (slices.length === 0) return undefined;
        let ready = 0;
        for (const slice of slices)
          for (const e of slice.endpoints ?? [])
            if (e.conditions?.ready !== false) ready += e.addresses.length;
        return ready;
      },
    };
  }
}
