// The per-namespace snapshot with backends owned elsewhere: a route's
// namespace sees the foreign backends it names and the grants where they
// live, and a change in the platform namespace knows whom it affects.
import {
  modelBackend,
  modelBackendGrant,
  modelRoute,
  type ModelBackendGrantSpec,
} from '../api/v1alpha1/index.js';
import { modelBackendGrants, modelBackends, modelRoutes } from '../k8s/kinds.js';
import { createLogger } from '../telemetry/logger.js';
import { FakeKubeClient } from './__fixtures__/fake-kube-client.js';
import { ControllerCaches } from './caches.js';

const backend = (name: string, namespace: string) =>
  modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name, namespace },
    spec: { provider: 'openai-compatible', endpoint: `http://${name}:8000/v1`, model: name },
  });
const route = (namespace: string, refs: { name: string; namespace?: string }[]) =>
  modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'chat', namespace },
    spec: { model: 'chat', rules: [{ name: 'main', backendRefs: refs }] },
  });
const grant = (namespace: string, spec: ModelBackendGrantSpec) =>
  modelBackendGrant.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackendGrant',
    metadata: { name: 'apps', namespace },
    spec,
  });

async function caches(namespaces?: string[]) {
  const fake = new FakeKubeClient();
  fake.put(modelBackends, backend('gpt', 'platform'));
  fake.put(modelBackends, backend('claude', 'platform'));
  fake.put(modelBackends, backend('local', 'team-a'));
  fake.put(
    modelRoutes,
    route('team-a', [{ name: 'gpt', namespace: 'platform' }, { name: 'local' }]),
  );
  fake.put(modelRoutes, route('team-b', [{ name: 'claude', namespace: 'platform' }]));
  fake.put(modelBackendGrants, grant('platform', { from: [{ namespace: 'team-a' }] }));
  fake.put(modelBackendGrants, grant('elsewhere', { from: [{ namespace: 'team-a' }] }));
  const c = new ControllerCaches(fake, createLogger({ write: () => {} }), undefined, namespaces);
  await c.start(5_000);
  return c;
}

test('a namespace’s snapshot holds the foreign backends its routes name and the grants of their namespaces', async () => {
  const c = await caches();
  const a = c.snapshot('team-a');
  expect(a.backends.map((b) => b.metadata.name)).toEqual(['local']);
  expect(a.foreignBackends?.map((b) => `${b.metadata.namespace}/${b.metadata.name}`)).toEqual([
    'platform/gpt',
  ]);
  expect(a.grants?.map((g) => g.metadata.namespace)).toEqual(['platform']);
  c.stop();
});

test('a change in the platform namespace reaches the namespaces whose routes use its backends', async () => {
  const c = await caches();
  expect(c.referencingNamespaces('platform').sort()).toEqual(['team-a', 'team-b']);
  expect(c.referencingNamespaces('team-a')).toEqual([]);
  c.stop();
});

test('scoped to a few namespaces, the others are not seen', async () => {
  const c = await caches(['team-a', 'team-b']);
  expect(c.snapshot('team-a').foreignBackends).toEqual([]);
  expect(c.namespaces().sort()).toEqual(['team-a', 'team-b']);
  c.stop();
});
