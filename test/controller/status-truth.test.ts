// Status agrees with traffic, on the real API server: a route that is not
// Accepted is not served; a proxy refusing the admin token is named; a Secret
// without the referenced key makes the backend not Ready; a new failover
// record keeps nothing of the previous one.
import { startController, type RunningController } from '../../src/controller/controller.js';
import { statusMergePatch } from '../../src/controller/status/status-diff.js';
import { createKubeClient } from '../../src/k8s/kube-client.js';
import { modelRoutes } from '../../src/k8s/kinds.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import {
  controllerServiceAccountKubeconfig,
  createNamespace,
  grantControllerSecrets,
  installCRDs,
  testenv,
} from '../support/cluster.js';
import {
  ADMIN_TOKEN,
  backendObject,
  ClusterHandle,
  quietLogger,
  routeObject,
  startTestProxy,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';

const CASE_TIMEOUT_MS = 120_000;
const SECRET_VALUE = 'sk-should-never-show-0123456789';

let cluster: ClusterHandle;
let sim: SimulatedBackend;
let good: RunningProxy;
let wrongToken: RunningProxy;
let controller: RunningController | undefined;

interface Conditioned {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
}
const conditionOf = (kind: string, name: string, type: string) =>
  cluster.json<Conditioned>(['get', kind, name]).status?.conditions?.find((c) => c.type === type);

beforeAll(async () => {
  installCRDs();
  cluster = new ClusterHandle(createNamespace('status-truth'));
  // A platform namespace (chart value platformNamespaces): the controller may read its Secrets.
  grantControllerSecrets(cluster.namespace);
  sim = await startSimulatedBackend({ models: ['a-upstream'] });
  cluster.apply([
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'creds' },
      stringData: { 'other-key': SECRET_VALUE },
    },
    backendObject('a', sim),
    {
      ...backendObject('keyless', sim),
      spec: {
        ...(backendObject('keyless', sim) as { spec: object }).spec,
        secretRef: { name: 'creds', key: 'apiKey' },
      },
    },
    routeObject('chat', ['a']),
    // Each falls back to the other: neither is Accepted.
    routeObject('loop-x', ['a'], { fallback: { model: 'loop-y' } }),
    routeObject('loop-y', ['a'], { fallback: { model: 'loop-x' } }),
  ]);
  good = await startTestProxy('127.0.0.1');
  cluster.registerProxy('proxy-good', good);
  wrongToken = await startProxy({
    host: '127.0.0.1',
    dataPort: 0,
    adminPort: 0,
    adminToken: { value: 'not-the-fleet-token-0123456789' },
    logger: quietLogger(),
  });
  cluster.registerProxy('proxy-wrong-token', wrongToken);
  controller = await startController({
    kubeconfigPath: controllerServiceAccountKubeconfig(),
    namespace: cluster.namespace,
    adminToken: ADMIN_TOKEN,
    identity: 'status-truth-test',
    leaseNamespace: 'modelroute-system',
    leaseName: `modelroute-controller-${cluster.namespace}`,
    logger: quietLogger(),
    statsIntervalMs: 1000,
  });
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  await Promise.all([good.close(), wrongToken.close(), sim.close()]);
});

test(
  'a proxy refusing the admin token is named, with the cause, in Programmed',
  async () => {
    await eventually(
      () =>
        expect(conditionOf('mr', 'chat', 'Programmed')).toMatchObject({
          status: 'False',
          reason: 'PushFailed',
          message: expect.stringMatching(
            new RegExp(`${cluster.namespace}/proxy-wrong-token: HTTP 401.*admin token`),
          ),
        }),
      30_000,
    );
    expect(conditionOf('mr', 'chat', 'Programmed')?.message).not.toContain('proxy-good:');
    // And an Event on the route (issue 16), which `kubectl describe` lists (it matches by uid).
    await eventually(() => {
      const described = cluster.must(['describe', 'mr', 'chat', '-n', cluster.namespace]);
      expect(described).toMatch(/Warning\s+PushFailed/);
      expect(described).toContain(`proxy pod ${cluster.namespace}/proxy-wrong-token`);
    }, 30_000);
  },
  CASE_TIMEOUT_MS,
);

test(
  'routes whose fallbacks loop are not Accepted, not programmed, and get 404s',
  async () => {
    await eventually(() => {
      expect(conditionOf('mr', 'loop-x', 'Ready')).toMatchObject({
        status: 'False',
        reason: 'FallbackCycle',
      });
      expect(conditionOf('mr', 'loop-x', 'Programmed')).toMatchObject({ reason: 'NotAccepted' });
    }, 30_000);
    // chat is served by the good proxy, so its table has arrived.
    await eventually(async () => {
      const res = await fetch(`${good.dataUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(200);
    }, 30_000);
    for (const model of ['loop-x', 'loop-y']) {
      const res = await fetch(`${good.dataUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(404);
    }
  },
  CASE_TIMEOUT_MS,
);

test(
  'a Secret without the referenced key: the backend is not Ready, naming Secret and key only',
  async () => {
    await eventually(
      () =>
        expect(conditionOf('mb', 'keyless', 'Ready')).toMatchObject({
          status: 'False',
          reason: 'SecretKeyMissing',
          message: expect.stringContaining('Secret "creds"'),
        }),
      30_000,
    );
    const mb = JSON.stringify(cluster.json<object>(['get', 'mb', 'keyless']));
    expect(mb).toContain('no key \\"apiKey\\"');
    expect(mb).not.toContain(SECRET_VALUE);
    expect(mb).not.toContain('other-key');
  },
  CASE_TIMEOUT_MS,
);

test(
  'a new lastFailover written over a recovered one keeps none of its fields',
  async () => {
    const ns = createNamespace('failover-write');
    const at = new ClusterHandle(ns);
    at.apply([routeObject('history', ['x'])]);
    const client = createKubeClient({
      kubeconfigPath: testenv.kubeconfig,
      userAgent: 'status-truth-test',
    });
    const ref = { namespace: ns, name: 'history' };
    const first = {
      lastFailover: {
        time: '2026-12-01T10:00:00Z',
        from: 'a',
        to: 'b',
        reason: 'ModelBackend a became Unhealthy: probe failed',
        recoveredTime: '2026-12-01T10:05:00Z',
      },
    };
    await client.patchStatus(modelRoutes, ref, statusMergePatch(undefined, first));
    const second = {
      lastFailover: {
        time: '2026-12-02T09:00:00Z',
        from: 'c',
        reason: 'ModelBackend c became Unhealthy: probe answered HTTP 404',
      },
    };
    await client.patchStatus(modelRoutes, ref, statusMergePatch(first, second));
    const stored = at.json<{ status: typeof second }>(['get', 'mr', 'history']).status;
    expect(stored.lastFailover).toEqual(second.lastFailover);
  },
  CASE_TIMEOUT_MS,
);
