import {
  modelBackend,
  modelRoute,
  type ModelRoute,
  type ModelRouteStatus,
} from '../api/v1alpha1/index.js';
import { BackendHealthTracker } from '../routing/health-tracker.js';
import type { RoutingTable } from '../routing/table.js';
import type { ProxyFleet, ProxyPod } from './proxy-fleet.js';
import { reconcileNamespace } from './reconcile-namespace.js';

const backend = (name: string) =>
  modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name, namespace: 'team', generation: 1 },
    spec: { provider: 'openai-compatible', endpoint: `http://${name}:8000/v1`, model: name },
  });

const route = (name: string, proxySelector?: object) =>
  modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name, namespace: 'team', generation: 1 },
    spec: {
      model: name,
      ...(proxySelector ? { proxySelector } : {}),
      rules: [{ name: 'main', strategy: 'priority', backendRefs: [{ name: 'a' }] }],
    },
  });

const pod = (name: string, labels: Record<string, string>): ProxyPod => ({
  key: `team/${name}`,
  namespace: 'team',
  name,
  uid: `uid-${name}`,
  labels,
  adminUrl: `http://${name}:9901`,
});

/** The fleet as the reconciler uses it, recording what each pod should run. */
function recordingFleet() {
  const desired = new Map<string, RoutingTable>();
  const running = new Map<string, RoutingTable>();
  const fleet = {
    setDesired: (p: ProxyPod, table: RoutingTable) => desired.set(p.key, table),
    desiredTable: (key: string) => desired.get(key),
    runningTable: (key: string) => running.get(key),
    keys: () => [...desired.keys()],
    remove: (key: string) => desired.delete(key),
  };
  /** Every pod acknowledges what it should run. */
  const ackAll = () => desired.forEach((table, key) => running.set(key, table));
  return { desired, ackAll, fleet: fleet as unknown as ProxyFleet };
}

const pods = [
  pod('app-1', { app: 'chat' }),
  pod('app-2', { app: 'chat' }),
  pod('gateway-1', { component: 'gateway' }),
  pod('gateway-2', { component: 'gateway' }),
];

/** One reconcile of namespace "team" with these routes; returns the route statuses written. */
async function reconcile(fleet: ProxyFleet, routes: ModelRoute[]) {
  const written = new Map<string, ModelRouteStatus>();
  await reconcileNamespace(
    {
      namespace: 'team',
      routes,
      backends: [backend('a')],
      proxies: pods,
      serviceExists: () => true,
      readyEndpoints: () => undefined,
    },
    {
      fleet,
      health: new BackendHealthTracker(() => 0),
      secretKeys: () => Promise.resolve(new Set(['apiKey'])),
      failovers: new Map(),
      observed: () => undefined,
      writeRouteStatus: (r, status) => {
        written.set(r.metadata.name, status);
        return Promise.resolve();
      },
      writeBackendStatus: () => Promise.resolve(),
      now: () => 0,
    },
  );
  return written;
}

test('pods selected by the same routes share one compiled table; others get their own', async () => {
  const { desired, fleet } = recordingFleet();
  await reconcile(fleet, [
    route('everyone'),
    route('gateway-only', { matchLabels: { component: 'gateway' } }),
  ]);
  const models = (key: string) => desired.get(key)?.routes.map((r) => r.model);
  expect(models('team/app-1')).toEqual(['everyone']);
  expect(models('team/gateway-1')).toEqual(['everyone', 'gateway-only']);
  expect(desired.get('team/app-2')).toBe(desired.get('team/app-1'));
  expect(desired.get('team/gateway-2')).toBe(desired.get('team/gateway-1'));
  expect(new Set(desired.values()).size).toBe(2);
});

test('while a changed table is pushed, routes it did not change stay Programmed; the changed one is Pending', async () => {
  const { ackAll, fleet } = recordingFleet();
  const gatewayOnly = { matchLabels: { component: 'gateway' } };
  await reconcile(fleet, [route('everyone'), route('gateway-only', gatewayOnly)]);
  ackAll();
  const settled = await reconcile(fleet, [route('everyone'), route('gateway-only', gatewayOnly)]);
  expect(settled.get('everyone')?.programmed).toBe('4/4');
  expect(settled.get('gateway-only')?.programmed).toBe('2/2');

  const changed = modelRoute.parse({
    ...route('gateway-only', gatewayOnly),
    spec: {
      model: 'gateway-only',
      proxySelector: gatewayOnly,
      rules: [{ name: 'main', strategy: 'least-cost', backendRefs: [{ name: 'a' }] }],
    },
  });
  const pushing = await reconcile(fleet, [route('everyone'), changed]);
  expect(pushing.get('everyone')).toMatchObject({
    programmed: '4/4',
    routeVersion: settled.get('everyone')?.routeVersion,
  });
  expect(pushing.get('gateway-only')?.programmed).toBe('0/2');
  expect(pushing.get('gateway-only')?.routeVersion).not.toBe(
    settled.get('gateway-only')?.routeVersion,
  );
  expect(
    pushing.get('gateway-only')?.conditions?.find((c) => c.type === 'Programmed'),
  ).toMatchObject({ status: 'False', reason: 'Pending' });
});
