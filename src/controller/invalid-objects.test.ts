import { modelRoute } from '../api/v1alpha1/index.js';
import { modelRoutes } from '../k8s/kinds.js';
import { KubeApiError } from '../k8s/types.js';
import { translateWatchEvent } from '../k8s/kube-client.js';
import { FakeKubeClient } from './__fixtures__/fake-kube-client.js';
import { InvalidObjects } from './invalid-objects.js';

const route = modelRoute.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelRoute',
  metadata: { name: 'chat', namespace: 'team', generation: 3, uid: 'uid-chat' },
  spec: { model: 'chat', rules: [{ name: 'main', backendRefs: [{ name: 'a' }] }] },
  status: {
    conditions: [
      {
        type: 'Ready',
        status: 'True',
        reason: 'Ready',
        message: 'serving',
        lastTransitionTime: '2026-01-01T00:00:00Z',
      },
    ],
    programmed: '1/1',
    healthyBackends: '1/1',
  },
});

test('issue 11 class 8: a refused object gets Accepted=False and Ready=False InvalidSpec with the field and why, once', async () => {
  const client = new FakeKubeClient();
  client.put(modelRoutes, route);
  // What the API server may hold and the controller's parse refuses (the watch path).
  const raw = { ...route, spec: { ...route.spec, rules: [] } };
  const step = translateWatchEvent(modelRoutes, 'MODIFIED', raw);
  expect(step.invalid).toBeDefined();
  const invalid = new InvalidObjects();
  expect(
    invalid.report(
      'ModelRoute',
      step.invalid!.name,
      step.invalid!.message,
      step.invalid!.generation,
      step.invalid!.uid,
    ),
  ).toBe('team');
  const told: string[] = [];
  const onWritten = (e: { kind: string; name: string; uid?: string | undefined }) =>
    told.push(`${e.kind} ${e.name} ${e.uid}`);
  await invalid.writeStatuses(client, 'team', Date.UTC(2026, 0, 2), onWritten);
  // Its Event (the uid lets `kubectl describe` list it) is told once per message, like the status.
  expect(told).toEqual(['ModelRoute chat uid-chat']);
  const status = client.peek(modelRoutes, { namespace: 'team', name: 'chat' })!.status!;
  expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
    ['Accepted', 'False', 'InvalidSpec'],
    ['Ready', 'False', 'InvalidSpec'],
  ]);
  expect(status.conditions?.[1]?.message).toContain('spec.rules');
  expect(status.observedGeneration).toBe(3);
  // The figures describing a spec no longer served are gone: PROGRAMMED no longer says 1/1.
  expect(status.programmed).toBeUndefined();
  expect(status.healthyBackends).toBeUndefined();
  // Written once: a second reconcile does not rewrite it.
  const writes = client.callsOf('patchStatus').length;
  invalid.report('ModelRoute', 'team/chat', step.invalid!.message, 3);
  await invalid.writeStatuses(client, 'team', Date.UTC(2026, 0, 2), onWritten);
  expect(client.callsOf('patchStatus').length).toBe(writes);
  expect(told).toHaveLength(1);
  // A new leader tells it again; a valid version clears it.
  invalid.forgetWritten();
  await invalid.writeStatuses(client, 'team', Date.UTC(2026, 0, 2));
  expect(client.callsOf('patchStatus').length).toBe(writes + 1);
  invalid.clear('ModelRoute', 'team/chat');
  expect(invalid.namespaces()).toEqual([]);
});

test('an invalid object deleted meanwhile is forgotten; other kinds are not tracked', async () => {
  const client = new FakeKubeClient();
  const invalid = new InvalidObjects();
  invalid.report('ModelBackend', 'team/gone', 'spec.model: Required');
  expect(invalid.report('Pod', 'team/p', 'x')).toBeUndefined();
  await invalid.writeStatuses(client, 'team', 0);
  expect(invalid.namespaces()).toEqual([]);
});

test('a status write that fails is returned with its object and cause, and tried again next time', async () => {
  const client = new FakeKubeClient();
  client.put(modelRoutes, route);
  const invalid = new InvalidObjects();
  invalid.report('ModelRoute', 'team/chat', 'spec.rules: Too small');
  client.failNext('patchStatus', new KubeApiError('etcd timeout', 500));
  const failures = await invalid.writeStatuses(client, 'team', 0);
  expect(failures).toEqual([{ object: 'ModelRoute team/chat', error: expect.any(KubeApiError) }]);
  expect(await invalid.writeStatuses(client, 'team', 0)).toEqual([]);
  expect(
    client.peek(modelRoutes, { namespace: 'team', name: 'chat' })!.status?.conditions?.[0]?.reason,
  ).toBe('InvalidSpec');
});
