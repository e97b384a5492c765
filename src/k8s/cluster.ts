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

/**
 * Switches to a named context, as kubectl's --context. The library accepts
 * any name and only fails later with "no current cluster", so an unknown
 * name is refused here, saying how to see the real ones.
 */
export function useContext(kc: k8s.KubeConfig, context: string): void {
  if (!kc.getContextObject(context)) {
    const known = kc.getContexts().map((c) => c.name);
    throw new Error(
      `the kubeconfig has no context "${context}"${known.length > 0 ? ` (it has: ${known.join(', ')})` : ''}; 'kubectl config get-contexts' lists them`,
    );
  }
  kc.setCurrentContext(context);
}

/**
 * The namespace of a kubeconfig context (`context`, else the current one), as
 * kubectl defaults -n; undefined when the context names none.
 */
export function kubeconfigNamespace(path?: string, context?: string): string | undefined {
  const kc = loadKubeConfig(path);
  if (context) useContext(kc, context);
  return kc.getContextObject(kc.getCurrentContext())?.namespace || undefined;
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
