// The controller's informer caches (every replica keeps them warm, leader or
// not, so a standby takes over at once) and the per-namespace snapshot the
// reconciler reads.
import type { ModelBackend, ModelRoute } from '../api/v1alpha1/index.js';
import {
  endpointSlices,
  modelBackends,
  modelRoutes,
  pods,
  services,
  SERVICE_NAME_LABEL,
  type EndpointSlice,
  type Pod,
  type Service,
} from '../k8s/kinds.js';
import type { KubeClient, ObjectMetaLike } from '../k8s/types.js';
import type { Logger } from '../telemetry/logger.js';
import { Informer, type InformerEvent } from './informer.js';
import { PROXY_LABEL, proxyPodOf } from './proxy-pod.js';
import type { NamespaceSnapshot } from './reconcile-namespace.js';

export const inNamespace = <T extends { metadata: { namespace?: string | undefined } }>(
  items: T[],
  ns: string,
): T[] => items.filter((o) => (o.metadata.namespace ?? 'default') === ns);

export type CacheEvent = { kind: 'route' | 'backend' | 'pod' | 'service' | 'endpointSlice' } & {
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

  constructor(client: KubeClient, logger: Logger, namespace: string | undefined) {
    const scope = namespace !== undefined ? { namespace } : {};
    const onError = (kind: string) => (e: Error) => logger.warn('watch error', { kind, error: e });
    this.routes = new Informer(client, {
      kind: modelRoutes,
      ...scope,
      onError: onError('ModelRoute'),
    });
    this.backends = new Informer(client, {
      kind: modelBackends,
      ...scope,
      onError: onError('ModelBackend'),
    });
    this.pods = new Informer(client, {
      kind: pods,
      ...scope,
      labelSelector: `${PROXY_LABEL}=true`,
      onError: onError('Pod'),
    });
    this.services = new Informer(client, { kind: services, ...scope, onError: onError('Service') });
    this.endpointSlices = new Informer(client, {
      kind: endpointSlices,
      ...scope,
      onError: onError('EndpointSlice'),
    });
  }

  private get all(): [CacheEvent['kind'], Informer<ObjectMetaLike>][] {
    return [
      ['route', this.routes],
      ['backend', this.backends],
      ['pod', this.pods],
      ['service', this.services],
      ['endpointSlice', this.endpointSlices],
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
    for (const o of [...this.routes.list(), ...this.backends.list(), ...this.pods.list()])
      set.add(o.metadata.namespace ?? 'default');
    return [...set];
  }

  snapshot(ns: string): NamespaceSnapshot {
    return {
      namespace: ns,
      routes: inNamespace(this.routes.list(), ns),
      backends: inNamespace(this.backends.list(), ns),
      proxies: inNamespace(this.pods.list(), ns).flatMap((p) => proxyPodOf(p) ?? []),
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
