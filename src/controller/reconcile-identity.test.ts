// One namespace's reconcile with what issue 13 adds: backends of a platform
// namespace used through a ModelBackendGrant (table, route status, health of
// the owner's backend), the namespace's tenants and keys in its table, and
// ModelTenant / ModelAPIKey statuses. No API server: a recording fleet.
import {
  modelAPIKey,
  modelBackend,
  modelBackendGrant,
  modelRoute,
  modelTenant,
  type ModelAPIKey,
  type ModelBackendGrant,
  type ModelRoute,
  type ModelRouteStatus,
  type ModelTenant,
  type ModelTenantInput,
  type ModelTenantStatus,
} from '../api/v1alpha1/index.js';
import { hashApiKey } from '../identity/api-key.js';
import { BackendHealthTracker } from '../routing/health-tracker.js';
import type { RoutingTable } from '../routing/table.js';
import type { ProxyFleet, ProxyPod } from './proxy-fleet.js';
import type { WorkloadCaller } from './proxy-pod.js';
import {
  reconcileNamespace,
  type NamespaceSnapshot,
  type ReconcileDeps,
} from './reconcile-namespace.js';

const NOW = Date.UTC(2026, 11, 3, 4, 0, 0);
const meta = (name: string, namespace: string) => ({ name, namespace, generation: 1 });

const platformBackend = modelBackend.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelBackend',
  metadata: meta('gpt', 'platform'),
  spec: { provider: 'openai-compatible', endpoint: 'http://gpt:8000/v1', model: 'gpt' },
});
const chat = modelRoute.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelRoute',
  metadata: meta('chat', 'team'),
  spec: {
    model: 'chat',
    rules: [
      { name: 'main', strategy: 'priority', backendRefs: [{ name: 'gpt', namespace: 'platform' }] },
    ],
  },
});
const grantTeam: ModelBackendGrant = modelBackendGrant.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelBackendGrant',
  metadata: meta('apps', 'platform'),
  spec: { from: [{ namespace: 'team' }] },
});
const tenant = (name: string, spec: ModelTenantInput['spec'], ns = 'team'): ModelTenant =>
  modelTenant.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelTenant',
    metadata: meta(name, ns),
    spec,
  });
const key = (
  name: string,
  spec: { tenant: string; expiresAt?: string; revoked?: boolean },
  ns = 'team',
): ModelAPIKey =>
  modelAPIKey.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelAPIKey',
    metadata: meta(name, ns),
    spec: { hash: hashApiKey(`mr-${name}-secret`), prefix: 'mr-abcd', ...spec },
  });
const workload = (pod: string, serviceAccount: string, labels = {}): WorkloadCaller => ({
  kind: 'workload',
  namespace: 'team',
  serviceAccount,
  labels,
  pod,
});
const proxy: ProxyPod = {
  key: 'team/app-1',
  namespace: 'team',
  name: 'app-1',
  uid: 'uid-app-1',
  labels: {},
  adminUrl: 'http://app-1:9901',
};

async function reconcile(
  snapshot: Partial<NamespaceSnapshot>,
  health = new BackendHealthTracker(() => NOW),
  extra: Partial<ReconcileDeps> = {},
) {
  const desired = new Map<string, RoutingTable>();
  const fleet = {
    setDesired: (p: ProxyPod, table: RoutingTable) => desired.set(p.key, table),
    desiredTable: (k: string) => desired.get(k),
    runningTable: (k: string) => desired.get(k), // every pod acknowledges at once
    keys: () => [...desired.keys()],
    remove: (k: string) => desired.delete(k),
    pushError: () => undefined,
  } as unknown as ProxyFleet;
  const routes = new Map<string, ModelRouteStatus>();
  const tenants = new Map<string, ModelTenantStatus>();
  const keys = new Map<string, NonNullable<ModelAPIKey['status']>>();
  const wakeUps: (number | undefined)[] = [];
  await reconcileNamespace(
    {
      namespace: 'team',
      routes: [],
      backends: [],
      proxies: [proxy],
      serviceExists: () => true,
      readyEndpoints: () => undefined,
      ...snapshot,
    },
    {
      fleet,
      health,
      secretKeys: () => Promise.resolve(new Set(['apiKey'])),
      failovers: new Map(),
      observed: () => undefined,
      writeRouteStatus: (r: ModelRoute, s) => Promise.resolve(void routes.set(r.metadata.name, s)),
      writeBackendStatus: () => Promise.resolve(),
      writeTenantStatus: (t, s) => Promise.resolve(void tenants.set(t.metadata.name, s)),
      writeApiKeyStatus: (k, s) => Promise.resolve(void keys.set(k.metadata.name, s)),
      identityPolicy: { unmatched: 'deny' },
      scheduleRecompile: (_ns, at) => void wakeUps.push(at),
      now: () => NOW,
      ...extra,
    },
  );
  return { table: desired.get('team/app-1')!, routes, tenants, keys, wakeUps };
}
const condition = (
  status: { conditions?: { type: string; status: string; reason: string }[] } | undefined,
  type: string,
) => status?.conditions?.find((c) => c.type === type);

describe('a route using a platform backend', () => {
  test('granted: the table holds platform/gpt, the route is Ready and sees the owner’s health', async () => {
    const health = new BackendHealthTracker(() => NOW);
    health.observe('platform/gpt', true, { healthyThreshold: 1, unhealthyThreshold: 1 });
    const { table, routes } = await reconcile(
      { routes: [chat], foreignBackends: [platformBackend], grants: [grantTeam] },
      health,
    );
    expect(table.backends.map((b) => b.id)).toEqual(['platform/gpt']);
    expect(table.backends[0]?.health).toBe('Healthy');
    const status = routes.get('chat');
    expect(condition(status, 'Ready')).toMatchObject({ status: 'True' });
    expect(condition(status, 'ResolvedRefs')).toMatchObject({ status: 'True' });
    expect(status?.backends).toEqual([{ name: 'gpt', namespace: 'platform', health: 'Healthy' }]);
    expect(status?.healthyBackends).toBe('1/1');
  });

  test('no grant: left out of the table; ResolvedRefs and Ready False with RefNotPermitted and the fix', async () => {
    const { table, routes } = await reconcile({
      routes: [chat],
      foreignBackends: [platformBackend],
      grants: [],
    });
    expect(table.backends).toEqual([]);
    const status = routes.get('chat');
    for (const type of ['ResolvedRefs', 'Ready']) {
      expect(condition(status, type)).toMatchObject({ status: 'False', reason: 'RefNotPermitted' });
      expect(condition(status, type)).toMatchObject({
        message: expect.stringContaining(
          'kubectl apply a ModelBackendGrant in namespace platform with spec.from: [{namespace: team}]',
        ) as string,
      });
    }
    expect(status?.backends).toEqual([
      { name: 'gpt', namespace: 'platform', health: 'Unknown', reason: 'RefNotPermitted' },
    ]);
  });
});

describe('a granted backend whose credentials proxies cannot get', () => {
  const withSecret = modelBackend.parse({
    ...platformBackend,
    spec: { ...platformBackend.spec, secretRef: { name: 'openai', key: 'apiKey' } },
  });
  const deliver = (credentialNamespaces: string[], keys: string[] | undefined) =>
    reconcile({ routes: [chat], foreignBackends: [withSecret], grants: [grantTeam] }, undefined, {
      credentialNamespaces,
      secretKeys: () => Promise.resolve(keys && new Set(keys)),
    });

  test('delivered from a credential namespace with the Secret and key: Ready', async () => {
    const { routes } = await deliver(['platform'], ['apiKey']);
    expect(condition(routes.get('chat'), 'Ready')).toMatchObject({ status: 'True' });
  });

  test.each([
    [['elsewhere'], ['apiKey'], "add platform to the controller's --credential-namespaces"],
    [['platform'], undefined, 'which does not exist in namespace platform'],
    [['platform'], ['other'], 'needs key "apiKey" of Secret "openai"'],
  ])(
    'credential namespaces %j, Secret keys %j: CredentialsUnavailable with the fix',
    async (namespaces, keys, fix) => {
      const { routes, table } = await deliver(namespaces, keys);
      const status = routes.get('chat');
      expect(status?.backends).toEqual([
        { name: 'gpt', namespace: 'platform', health: 'Unknown', reason: 'CredentialsUnavailable' },
      ]);
      for (const type of ['ResolvedRefs', 'Ready'])
        expect(condition(status, type)).toMatchObject({
          status: 'False',
          reason: 'CredentialsUnavailable',
          message: expect.stringContaining(fix) as string,
        });
      // Still in the table: the grant allows it, and credentials may yet arrive.
      expect(table.backends.map((b) => b.id)).toEqual(['platform/gpt']);
    },
  );
});

describe('tenants and keys', () => {
  const gold = tenant('gold', {
    priority: 'high',
    identities: { serviceAccounts: [{ name: 'billing' }], namespaces: ['team'] },
  });
  const silver = tenant('silver', {
    identities: { namespaces: ['team'], workloads: { matchLabels: { tier: 'batch' } } },
  });
  const valid = key('ci', { tenant: 'gold', expiresAt: new Date(NOW + 60_000).toISOString() });
  const later = key('ops', { tenant: 'gold', expiresAt: new Date(NOW + 3_600_000).toISOString() });
  const revoked = key('old', { tenant: 'gold', revoked: true });
  const expired = key('gone', { tenant: 'gold', expiresAt: new Date(NOW - 1).toISOString() });
  const orphan = key('orphan', { tenant: 'nobody' });
  const elsewhere = key('theirs', { tenant: 'gold' }, 'other-team');

  test('the table holds this namespace’s tenants, its valid keys only, and the policy', async () => {
    const { table, wakeUps } = await reconcile({
      tenants: [gold, silver, tenant('alien', {}, 'other-team')],
      apiKeys: [valid, later, revoked, expired, orphan, elsewhere],
    });
    expect(table.tenants?.map((t) => t.id)).toEqual(['team/gold', 'team/silver']);
    expect(table.apiKeys?.map((k) => k.id)).toEqual(['team/ci', 'team/ops', 'team/orphan']);
    expect(table.identity).toEqual({ unmatched: 'deny' });
    // The earliest expiry ahead wakes a recompile.
    expect(wakeUps).toEqual([NOW + 60_000]);
  });

  test('ModelAPIKey status: Valid, Revoked, Expired, TenantNotFound', async () => {
    const { keys } = await reconcile({
      tenants: [gold],
      apiKeys: [valid, revoked, expired, orphan],
    });
    const reasons = Object.fromEntries(
      [...keys].map(([name, s]) => [
        name,
        [condition(s, 'Valid')?.status, condition(s, 'Valid')?.reason],
      ]),
    );
    expect(reasons).toEqual({
      ci: ['True', 'Valid'],
      old: ['False', 'Revoked'],
      gone: ['False', 'Expired'],
      orphan: ['False', 'TenantNotFound'],
    });
  });

  test('ModelTenant status: counts, conflicts with the winner, conditions', async () => {
    const { tenants } = await reconcile({
      tenants: [gold, silver],
      apiKeys: [valid, later, revoked],
      workloads: [
        workload('billing-1', 'billing'), // gold by ServiceAccount
        workload('batch-1', 'worker', { tier: 'batch' }), // silver by labels
        workload('web-1', 'web'), // the namespace: both claim it, gold sorts first
      ],
    });
    const g = tenants.get('gold')!;
    const s = tenants.get('silver')!;
    expect(g.identities).toEqual({ serviceAccounts: 1, namespaces: 1, workloads: 2, apiKeys: 2 });
    expect(s.identities).toEqual({ serviceAccounts: 0, namespaces: 1, workloads: 1, apiKeys: 0 });
    expect(g.conflicts).toEqual([
      { identity: 'namespace team', tenants: ['gold', 'silver'], winner: 'gold' },
      { identity: 'serviceAccount team/billing', tenants: ['gold', 'silver'], winner: 'gold' },
      // Labels are more specific than a namespace: silver wins this pod.
      { identity: 'workload team/batch-1', tenants: ['gold', 'silver'], winner: 'silver' },
    ]);
    expect(s.conflictCount).toBe(3);
    expect(condition(g, 'Ready')).toMatchObject({
      message: expect.stringContaining('1 claimed identities resolve elsewhere') as string,
    });
    expect(condition(g, 'Accepted')).toMatchObject({ status: 'True' });
    expect(condition(s, 'Conflicted')).toMatchObject({
      status: 'True',
      reason: 'IdentityConflict',
    });
    expect(condition(s, 'Ready')).toMatchObject({
      status: 'True',
      message: expect.stringContaining('1 workloads') as string,
    });
  });

  test('a tenant alone has no conflicts', async () => {
    const { tenants } = await reconcile({ tenants: [gold] });
    expect(tenants.get('gold')?.conflictCount).toBe(0);
    expect(tenants.get('gold')?.conflicts).toBeUndefined();
    expect(condition(tenants.get('gold'), 'Conflicted')).toMatchObject({ status: 'False' });
  });
});
