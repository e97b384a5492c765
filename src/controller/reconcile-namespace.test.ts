import { modelBackend, modelRoute } from '../api/v1alpha1/index.js';
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
  const fleet = {
    setDesired: (p: ProxyPod, table: RoutingTable) => desired.set(p.key, table),
    desiredTable: (key: string) => desired.get(key),
    programmedVersion: () => undefined,
    keys: () => [...desired.keys()],
    remove: (key: string) => desired.delete(key),
  };
  return { desired, fleet: fleet as unknown as ProxyFleet };
}

test('pods selected by the same routes share one compiled table; others get their own', async () => {
  const { desired, fleet } = recordingFleet();
  const pods = [
    pod('app-1', { app: 'chat' }),
    pod('app-2', { app: 'chat' }),
    pod('gateway-1', { component: 'gateway' }),
    pod('gateway-2', { component: 'gateway' }),
  ];
  await reconcileNamespace(
    {
      namespace: 'team',
      routes: [route('everyone'), route('gateway-only', { matchLabels: { component: 'gateway' } })],
      backends: [backend('a')],
      proxies: pods,
      serviceExists: () => true,
      readyEndpoints: () => undefined,
    },
    {
      fleet,
      health: new BackendHealthTracker(() => 0),
      secretExists: () => Promise.resolve(true),
      failovers: new Map(),
      observed: () => undefined,
      writeRouteStatus: () => Promise.resolve(),
      writeBackendStatus: () => Promise.resolve(),
      now: () => 0,
    },
  );
  const models = (key: string) => desired.get(key)?.routes.map((r) => r.model);
  expect(models('team/app-1')).toEqual(['everyone']);
  expect(models('team/gateway-1')).toEqual(['everyone', 'gateway-only']);
  expect(desired.get('team/app-2')).toBe(desired.get('team/app-1'));
  expect(desired.get('team/gateway-2')).toBe(desired.get('team/gateway-1'));
  expect(new Set(desired.values()).size).toBe(2);
});
