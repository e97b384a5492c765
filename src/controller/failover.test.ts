import { modelRoute } from '../api/v1alpha1/index.js';
import { recordFailover, type Failover } from './failover.js';

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
