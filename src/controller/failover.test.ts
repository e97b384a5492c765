import { modelRoute } from '../api/v1alpha1/index.js';
import { createLogger } from '../telemetry/logger.js';
import { FakeKubeClient } from './__fixtures__/fake-kube-client.js';
import { EventRecorder } from './event-recorder.js';
import { failoverEvent, recordFailover, type Failover } from './failover.js';

const route = (name: string, refs: string[]) =>
  modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name, namespace: 'ns' },
    spec: {
      model: name,
      rules: [{ name: 'r', strategy: 'priority', backendRefs: refs.map((n) => ({ name: n })) }],
    },
  });
const record = {
  state: 'Unhealthy' as const,
  consecutiveFailures: 3,
  consecutiveSuccesses: 0,
  message: 'probe failed: ECONNREFUSED',
};

test('a backend going Unhealthy records a failover to the next usable backend on every route using it', () => {
  const failovers = new Map<string, Failover>();
  const routes = [route('chat', ['a', 'b', 'c']), route('other', ['x'])];
  const health = new Map([
    ['ns/a', 'Unhealthy' as const],
    ['ns/b', 'Unhealthy' as const],
  ]);
  const changed = recordFailover(
    failovers,
    routes,
    { backendId: 'ns/a', from: 'Healthy', to: 'Unhealthy', record },
    health,
    60_000,
  );
  expect(changed).toEqual(['ns/chat']);
  expect(failovers.get('ns/chat')).toEqual({
    time: '1970-01-01T00:01:00Z',
    from: 'a',
    to: 'c',
    reason: 'ModelBackend a became Unhealthy: probe failed: ECONNREFUSED',
  });
});

test('recovery sets recoveredTime once; other backends recovering leave it alone', () => {
  const failovers = new Map<string, Failover>([
    ['ns/chat', { time: 't', from: 'a', to: 'b', reason: 'r' }],
  ]);
  const routes = [route('chat', ['a', 'b'])];
  const healthy = { ...record, state: 'Healthy' as const };
  expect(
    recordFailover(
      failovers,
      routes,
      { backendId: 'ns/b', from: 'Unhealthy', to: 'Healthy', record: healthy },
      new Map(),
      1000,
    ),
  ).toEqual([]);
  expect(
    recordFailover(
      failovers,
      routes,
      { backendId: 'ns/a', from: 'Unhealthy', to: 'Healthy', record: healthy },
      new Map(),
      2000,
    ),
  ).toEqual(['ns/chat']);
  expect(failovers.get('ns/chat')?.recoveredTime).toBe('1970-01-01T00:00:02Z');
  expect(
    recordFailover(
      failovers,
      routes,
      { backendId: 'ns/a', from: 'Unknown', to: 'Healthy', record: healthy },
      new Map(),
      3000,
    ),
  ).toEqual([]);
});

test('a failover and its recovery are Events on the route, naming the backends', () => {
  const chat = route('chat', ['a', 'b']);
  expect(
    failoverEvent(chat, {
      time: 't',
      from: 'a',
      to: 'b',
      reason: 'ModelBackend a became Unhealthy',
    }),
  ).toEqual({
    involved: {
      kind: 'ModelRoute',
      apiVersion: 'modelroute.io/v1alpha1',
      namespace: 'ns',
      name: 'chat',
      uid: undefined,
    },
    type: 'Warning',
    reason: 'Failover',
    message: 'ModelBackend a became Unhealthy: traffic moved to b',
  });
  expect(failoverEvent(chat, { time: 't', from: 'a', reason: 'x' }).message).toBe(
    'ModelBackend a became Unhealthy and no other backend of this route is usable',
  );
  expect(
    failoverEvent(chat, { time: 't', from: 'a', to: 'b', reason: 'x', recoveredTime: 't2' }),
  ).toMatchObject({ type: 'Normal', reason: 'FailoverRecovered' });
});

test('a flapping backend does not flood: two Events on the route, counted', async () => {
  let now = 0;
  const client = new FakeKubeClient();
  const events = new EventRecorder({
    client,
    component: 'test',
    logger: createLogger({ level: 'error', write: () => {} }),
    now: () => now,
  });
  const failovers = new Map<string, Failover>();
  const routes = [route('chat', ['a', 'b'])];
  for (let flap = 0; flap < 25; flap++) {
    for (const to of ['Unhealthy', 'Healthy'] as const) {
      now += 5_000;
      const transition = {
        backendId: 'ns/a',
        from: to === 'Unhealthy' ? ('Healthy' as const) : ('Unhealthy' as const),
        to,
        // Probe text differs every time; the route's Events do not carry it.
        record: { ...record, state: to, message: `probe failed after ${flap} ms` },
      };
      const health = new Map([['ns/a', to]]);
      for (const id of recordFailover(failovers, routes, transition, health, now))
        await events.record(failoverEvent(routes[0]!, failovers.get(id)!));
    }
  }
  expect(client.events.map((e) => [e.reason, e.count])).toEqual([
    ['Failover', 25],
    ['FailoverRecovered', 25],
  ]);
});
