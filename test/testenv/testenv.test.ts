// The test API server's kubeconfig works for kubectl, helm and the client library.
import { connectToCluster } from '../../src/k8s/cluster.js';
import {
  createNamespace,
  helm,
  installCRDs,
  kubectl,
  mustKubectl,
  testenv,
} from '../support/cluster.js';

test('kubectl talks to the pinned kube-apiserver version', () => {
  const version = JSON.parse(mustKubectl(['version', '-o', 'json'])) as {
    serverVersion: { gitVersion: string };
  };
  expect(version.serverVersion.gitVersion).toMatch(/^v1\.\d+\.\d+$/);
});

test('helm can use the kubeconfig', () => {
  const r = helm(['list', '--all-namespaces', '--kubeconfig', testenv.kubeconfig]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
});

test('the client library reads the kubeconfig and gets our objects back through zod', async () => {
  installCRDs();
  const namespace = createNamespace('client');
  mustKubectl(
    ['apply', '-n', namespace, '-f', '-'],
    JSON.stringify({
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelBackend',
      metadata: { name: 'mini' },
      spec: { provider: 'openai', endpoint: 'https://api.openai.com/v1', model: 'gpt-4o-mini' },
    }),
  );
  const cluster = connectToCluster(testenv.kubeconfig);
  expect(await cluster.serverVersion()).toMatch(/^v1\./);
  const backends = await cluster.listModelBackends(namespace);
  expect(backends.map((b) => [b.metadata.name, b.spec.capabilities])).toEqual([['mini', ['chat']]]);
  expect(await cluster.listModelRoutes(namespace)).toEqual([]);
});

test('RBAC is enforced: an unprivileged identity is refused', () => {
  const r = kubectl(['get', 'modelroutes', '-A', '--as', 'nobody']);
  expect(r.code).not.toBe(0);
  expect(r.stderr).toMatch(/forbidden/);
});
