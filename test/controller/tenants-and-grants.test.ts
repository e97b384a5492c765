// Tenants, keys and backends owned once, against the real API server: a
// platform namespace owns a backend; app namespace A may use it through a
// ModelBackendGrant, app namespace B may not. What each namespace's proxies
// are pushed (fake proxies record every table), what status says, and what
// `kubectl get modeltenants` shows.
import { startController, type RunningController } from '../../src/controller/controller.js';
import type { RoutingTable } from '../../src/routing/table.js';
import { hashApiKey } from '../../src/identity/api-key.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import {
  controllerServiceAccountKubeconfig,
  createNamespace,
  installCRDs,
} from '../support/cluster.js';
import {
  ADMIN_TOKEN,
  backendObject,
  ClusterHandle,
  quietLogger,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import { startFakeProxyAdmin, type FakeProxyAdmin } from '../support/fake-proxy-admin.js';

/** Each case's bounded waits decide; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 120_000;
const API = 'modelroute.io/v1alpha1';

let platform: ClusterHandle;
let appA: ClusterHandle;
let appB: ClusterHandle;
let sim: SimulatedBackend;
const proxies: Record<'a' | 'b', FakeProxyAdmin | undefined> = { a: undefined, b: undefined };
let controller: RunningController | undefined;

type Condition = { type: string; status: string; reason: string; message: string };
type Status = {
  conditions?: Condition[];
  backends?: { name: string; namespace?: string; health: string; reason?: string }[];
  identities?: Record<string, number>;
  conflicts?: { identity: string; tenants: string[]; winner: string }[];
  conflictCount?: number;
};
const statusOf = (ns: ClusterHandle, kind: string, name: string): Status =>
  ns.json<{ status?: Status }>(['get', kind, name]).status ?? {};
const conditionOf = (status: Status, type: string) =>
  status.conditions?.find((c) => c.type === type);

const latest = (fake: FakeProxyAdmin | undefined): RoutingTable => {
  const table = fake?.tables.at(-1);
  if (!table) throw new Error('no table pushed yet');
  return table;
};
const backendIds = (t: RoutingTable) => t.backends.map((b) => b.id);
const keyIds = (t: RoutingTable) => (t.apiKeys ?? []).map((k) => k.id);

function chatRoute(): object {
  return {
    apiVersion: API,
    kind: 'ModelRoute',
    metadata: { name: 'chat' },
    spec: {
      model: 'chat',
      rules: [
        {
          name: 'main',
          strategy: 'priority',
          backendRefs: [{ name: 'shared', namespace: platform.namespace }],
        },
      ],
    },
  };
}

function grant(): object {
  return {
    apiVersion: API,
    kind: 'ModelBackendGrant',
    metadata: { name: 'apps' },
    spec: { from: [{ namespace: appA.namespace }], backends: ['shared'] },
  };
}

function apiKey(name: string, tenant: string, extra: Record<string, unknown> = {}): object {
  return {
    apiVersion: API,
    kind: 'ModelAPIKey',
    metadata: { name },
    spec: { tenant, hash: hashApiKey(`mr-${name}-not-a-real-key`), prefix: 'mr-test', ...extra },
  };
}

function tenant(name: string, spec: object): object {
  return { apiVersion: API, kind: 'ModelTenant', metadata: { name }, spec };
}

/** The injected proxy container as the webhook writes it: the workload it serves. */
function injectedProxy(serviceAccount: string, ns: string): object[] {
  const workload = JSON.stringify({ namespace: ns, serviceAccount, labels: { app: 'billing' } });
  return [
    { name: 'app', image: 'app:test' },
    {
      name: 'modelroute-proxy',
      image: 'modelroute:test',
      env: [{ name: 'MODELROUTE_WORKLOAD', value: workload }],
    },
  ];
}

beforeAll(async () => {
  installCRDs();
  platform = new ClusterHandle(createNamespace('platform'));
  appA = new ClusterHandle(createNamespace('app-a'));
  appB = new ClusterHandle(createNamespace('app-b'));
  sim = await startSimulatedBackend({ models: ['shared-upstream'] });
  platform.apply([backendObject('shared', sim), grant()]);
  appA.apply([
    chatRoute(),
    tenant('gold', { priority: 'high', identities: { serviceAccounts: [{ name: 'billing' }] } }),
    tenant('silver', { identities: { namespaces: [appA.namespace] } }),
    apiKey('ci', 'gold'),
    // silver's, so gold's counts do not depend on how long the cases before the expiry take.
    apiKey('soon', 'silver', { expiresAt: new Date(Date.now() + 15_000).toISOString() }),
  ]);
  appB.apply([chatRoute(), tenant('gold', {}), apiKey('theirs', 'gold')]);
  proxies.a = await startFakeProxyAdmin('127.0.0.1');
  proxies.b = await startFakeProxyAdmin('127.0.0.1');
  appA.registerProxy('billing-1', proxies.a, injectedProxy('billing', appA.namespace));
  appB.registerProxy('web-1', proxies.b);
  // The controller runs as its ServiceAccount with exactly the rights in manifests/rbac,
  // watching these three namespaces only (other suites run beside this one).
  controller = await startController({
    kubeconfigPath: controllerServiceAccountKubeconfig(),
    namespaces: [platform.namespace, appA.namespace, appB.namespace],
    adminToken: ADMIN_TOKEN,
    identity: 'tenants-test',
    leaseNamespace: 'modelroute-system',
    leaseName: `modelroute-controller-${appA.namespace}`,
    logger: quietLogger(),
    statsIntervalMs: 1000,
    unmatchedCallers: 'deny',
  });
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  for (const p of Object.values(proxies)) await p?.close();
  await sim?.close();
});

test(
  'granted: A’s proxy is pushed the platform backend and the route is Ready, seeing its owner’s health',
  async () => {
    await eventually(() => {
      expect(backendIds(latest(proxies.a))).toEqual([`${platform.namespace}/shared`]);
      expect(latest(proxies.a).backends[0]?.health).toBe('Healthy');
      expect(appA.row('modelroutes', 'chat')).toMatchObject({ READY: 'True', PROGRAMMED: '1/1' });
    }, 30_000);
    expect(statusOf(appA, 'mr', 'chat').backends).toEqual([
      { name: 'shared', namespace: platform.namespace, health: 'Healthy' },
    ]);
    // The owner's status is written in its own namespace, as before.
    await eventually(
      () => expect(conditionOf(statusOf(platform, 'mb', 'shared'), 'Healthy')?.status).toBe('True'),
      30_000,
    );
  },
  CASE_TIMEOUT_MS,
);

test(
  'not granted: B never gets the platform backend, and its route says RefNotPermitted with the fix',
  async () => {
    await eventually(() => {
      const status = statusOf(appB, 'mr', 'chat');
      expect(conditionOf(status, 'ResolvedRefs')).toMatchObject({
        status: 'False',
        reason: 'RefNotPermitted',
      });
      expect(conditionOf(status, 'Ready')).toMatchObject({
        status: 'False',
        reason: 'RefNotPermitted',
      });
      expect(conditionOf(status, 'Ready')?.message).toContain(
        `kubectl apply a ModelBackendGrant in namespace ${platform.namespace} with spec.from: [{namespace: ${appB.namespace}}]`,
      );
      expect(latest(proxies.b).routes.map((r) => r.id)).toEqual([`${appB.namespace}/chat`]);
    }, 30_000);
    for (const table of proxies.b!.tables) expect(backendIds(table)).toEqual([]);
  },
  CASE_TIMEOUT_MS,
);

test(
  'tenants and keys reach the tables of their own namespace only; a ModelTenant shows counts and a conflict',
  async () => {
    await eventually(() => {
      const a = latest(proxies.a);
      expect(a.tenants?.map((t) => t.id)).toEqual([
        `${appA.namespace}/gold`,
        `${appA.namespace}/silver`,
      ]);
      expect(keyIds(a)).toContain(`${appA.namespace}/ci`);
      expect(a.identity).toEqual({ unmatched: 'deny' });
      expect(keyIds(latest(proxies.b))).toEqual([`${appB.namespace}/theirs`]);
    }, 30_000);
    for (const table of proxies.a!.tables)
      for (const id of keyIds(table)) expect(id.startsWith(`${appA.namespace}/`)).toBe(true);
    for (const table of proxies.b!.tables)
      for (const id of keyIds(table)) expect(id.startsWith(`${appB.namespace}/`)).toBe(true);

    // gold names ServiceAccount billing, silver the whole namespace: both claim billing-1's
    // workload; the ServiceAccount is more specific, so gold wins.
    await eventually(() => {
      expect(appA.row('modeltenants', 'gold')).toMatchObject({
        PRIORITY: 'high',
        WORKLOADS: '1',
        KEYS: '1',
        CONFLICTS: '1',
      });
      expect(appA.row('modeltenants', 'silver')).toMatchObject({ WORKLOADS: '0', CONFLICTS: '1' });
    }, 30_000);
    const gold = statusOf(appA, 'modeltenants', 'gold');
    expect(gold.identities).toEqual({
      serviceAccounts: 1,
      namespaces: 0,
      workloads: 1,
      apiKeys: 1,
    });
    expect(gold.conflicts).toEqual([
      {
        identity: `serviceAccount ${appA.namespace}/billing`,
        tenants: ['gold', 'silver'],
        winner: 'gold',
      },
    ]);
    expect(conditionOf(gold, 'Conflicted')).toMatchObject({ status: 'True' });
    expect(conditionOf(statusOf(appA, 'modelapikeys', 'ci'), 'Valid')).toMatchObject({
      status: 'True',
      reason: 'Valid',
    });
  },
  CASE_TIMEOUT_MS,
);

test(
  'a key that expires leaves the table on its own; a revoked one at once, and status says which',
  async () => {
    await eventually(() => {
      expect(keyIds(latest(proxies.a))).not.toContain(`${appA.namespace}/soon`);
      expect(conditionOf(statusOf(appA, 'modelapikeys', 'soon'), 'Valid')).toMatchObject({
        status: 'False',
        reason: 'Expired',
      });
    }, 40_000);
    appA.must([
      ...['patch', 'modelapikey', 'ci', '-n', appA.namespace],
      ...['--type=merge', '-p', '{"spec":{"revoked":true}}'],
    ]);
    await eventually(() => {
      expect(keyIds(latest(proxies.a))).toEqual([]);
      expect(conditionOf(statusOf(appA, 'modelapikeys', 'ci'), 'Valid')).toMatchObject({
        status: 'False',
        reason: 'Revoked',
      });
      expect(appA.row('modeltenants', 'gold')).toMatchObject({ KEYS: '0' });
    }, 30_000);
  },
  CASE_TIMEOUT_MS,
);

test(
  'grant deleted: A’s table drops the platform backend and the route says RefNotPermitted with the fix',
  async () => {
    platform.must(['delete', 'modelbackendgrant', 'apps', '-n', platform.namespace]);
    await eventually(() => {
      expect(backendIds(latest(proxies.a))).toEqual([]);
      const ready = conditionOf(statusOf(appA, 'mr', 'chat'), 'Ready');
      expect(ready).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
      expect(ready?.message).toContain(
        `ModelBackendGrant in namespace ${platform.namespace} with spec.from: [{namespace: ${appA.namespace}}]`,
      );
      expect(appA.row('modelroutes', 'chat')).toMatchObject({ READY: 'False' });
    }, 30_000);
    for (const table of proxies.b!.tables) expect(backendIds(table)).toEqual([]);
  },
  CASE_TIMEOUT_MS,
);
