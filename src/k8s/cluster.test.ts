// kubeconfig contexts as `modelroute keys` uses them: the context's namespace
// (kubectl's -n default) and an unknown --context refused by name.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeconfigNamespace, loadKubeConfig, useContext } from './cluster.js';

function kubeconfigFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'modelroute-kubeconfig-')), 'config');
  const cluster = (name: string, server: string) => ({ name, cluster: { server } });
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [cluster('dev', 'https://127.0.0.1:6443'), cluster('prod', 'https://10.0.0.1')],
      users: [{ name: 'me', user: { token: 'not-a-real-token' } }],
      contexts: [
        { name: 'dev', context: { cluster: 'dev', user: 'me' } },
        { name: 'prod', context: { cluster: 'prod', user: 'me', namespace: 'payments' } },
      ],
      'current-context': 'dev',
    }),
  );
  return file;
}

describe('kubeconfig contexts', () => {
  it("gives the current or the named context's namespace, undefined when it names none", () => {
    const file = kubeconfigFile();
    expect(kubeconfigNamespace(file)).toBeUndefined();
    expect(kubeconfigNamespace(file, 'prod')).toBe('payments');
  });

  it('switches the cluster with the context', () => {
    const kc = loadKubeConfig(kubeconfigFile());
    useContext(kc, 'prod');
    expect(kc.getCurrentCluster()?.server).toBe('https://10.0.0.1');
  });

  it('refuses an unknown context, naming the ones there are', () => {
    expect(() => kubeconfigNamespace(kubeconfigFile(), 'staging')).toThrow(
      `the kubeconfig has no context "staging" (it has: dev, prod); 'kubectl config get-contexts' lists them`,
    );
  });
});
