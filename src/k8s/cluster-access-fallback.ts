// The kubeconfigs cluster-access.ts does not read itself (exec plugins,
// auth-provider, basic auth, proxy-url, impersonation) go to client-node, as
// every kubeconfig did before. Imported only then: the library costs ~80 MB RSS.
import type https from 'node:https';
import { KubeconfigError } from './kubeconfig-file.js';
import {
  chooseClusterAccess,
  defaultPlaces,
  type ClusterAccess,
  type ClusterAccessOptions,
  type KubeconfigPlaces,
} from './cluster-access.js';

async function clientNodeAccess(options: ClusterAccessOptions): Promise<ClusterAccess> {
  const { loadKubeConfig, useContext } = await import('./cluster.js');
  const kc = loadKubeConfig(options.kubeconfigPath);
  if (options.context) useContext(kc, options.context);
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new KubeconfigError(
      `the kubeconfig's current context names no cluster it defines; 'kubectl config view --minify' shows it`,
    );
  }
  return {
    server: cluster.server.replace(/\/+$/, ''),
    async requestOptions() {
      const opts: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      // client-node makes a new Agent each time; the caller brings its own.
      delete opts.agent;
      return opts;
    },
  };
}

/**
 * The cluster access for `options`, checked now (a bad kubeconfig throws
 * KubeconfigError here), and loaded on first use: client-node is imported
 * only for a kubeconfig that needs it.
 */
export function openClusterAccess(
  options: ClusterAccessOptions,
  places: KubeconfigPlaces = defaultPlaces(),
): () => Promise<ClusterAccess> {
  const choice = chooseClusterAccess(options, places);
  if (choice.kind === 'ready') {
    const ready = Promise.resolve(choice.access);
    return () => ready;
  }
  let loading: Promise<ClusterAccess> | undefined;
  return () => (loading ??= clientNodeAccess(options));
}
