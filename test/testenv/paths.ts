// Where the control-plane test binaries live, keyed by the pinned versions.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const TESTENV_DIR = join(REPO_ROOT, '.testenv');
export const TOOLS_DIR = join(REPO_ROOT, 'test', 'testenv', 'tools');

export interface PinnedVersions {
  kube: string;
  helm: string;
  /** github.com/prometheus/prometheus module version (promtool: test/testenv/tools/promtool). */
  promtool: string;
}

export function pinnedVersions(): PinnedVersions {
  const text = readFileSync(join(REPO_ROOT, 'test', 'testenv', 'versions.env'), 'utf8');
  const get = (key: string): string => {
    const match = new RegExp(`^${key}=(v[0-9.]+)$`, 'm').exec(text);
    if (!match?.[1]) throw new Error(`test/testenv/versions.env must set ${key}=vX.Y.Z`);
    return match[1];
  };
  return {
    kube: get('KUBE_VERSION'),
    helm: get('HELM_VERSION'),
    promtool: get('PROMTOOL_VERSION'),
  };
}

export interface BinaryPaths {
  kubeApiserver: string;
  kubectl: string;
  etcd: string;
  helm: string;
  /** The node components: a real single-node cluster (test/node/cluster.ts). */
  kubelet: string;
  kubeScheduler: string;
  kubeControllerManager: string;
  kubeProxy: string;
  /** Checks and unit-tests the chart's PrometheusRule (test/install/monitoring.test.ts). */
  promtool: string;
}

export function binaryPaths(versions: PinnedVersions = pinnedVersions()): BinaryPaths {
  const kubeDir = join(TESTENV_DIR, 'bin', `kube-${versions.kube}`);
  return {
    kubeApiserver: join(kubeDir, 'kube-apiserver'),
    kubectl: join(kubeDir, 'kubectl'),
    etcd: join(kubeDir, 'etcd'),
    helm: join(TESTENV_DIR, 'bin', `helm-${versions.helm}`, 'helm'),
    kubelet: join(kubeDir, 'kubelet'),
    kubeScheduler: join(kubeDir, 'kube-scheduler'),
    kubeControllerManager: join(kubeDir, 'kube-controller-manager'),
    kubeProxy: join(kubeDir, 'kube-proxy'),
    promtool: join(TESTENV_DIR, 'bin', `promtool-${versions.promtool}`, 'promtool'),
  };
}
