import { FakeKubeClient } from './__fixtures__/fake-kube-client.js';
import { COMBINED_PREFIX, EventRecorder } from './event-recorder.js';
import { createLogger } from '../telemetry/logger.js';
import { KubeApiError } from '../k8s/types.js';

const involved = (name: string) => ({
  kind: 'ModelBackend',
  apiVersion: 'modelroute.io/v1alpha1',
  namespace: 'team',
  name,
});

function setup() {
  let now = 0;
  const client = new FakeKubeClient();
  const recorder = new EventRecorder({
    client,
    component: 'test',
    logger: createLogger({ level: 'error', write: () => {} }),
    now: () => now,
  });
  return { client, recorder, advance: (ms: number) => (now += ms) };
}

const unhealthy = (name: string, message = 'probe failed') => ({
  involved: involved(name),
  type: 'Warning' as const,
  reason: 'BackendUnhealthy',
  message,
});

test('a repeated Event within the window is counted on the first, not written again', async () => {
  const { client, recorder, advance } = setup();
  for (let i = 0; i < 5; i++) {
    await recorder.record(unhealthy('a'));
    advance(60_000);
  }
  expect(client.events).toHaveLength(1);
  expect(client.events[0]).toMatchObject({
    count: 5,
    reason: 'BackendUnhealthy',
    component: 'test',
  });
  // Another object, or another reason, is another Event.
  await recorder.record(unhealthy('b'));
  await recorder.record({ ...unhealthy('a'), type: 'Normal', reason: 'BackendHealthy' });
  expect(client.events).toHaveLength(3);
  // After the window a new Event starts.
  advance(11 * 60_000);
  await recorder.record(unhealthy('a'));
  expect(client.events).toHaveLength(4);
});

test('concurrent repeats are serialized: one Event, counted', async () => {
  const { client, recorder } = setup();
  await Promise.all(Array.from({ length: 20 }, () => recorder.record(unhealthy('a'))));
  expect(client.events).toHaveLength(1);
  expect(client.events[0]!.count).toBe(20);
});

test('more than ten different messages for one object and reason are combined', async () => {
  const { client, recorder } = setup();
  for (let i = 0; i < 30; i++)
    await recorder.record(unhealthy('a', `probe failed: attempt ${i % 15}`));
  const combined = client.events.filter((e) => e.message.startsWith(COMBINED_PREFIX));
  // Ten distinct messages, then one combined Event counting the other twenty.
  expect(client.events).toHaveLength(11);
  expect(combined).toHaveLength(1);
  expect(combined[0]!.count).toBe(20);
});

test('an Event that expired on the server is written again; a failure is logged, not thrown', async () => {
  const { client, recorder } = setup();
  await recorder.record(unhealthy('a'));
  client.failNext('repeatEvent', new KubeApiError('gone', 404, 'NotFound'));
  await recorder.record(unhealthy('a'));
  expect(client.events).toHaveLength(2);
  client.failNext('createEvent', new KubeApiError('boom', 500));
  client.failNext('repeatEvent', new KubeApiError('boom', 500));
  await expect(recorder.record(unhealthy('c'))).resolves.toBeUndefined();
});
