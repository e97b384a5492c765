// The one place that talks to the Kubernetes client library. The rest of the
// code uses this small interface, and every object read from the API server
// is checked with our zod schemas before use.
import * as k8s from '@kubernetes/client-node';
import { z } from 'zod';
import {
  GROUP,
  VERSION,
  modelBackend,
  modelRoute,
  type ModelBackend,
  type ModelRoute,
} from '../api/v1alpha1/index.js';

export interface ClusterConnection {
  /** The API server's version, e.g. v1.36.3. */
  serverVersion(): Promise<string>;
  listModelRoutes(namespace: string): Promise<ModelRoute[]>;
  listModelBackends(namespace: string): Promise<ModelBackend[]>;
}

/** Loads a kubeconfig from a file, or the usual places (KUBECONFIG, ~/.kube, in-cluster). */
export function loadKubeConfig(path?: string): k8s.KubeConfig {
  const kc = new k8s.KubeConfig();
  if (path) kc.loadFromFile(path);
  else kc.loadFromDefault();
  return kc;
}

const list = <T extends z.ZodType>(item: T) => z.looseObject({ items: z.array(item) });

export function connectToCluster(kubeconfigPath?: string): ClusterConnection {
  const kc = loadKubeConfig(kubeconfigPath);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const version = kc.makeApiClient(k8s.VersionApi);
  const listOf = async <T extends z.ZodType>(
    plural: string,
    namespace: string,
    item: T,
  ): Promise<z.output<T>[]> => {
    const raw: unknown = await custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace,
      plural,
    });
    const parsed = list(item).safeParse(raw);
    if (!parsed.success) {
      throw new Error(
        `the API server returned ${plural} that do not match modelroute's schema (are the CRDs from this release installed?): ${parsed.error.issues[0]?.message ?? ''}`,
      );
    }
    return parsed.data.items;
  };
  return {
    serverVersion: async () => (await version.getCode()).gitVersion,
    listModelRoutes: (namespace) => listOf('modelroutes', namespace, modelRoute),
    listModelBackends: (namespace) => listOf('modelbackends', namespace, modelBackend),
  };
}
