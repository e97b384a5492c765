// The API server as the controller benchmark uses it: reachability, CRDs, a
// throwaway namespace per run, bulk creation and proxy Pods made Ready by hand
// (nothing runs pods here). Reads and writes go through our KubeClient; only
// the deletes it does not offer use client-node's typed APIs, here and nowhere
// else in the benchmark.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import { allCRDs, type CustomResourceDefinition } from '../api/crd.js';
import { connectToCluster, loadKubeConfig } from '../k8s/cluster.js';
import { createKubeClient } from '../k8s/kube-client.js';
import { kubeMeta, modelRoutes, pods } from '../k8s/kinds.js';
import { KubeApiError, type KubeClient, type ResourceKind } from '../k8s/types.js';
import { ADMIN_PORT_ANNOTATION, PROXY_LABEL } from '../controller/controller.js';
import { withAlias } from './controller-objects.js';

const conditionList = z.array(z.looseObject({ type: z.string(), status: z.string() })).nullish();

const crdSchema = z.looseObject({
  apiVersion: z.literal('apiextensions.k8s.io/v1'),
  kind: z.literal('CustomResourceDefinition'),
  metadata: kubeMeta,
  spec: z.looseObject({}),
  status: z.looseObject({ conditions: conditionList }).optional(),
});
const crds: ResourceKind<z.infer<typeof crdSchema>> = {
  group: 'apiextensions.k8s.io',
  version: 'v1',
  plural: 'customresourcedefinitions',
  kind: 'CustomResourceDefinition',
  namespaced: false,
  schema: crdSchema,
};

const namespaceSchema = z.looseObject({
  apiVersion: z.literal('v1'),
  kind: z.literal('Namespace'),
  metadata: kubeMeta,
});
const namespaces: ResourceKind<z.infer<typeof namespaceSchema>> = {
  group: '',
  version: 'v1',
  plural: 'namespaces',
  kind: 'Namespace',
  namespaced: false,
  schema: namespaceSchema,
};

const CRD_ESTABLISHED_TIMEOUT_MS = 30_000;
/** Writes in flight at once while creating objects: enough to keep etcd busy, not to swamp 2 cores. */
export const CREATE_CONCURRENCY = 16;

/** Runs `task` over `items` with at most `limit` running at once; rejects on the first failure. */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      await task(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface ProxyPodSpec {
  name: string;
  ip: string;
  adminPort: number;
}

export class BenchCluster {
  readonly client: KubeClient;
  private readonly core: k8s.CoreV1Api;
  private readonly custom: k8s.CustomObjectsApi;

  private constructor(
    /** Absolute path: the controller child runs in another working directory. */
    readonly kubeconfig: string,
    readonly serverVersion: string,
  ) {
    this.client = createKubeClient({ kubeconfigPath: kubeconfig, userAgent: 'modelroute-bench' });
    const kc = loadKubeConfig(kubeconfig);
    this.core = kc.makeApiClient(k8s.CoreV1Api);
    this.custom = kc.makeApiClient(k8s.CustomObjectsApi);
  }

  /** Connects, or throws an error that tells the user how to start an API server. */
  static async connect(kubeconfigPath: string): Promise<BenchCluster> {
    const kubeconfig = resolve(kubeconfigPath);
    const hint =
      'start the test API server with `npm run testenv -- up` (or pass --kubeconfig for another cluster)';
    if (!existsSync(kubeconfig)) throw new Error(`no kubeconfig at ${kubeconfig}: ${hint}`);
    let version: string;
    try {
      version = await connectToCluster(kubeconfig).serverVersion();
    } catch (err) {
      throw new Error(
        `the API server in ${kubeconfig} is not reachable (${(err as Error).message}): ${hint}`,
      );
    }
    return new BenchCluster(kubeconfig, version);
  }

  /**
   * Installs this release's CRDs (built from the same schemas as crds/*.yaml)
   * and waits until they are Established. Every kind the controller watches,
   * by default: with one missing its informer never syncs, and on a fresh API
   * server (no other test installed them first) the bench never starts.
   */
  async installCRDs(wanted: readonly CustomResourceDefinition[] = allCRDs()): Promise<void> {
    for (const crd of wanted) {
      for (let attempt = 1; ; attempt++) {
        const existing = await this.client.get(crds, { name: crd.metadata.name });
        try {
          if (!existing) await this.client.create(crds, { ...crd });
          else
            await this.client.replace(crds, {
              ...crd,
              metadata: { ...crd.metadata, resourceVersion: existing.metadata.resourceVersion },
            });
          break;
        } catch (err) {
          // Someone (a test suite) wrote it at the same moment: read it again.
          const raced = err instanceof KubeApiError && (err.status === 409 || err.status === 422);
          if (!raced || attempt >= 3) throw err;
        }
      }
    }
    for (const crd of wanted) {
      const deadline = Date.now() + CRD_ESTABLISHED_TIMEOUT_MS;
      for (;;) {
        const got = await this.client.get(crds, { name: crd.metadata.name });
        if (got?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True'))
          break;
        if (Date.now() > deadline)
          throw new Error(`CRD ${crd.metadata.name} not Established within 30 s`);
        await sleep(100);
      }
    }
  }

  async createNamespace(prefix: string): Promise<string> {
    const name = `${prefix}-${randomBytes(3).toString('hex')}`;
    await this.client.create(namespaces, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name },
    });
    return name;
  }

  /** Creates a Pod labelled as a proxy and marks it Running and Ready at `ip`, as a kubelet would. */
  async registerProxyPod(namespace: string, proxy: ProxyPodSpec): Promise<void> {
    await this.client.create(pods, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: proxy.name,
        namespace,
        labels: { [PROXY_LABEL]: 'true' },
        annotations: { [ADMIN_PORT_ANNOTATION]: String(proxy.adminPort) },
      },
      spec: { containers: [{ name: 'proxy', image: 'modelroute:bench' }] },
    });
    await this.client.patchStatus(
      pods,
      { namespace, name: proxy.name },
      {
        status: {
          phase: 'Running',
          podIP: proxy.ip,
          podIPs: [{ ip: proxy.ip }],
          conditions: [
            {
              type: 'Ready',
              status: 'True',
              lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
            },
          ],
        },
      },
    );
  }

  /**
   * Gives a ModelRoute `alias` as its only alias (a spec change: new generation).
   * A 409 means the controller wrote status in between: read and try again.
   * `answeredNs` is when the API server's answer was in hand (the change may
   * reach proxies earlier: see change-timing.ts).
   */
  async writeRouteAlias(
    namespace: string,
    name: string,
    alias: string,
  ): Promise<{ sentNs: bigint; answeredNs: bigint; generation: number }> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.client.get(modelRoutes, { namespace, name });
      if (!current) throw new Error(`ModelRoute ${namespace}/${name} disappeared`);
      const sentNs = process.hrtime.bigint();
      try {
        const written = await this.client.replace(modelRoutes, withAlias(current, alias));
        const answeredNs = process.hrtime.bigint();
        const generation = written.metadata.generation;
        if (generation === undefined) throw new Error(`ModelRoute ${name} has no generation`);
        return { sentNs, answeredNs, generation };
      } catch (err) {
        if (!(err instanceof KubeApiError && err.status === 409) || attempt >= 10) throw err;
      }
    }
  }

  /**
   * Deletes what the benchmark put in a namespace, then the namespace. There is
   * no namespace controller here to empty it, so the objects go first and the
   * namespace's finalizer is cleared by hand.
   */
  async deleteNamespace(
    namespace: string,
    plurals: readonly string[] = ['modelroutes', 'modelbackends'],
  ): Promise<void> {
    for (const plural of plurals)
      await this.custom.deleteCollectionNamespacedCustomObject({
        group: 'modelroute.io',
        version: 'v1alpha1',
        namespace,
        plural,
      });
    await this.core.deleteCollectionNamespacedPod({ namespace, gracePeriodSeconds: 0 });
    await this.core.deleteCollectionNamespacedEvent({ namespace });
    await this.custom.deleteCollectionNamespacedCustomObject({
      group: 'coordination.k8s.io',
      version: 'v1',
      namespace,
      plural: 'leases',
    });
    await this.core.deleteNamespace({ name: namespace });
    await this.core.replaceNamespaceFinalize({
      name: namespace,
      body: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name: namespace },
        spec: { finalizers: [] },
      },
    });
  }
}
