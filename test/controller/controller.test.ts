// The controller against the real API server: proxies registered as Pod
// objects get their tables, status tells the truth, and a backend failure
// shows up in status and events while traffic keeps flowing.
import OpenAI from 'openai';
import { startController, type RunningController } from '../../src/controller/controller.js';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { routeVersions } from '../../src/routing/route-version.js';
import type { RoutingTable } from '../../src/routing/table.js';
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
  routeObject,
  startTestProxy,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';

const TOKEN = ADMIN_TOKEN;
/** Each case's bounded waits decide; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 120_000;
const quiet = quietLogger;

let namespace: string;
const sims: Record<string, SimulatedBackend> = {};
const proxies: RunningProxy[] = [];
let controller: RunningController | undefined;

let cluster: ClusterHandle;

function routeRow(): Record<string, string> | undefined {
  return cluster.row('modelroutes', 'chat');
}

function getJson<T>(args: string[]): T {
  return cluster.json<T>(args);
}

function mustKubectl(args: string[]): string {
  return cluster.must(args);
}

beforeAll(async () => {
  installCRDs();
  namespace = createNamespace('controller');
  cluster = new ClusterHandle(namespace);
  sims.a = await startSimulatedBackend({ models: ['a-upstream'] });
  sims.b = await startSimulatedBackend({ models: ['b-upstream'] });
  cluster.apply([
    backendObject('a', sims.a),
    backendObject('b', sims.b),
    routeObject('chat', ['a', 'b']),
  ]);
  for (const [i, ip] of ['127.0.0.2', '127.0.0.3'].entries()) {
    const proxy = await startTestProxy(ip);
    proxies.push(proxy);
    cluster.registerProxy(`proxy-${i}`, proxy);
  }
  // The controller runs as its ServiceAccount with exactly the rights in manifests/rbac.
  controller = await startController({
    kubeconfigPath: controllerServiceAccountKubeconfig(),
    namespace,
    adminToken: TOKEN,
    identity: 'controller-test',
    leaseNamespace: 'modelroute-system',
    leaseName: `modelroute-controller-${namespace}`,
    logger: quiet(),
    statsIntervalMs: 1000,
    passiveHoldMs: 5000,
    health: { host: '127.0.0.1', port: 0 },
  });
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(Object.values(sims).map((s) => s.close()));
});

test(
  'every proxy gets its table and kubectl shows PROGRAMMED 2/2 and READY True',
  async () => {
    await eventually(
      () =>
        expect(routeRow()).toMatchObject({
          MODEL: 'chat',
          READY: 'True',
          PROGRAMMED: '2/2',
          'HEALTHY BACKENDS': '2/2',
        }),
      30_000,
    );
    const status = getJson<{ status: { routeVersion: string; observedGeneration: number } }>([
      'get',
      'mr',
      'chat',
    ]).status;
    for (const proxy of proxies) {
      const table = (await (
        await fetch(`${proxy.adminUrl}/admin/v1/table`, {
          headers: { authorization: `Bearer ${TOKEN}` },
        })
      ).json()) as RoutingTable;
      expect(routeVersions(table).get(`${namespace}/chat`)).toBe(status.routeVersion);
    }
    expect(status.observedGeneration).toBe(1);
    const mb = getJson<{
      status: { conditions: { type: string; status: string }[]; resolvedEndpoint: string };
    }>(['get', 'mb', 'a']).status;
    expect(mb.conditions.map((c) => [c.type, c.status])).toEqual([
      ['Ready', 'True'],
      ['Healthy', 'True'],
    ]);
    expect(mb.resolvedEndpoint).toBe(`${sims.a!.url}/v1`);
  },
  CASE_TIMEOUT_MS,
);

test(
  "calls failing while probes still pass: the proxies' outcome stats mark the backend Unhealthy",
  async () => {
    const client = new OpenAI({ baseURL: `${proxies[0]!.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 });
    // First a serves (the priority backend, its circuits closed) ...
    await eventually(async () => {
      const { response } = await client.chat.completions
        .create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
        .withResponse();
      expect(response.headers.get('x-modelroute-backend')).toBe(`${namespace}/a`);
    }, 30_000);
    // ... then its calls fail while its model list (the probe) keeps answering.
    sims.a!.setBehavior({ errorRate: 1, errorStatus: 500 });
    await eventually(async () => {
      for (let i = 0; i < 10; i++) {
        const res = await client.chat.completions.create({
          model: 'chat',
          messages: [{ role: 'user', content: 'hi' }],
        });
        expect(res.choices).toHaveLength(1);
      }
      const mb = getJson<{ status: { health: { state: string; message?: string } } }>([
        'get',
        'mb',
        'a',
      ]).status;
      expect(mb.health).toMatchObject({
        state: 'Unhealthy',
        message: expect.stringMatching(/proxies saw \d+ of \d+ calls fail/),
      });
    }, 30_000);

    sims.a!.setBehavior({ errorRate: 0 });
    await eventually(() => {
      const mb = getJson<{ status: { health: { state: string } } }>(['get', 'mb', 'a']).status;
      expect(mb.health.state).toBe('Healthy');
    }, 30_000);
  },
  CASE_TIMEOUT_MS,
);

test(
  'a killed backend shows Unhealthy with lastFailover and an Event while requests keep succeeding; it recovers',
  async () => {
    const clients = proxies.map(
      (p) => new OpenAI({ baseURL: `${p.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 }),
    );
    const port = Number(new URL(sims.a!.url).port);
    const killedAt = Date.now();
    await sims.a!.close();

    let sent = 0;
    const traffic = async () => {
      const client = clients[sent % clients.length]!;
      sent += 1;
      const res = await client.chat.completions.create({
        model: 'chat',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(res.choices).toHaveLength(1);
    };
    await eventually(async () => {
      await traffic();
      const mb = getJson<{ status: { health: { state: string } } }>(['get', 'mb', 'a']).status;
      expect(mb.health.state).toBe('Unhealthy');
    }, 30_000);
    // The route's status follows the backend's in the same reconcile, a moment later.
    await eventually(() => {
      const route = getJson<{
        status: { lastFailover: { from: string; to: string; reason: string; time: string } };
      }>(['get', 'mr', 'chat']).status;
      expect(route.lastFailover).toMatchObject({
        from: 'a',
        to: 'b',
        reason: expect.stringContaining('became Unhealthy'),
      });
      expect(Date.parse(route.lastFailover.time)).toBeGreaterThanOrEqual(killedAt - 1000);
      expect(routeRow()).toMatchObject({ READY: 'True', 'HEALTHY BACKENDS': '1/2' });
    }, 30_000);
    const events = getJson<{
      items: { reason: string; involvedObject: { name: string }; type: string }[];
    }>(['get', 'events']).items;
    expect(events).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          reason: 'BackendUnhealthy',
          type: 'Warning',
          involvedObject: expect.objectContaining({ name: 'a' }),
        }),
      ]),
    );
    // The route says so too (issue 16), where `kubectl describe mr chat` shows it.
    await eventually(
      () =>
        expect(mustKubectl(['describe', 'mr', 'chat', '-n', namespace])).toMatch(
          /Warning\s+Failover\s.*ModelBackend a became Unhealthy: traffic moved to b/,
        ),
      30_000,
    );
    for (let i = 0; i < 10; i++) await traffic();

    sims.a = await startSimulatedBackend({ port, models: ['a-upstream'] });
    await eventually(() => {
      const mb = getJson<{ status: { health: { state: string } } }>(['get', 'mb', 'a']).status;
      expect(mb.health.state).toBe('Healthy');
    }, 30_000);
    // The backend's status and the route's are separate writes, in no set order.
    await eventually(() => {
      const recovered = getJson<{ status: { lastFailover: { recoveredTime?: string } } }>([
        'get',
        'mr',
        'chat',
      ]).status;
      expect(recovered.lastFailover.recoveredTime).toEqual(expect.any(String));
    }, 30_000);
    await eventually(
      () =>
        expect(mustKubectl(['describe', 'mr', 'chat', '-n', namespace])).toMatch(
          /Normal\s+FailoverRecovered\s.*ModelBackend a is Healthy again/,
        ),
      30_000,
    );
    await eventually(() => expect(routeRow()).toMatchObject({ 'HEALTHY BACKENDS': '2/2' }), 30_000);
  },
  CASE_TIMEOUT_MS,
);

test(
  'a changed route is pushed again and observedGeneration follows',
  async () => {
    mustKubectl([
      'patch',
      'mr',
      'chat',
      '-n',
      namespace,
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { aliases: ['assistant'] } }),
    ]);
    await eventually(() => {
      const mr = getJson<{ status: { observedGeneration: number; programmed: string } }>([
        'get',
        'mr',
        'chat',
      ]).status;
      expect(mr).toMatchObject({ observedGeneration: 2, programmed: '2/2' });
    }, 30_000);
    const models = await (await fetch(`${proxies[0]!.dataUrl}/v1/models`)).json();
    expect(models).toMatchObject({
      data: expect.arrayContaining([expect.objectContaining({ id: 'assistant' })]),
    });
  },
  CASE_TIMEOUT_MS,
);

test(
  'the controller serves /healthz, /readyz and Prometheus /metrics',
  async () => {
    const base = controller!.healthUrl!;
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', leader: true });
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/^modelroute_controller_reconciles_total\{result="success"\} [1-9]/m);
    expect(metrics).toMatch(/^modelroute_controller_queue_depth \d+/m);
    expect(metrics).toMatch(/^modelroute_controller_push_duration_seconds_count [1-9]/m);
    expect(metrics).toMatch(
      /^modelroute_controller_health_transitions_total\{to="Unhealthy"\} [1-9]/m,
    );
    expect(metrics).toMatch(/^modelroute_controller_leader 1/m);
    // client-go's and controller-runtime's names, for stock controller dashboards and alerts.
    expect(metrics).toMatch(/^workqueue_adds_total\{name="modelroute"\} [1-9]/m);
    expect(metrics).toMatch(/^workqueue_depth\{name="modelroute"\} \d+/m);
    expect(metrics).toMatch(/^workqueue_work_duration_seconds_count\{name="modelroute"\} [1-9]/m);
    expect(metrics).toMatch(/^workqueue_queue_duration_seconds_count\{name="modelroute"\} [1-9]/m);
    expect(metrics).toMatch(
      /^rest_client_requests_total\{code="200",method="GET",host="[^"]+"\} [1-9]/m,
    );
    expect(metrics).toMatch(
      /^rest_client_requests_total\{code="\d+",method="PATCH",host="[^"]+"\} [1-9]/m,
    );
    expect(metrics).toContain(
      `leader_election_master_status{name="modelroute-controller-${namespace}"} 1`,
    );
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  },
  CASE_TIMEOUT_MS,
);

test(
  'a serviceRef backend whose Service has no ready endpoints is not Ready, and says so',
  async () => {
    const slice = (ready: boolean) => ({
      apiVersion: 'discovery.k8s.io/v1',
      kind: 'EndpointSlice',
      metadata: { name: 'vllm-1', labels: { 'kubernetes.io/service-name': 'vllm' } },
      addressType: 'IPv4',
      endpoints: [{ addresses: ['10.0.0.9'], conditions: { ready } }],
      ports: [{ name: 'http', port: 8000, protocol: 'TCP' }],
    });
    // No kube-controller-manager runs here: the test writes the slice itself.
    cluster.apply([
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: 'vllm' },
        spec: { ports: [{ name: 'http', port: 8000 }] },
      },
      slice(false),
      {
        apiVersion: 'modelroute.io/v1alpha1',
        kind: 'ModelBackend',
        metadata: { name: 'llama' },
        spec: {
          provider: 'openai-compatible',
          serviceRef: { name: 'vllm', port: 8000 },
          model: 'llama',
          healthCheck: { enabled: false },
        },
      },
    ]);
    const readyCondition = () =>
      getJson<{ status?: { conditions?: { type: string; status: string; reason: string }[] } }>([
        'get',
        'mb',
        'llama',
      ]).status?.conditions?.find((c) => c.type === 'Ready');
    await eventually(
      () => expect(readyCondition()).toMatchObject({ status: 'False', reason: 'NoReadyEndpoints' }),
      30_000,
    );
    cluster.apply([slice(true)]);
    await eventually(() => expect(readyCondition()).toMatchObject({ status: 'True' }), 30_000);
    mustKubectl(['delete', 'mb', 'llama', '-n', namespace]);
  },
  CASE_TIMEOUT_MS,
);
