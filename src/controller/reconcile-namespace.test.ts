import {
  modelBackend,
  modelRoute,
  type ModelBackend,
  type ModelRoute,
  type ModelRouteStatus,
} from '../api/v1alpha1/index.js';
import { BackendHealthTracker } from '../routing/health-tracker.js';
import { ruleKey, type RoutingTable } from '../routing/table.js';
import type { ProxyFleet, ProxyPod } from './proxy-fleet.js';
import { LastAcceptedRoutes } from './last-accepted.js';
import { reconcileNamespace, type ReconcileDeps } from './reconcile-namespace.js';

const backend = (name: string, quality?: number) =>
  modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name, namespace: 'team', generation: 1 },
    spec: {
      provider: 'openai-compatible',
      endpoint: `http://${name}:8000/v1`,
      model: name,
      ...(quality !== undefined ? { quality } : {}),
    },
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
  const pushErrors = new Map<string, string>();
  const fleet = {
    setDesired: (p: ProxyPod, table: RoutingTable) => desired.set(p.key, table),
    desiredTable: (key: string) => desired.get(key),
    runningTable: (key: string) => running.get(key),
    keys: () => [...desired.keys()],
    remove: (key: string) => desired.delete(key),
    pushError: (key: string) => pushErrors.get(key),
  };
  /** Every pod acknowledges what it should run. */
  const ackAll = () => desired.forEach((table, key) => running.set(key, table));
  return { desired, ackAll, pushErrors, fleet: fleet as unknown as ProxyFleet };
}

const pods = [
  pod('app-1', { app: 'chat' }),
  pod('app-2', { app: 'chat' }),
  pod('gateway-1', { component: 'gateway' }),
  pod('gateway-2', { component: 'gateway' }),
];

/** One reconcile of namespace "team" with these routes; returns the route statuses written. */
async function reconcile(
  fleet: ProxyFleet,
  routes: ModelRoute[],
  lastAccepted = new LastAcceptedRoutes(),
  {
    backends = [backend('a')],
    ...extra
  }: Partial<ReconcileDeps> & { backends?: ModelBackend[] } = {},
) {
  const written = new Map<string, ModelRouteStatus>();
  await reconcileNamespace(
    {
      namespace: 'team',
      routes,
      backends,
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
      lastAccepted,
      ...extra,
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

const condition = (status: ModelRouteStatus | undefined, type: string) =>
  status?.conditions?.find((c) => c.type === type);

/** A route of namespace "team" with this spec (uid fixed, generation given). */
const routeWith = (name: string, generation: number, spec: Record<string, unknown>) =>
  modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    // Older routes keep contested names; "other" is the oldest.
    metadata: {
      name,
      namespace: 'team',
      generation,
      uid: `uid-${name}`,
      creationTimestamp: name === 'other' ? '2026-01-01T00:00:00Z' : '2026-02-01T00:00:00Z',
    },
    spec: {
      model: name,
      rules: [{ name: 'main', strategy: 'priority', backendRefs: [{ name: 'a' }] }],
      ...spec,
    },
  });

test('a route that is not Accepted is in no table and says so: Programmed NotAccepted, Ready False', async () => {
  const { desired, fleet } = recordingFleet();
  const x = routeWith('x', 1, { fallback: { model: 'y' } });
  const y = routeWith('y', 1, { fallback: { model: 'x' } });
  const statuses = await reconcile(fleet, [x, y, route('everyone')]);
  for (const table of desired.values())
    expect(table.routes.map((r) => r.model)).toEqual(['everyone']);
  expect(condition(statuses.get('x'), 'Accepted')).toMatchObject({
    status: 'False',
    reason: 'FallbackCycle',
  });
  expect(condition(statuses.get('x'), 'Programmed')).toMatchObject({
    status: 'False',
    reason: 'NotAccepted',
    message: expect.stringContaining('requests for model "x" get 404'),
  });
  expect(condition(statuses.get('x'), 'Ready')).toMatchObject({
    status: 'False',
    reason: 'FallbackCycle',
  });
});

test('a refused edit keeps the last accepted version serving, and Ready says which', async () => {
  const { desired, ackAll, fleet } = recordingFleet();
  const memory = new LastAcceptedRoutes();
  const good = routeWith('chat', 1, { aliases: ['assistant'] });
  const other = routeWith('other', 1, {});
  await reconcile(fleet, [good, other], memory);
  ackAll();
  const servedBefore = desired.get('team/app-1')?.routes.find((r) => r.id === 'team/chat');
  // Generation 2 claims "other" as an alias: a conflict, so it is not Accepted.
  const bad = routeWith('chat', 2, { aliases: ['other'] });
  const statuses = await reconcile(fleet, [bad, other], memory);
  expect(desired.get('team/app-1')?.routes.find((r) => r.id === 'team/chat')).toEqual(servedBefore);
  const status = statuses.get('chat');
  expect(condition(status, 'Accepted')).toMatchObject({ status: 'False', reason: 'ModelConflict' });
  expect(condition(status, 'Programmed')).toMatchObject({ status: 'True' });
  expect(condition(status, 'Ready')).toMatchObject({
    status: 'True',
    message: expect.stringContaining(
      'serving the last accepted version (generation 1) because generation 2 is not Accepted (ModelConflict)',
    ),
  });
  // Without that memory (a restarted controller) the route is simply left out.
  const fresh = await reconcile(recordingFleet().fleet, [bad, other]);
  expect(condition(fresh.get('chat'), 'Ready')).toMatchObject({ status: 'False' });
});

test('a proxy refusing the table is named with the cause in Programmed', async () => {
  const { pushErrors, fleet } = recordingFleet();
  pushErrors.set('team/gateway-2', 'HTTP 401: missing or wrong admin bearer token');
  const statuses = await reconcile(fleet, [route('everyone')]);
  expect(condition(statuses.get('everyone'), 'Programmed')).toMatchObject({
    status: 'False',
    reason: 'PushFailed',
    message: expect.stringContaining(
      'table push failing on team/gateway-2: HTTP 401: missing or wrong admin bearer token',
    ),
  });
});

test('a fallback.model a proxy does not hold is reported in ResolvedRefs, naming the proxies', async () => {
  const { fleet } = recordingFleet();
  const chat = routeWith('chat', 1, { fallback: { model: 'backup' } });
  const backup = routeWith('backup', 1, {
    proxySelector: { matchLabels: { component: 'gateway' } },
  });
  const statuses = await reconcile(fleet, [chat, backup]);
  expect(condition(statuses.get('chat'), 'ResolvedRefs')).toMatchObject({
    status: 'False',
    reason: 'FallbackRouteNotFound',
    message: expect.stringContaining(
      'fallback model "backup" is not served on team/app-1, team/app-2',
    ),
  });
});

test('seeded fuzz: Ready is True exactly when the proxies serve the route, and a dropped fallback is reported', async () => {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const names = ['m1', 'm2', 'm3', 'm4', 'm5'];
  const seen = { served: 0, refused: 0, fallbackDropped: 0 };
  for (let round = 0; round < 150; round++) {
    const count = 1 + Math.floor(rand() * 5);
    const routes = Array.from({ length: count }, (_, i) => {
      const spec: Record<string, unknown> = { model: pick(names) };
      if (rand() < 0.4) spec.aliases = [pick(names)];
      if (rand() < 0.4) spec.fallback = { model: pick(names) };
      if (rand() < 0.2) spec.proxySelector = { matchLabels: { component: 'gateway' } };
      if (rand() < 0.2) {
        const backendRefs = [{ name: 'a' }, { name: 'a2' }];
        spec.rules = [{ name: 'cq', strategy: 'cost-quality', backendRefs }];
      }
      try {
        return [routeWith(`r${i}`, 1, spec)];
      } catch {
        return []; // refused by the schema (e.g. a fallback to its own alias): not our case
      }
    }).flat();
    const { desired, ackAll, fleet } = recordingFleet();
    await reconcile(fleet, routes);
    ackAll();
    const statuses = await reconcile(fleet, routes);
    for (const r of routes) {
      const id = `team/${r.metadata.name}`;
      const served = [...desired.values()].some((t) => t.routes.some((c) => c.id === id));
      const status = statuses.get(r.metadata.name);
      const ready = condition(status, 'Ready')?.status === 'True';
      const where = `round ${round}, ${JSON.stringify(routes.map((x) => x.spec))}, route ${id}`;
      expect({ where, ready }).toEqual({ where, ready: served });
      seen[served ? 'served' : 'refused'] += 1;
      const fallbackDropped = [...desired.values()].some((t) =>
        t.routes.some(
          (c) => c.id === id && r.spec.fallback?.model !== undefined && !c.fallback.routeId,
        ),
      );
      if (fallbackDropped) seen.fallbackDropped += 1;
      if (fallbackDropped)
        expect({ where, resolved: condition(status, 'ResolvedRefs')?.status }).toEqual({
          where,
          resolved: 'False',
        });
    }
  }
  // Every kind of case came up.
  expect(Math.min(seen.served, seen.refused, seen.fallbackDropped)).toBeGreaterThan(10);
});

test("status.strongShare: the first strongShare rule's target, the threshold its proxies were given, and what it realised", async () => {
  const tiered = (strongShare: number) =>
    modelRoute.parse({
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'tiered', namespace: 'team', generation: 1 },
      spec: {
        model: 'tiered',
        rules: [
          {
            name: 'by-difficulty',
            strategy: 'cost-quality',
            costQuality: { strongShare },
            backendRefs: [{ name: 'a' }, { name: 'b' }],
          },
        ],
      },
    });
  const key = ruleKey('team/tiered', 'by-difficulty');
  const { desired, fleet } = recordingFleet();
  const decided = new Map([[key, { decisions: 1000, strong: 213 }]]);
  const deps = {
    backends: [backend('a', 0.5), backend('b', 0.9)],
    liveThresholds: () => new Map([[key, 0.412]]),
    strongShareDecisions: (k: string) => decided.get(k) ?? null,
  };
  const written = await reconcile(fleet, [tiered(0.2)], undefined, deps);
  const rule = desired.get('team/app-1')?.routes[0]?.rules[0];
  expect(rule).toMatchObject({ threshold: 0.412, strongShare: 0.2 });
  expect(written.get('tiered')?.strongShare).toEqual({
    target: 0.2,
    realized: 0.213,
    threshold: 0.412,
    decisions: 1000,
    window: '1h',
  });
  // Nothing decided in the window: the field goes (STRONG shows blank, not 0).
  decided.clear();
  expect(
    (await reconcile(fleet, [tiered(0.2)], undefined, deps)).get('tiered')?.strongShare,
  ).toBeUndefined();
  // A route without a strongShare rule never has one.
  decided.set(key, { decisions: 5, strong: 1 });
  expect(
    (await reconcile(fleet, [route('plain')], undefined, deps)).get('plain')?.strongShare,
  ).toBeUndefined();
});
