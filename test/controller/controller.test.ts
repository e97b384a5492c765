// The controller against the real API server: proxies registered as Pod
// objects get their tables, status tells the truth, and a backend failure
// shows up in status and events while traffic keeps flowing.
import OpenAI from 'openai';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import {
  controllerServiceAccountKubeconfig,
  createNamespace,
  installCRDs,
  mustKubectl,
  parseTable,
} from '../support/cluster.js';
import { eventually } from '../support/eventually.js';

const TOKEN = 'controller-test-admin-token-0123456789';
const quiet = () => createLogger({ level: 'error', write: () => {} });

let namespace: string;
const sims: Record<string, SimulatedBackend> = {};
const proxies: RunningProxy[] = [];
let controller: RunningController | undefined;

function backendYaml(name: string, sim: SimulatedBackend): object {
  return {
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name },
    spec: {
      provider: 'openai-compatible',
      endpoint: `${sim.url}/v1`,
      model: `${name}-upstream`,
      healthCheck: { interval: '1s', timeout: '1s', unhealthyThreshold: 2, healthyThreshold: 1 },
    },
  };
}

function podYaml(name: string, adminPort: number): object {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      labels: { 'modelroute.io/proxy': 'true', app: 'web' },
      annotations: { 'modelroute.io/admin-port': String(adminPort) },
    },
    spec: { containers: [{ name: 'proxy', image: 'modelroute:test' }] },
  };
}

function markReady(name: string, ip: string): void {
  const status = {
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        },
      ],
    },
  };
  mustKubectl([
    'patch',
    'pod',
    name,
    '-n',
    namespace,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify(status),
  ]);
}

function apply(objects: object[]): void {
  mustKubectl(
    ['apply', '-n', namespace, '-f', '-'],
    objects.map((o) => JSON.stringify(o)).join('\n'),
  );
}

function routeRow(): Record<string, string> | undefined {
  return parseTable(mustKubectl(['get', 'modelroutes', '-n', namespace])).find(
    (r) => r.NAME === 'chat',
  );
}

function getJson<T>(args: string[]): T {
  return JSON.parse(mustKubectl([...args, '-n', namespace, '-o', 'json'])) as T;
}

beforeAll(async () => {
  installCRDs();
  namespace = createNamespace('controller');
  sims.a = await startSimulatedBackend({ models: ['a-upstream'] });
  sims.b = await startSimulatedBackend({ models: ['b-upstream'] });
  apply([
    backendYaml('a', sims.a),
    backendYaml('b', sims.b),
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'chat' },
      spec: {
        model: 'chat',
        rules: [
          { name: 'main', strategy: 'priority', backendRefs: [{ name: 'a' }, { name: 'b' }] },
        ],
      },
    },
  ]);
  for (const [i, ip] of ['127.0.0.2', '127.0.0.3'].entries()) {
    const proxy = await startProxy({ host: ip, adminToken: { value: TOKEN }, logger: quiet() });
    proxies.push(proxy);
    const adminPort = Number(new URL(proxy.adminUrl).port);
    apply([podYaml(`proxy-${i}`, adminPort)]);
    markReady(`proxy-${i}`, ip);
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
  });
});

afterAll(async () => {
  await controller?.close();
  await Promise.all(proxies.map((p) => p.close()));
  await Promise.all(Object.values(sims).map((s) => s.close()));
});

test('every proxy gets its table and kubectl shows PROGRAMMED 2/2 and READY True', async () => {
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
  const status = getJson<{ status: { tableVersion: string; observedGeneration: number } }>([
    'get',
    'mr',
    'chat',
  ]).status;
  for (const proxy of proxies) {
    const table = (await (
      await fetch(`${proxy.adminUrl}/admin/v1/table`, {
        headers: { authorization: `Bearer ${TOKEN}` },
      })
    ).json()) as { version: string };
    expect(table.version).toBe(status.tableVersion);
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
});

test('a killed backend shows Unhealthy with lastFailover and an Event while requests keep succeeding; it recovers', async () => {
  const clients = proxies.map(
    (p) => new OpenAI({ baseURL: `${p.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 }),
  );
  const port = Number(new URL(sims.a!.url).port);
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
  const route = getJson<{ status: { lastFailover: { from: string; to: string; reason: string } } }>(
    ['get', 'mr', 'chat'],
  ).status;
  expect(route.lastFailover).toMatchObject({
    from: 'a',
    to: 'b',
    reason: expect.stringContaining('became Unhealthy'),
  });
  expect(routeRow()).toMatchObject({ READY: 'True', 'HEALTHY BACKENDS': '1/2' });
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
  for (let i = 0; i < 10; i++) await traffic();

  sims.a = await startSimulatedBackend({ port, models: ['a-upstream'] });
  await eventually(() => {
    const mb = getJson<{ status: { health: { state: string } } }>(['get', 'mb', 'a']).status;
    expect(mb.health.state).toBe('Healthy');
  }, 30_000);
  const recovered = getJson<{ status: { lastFailover: { recoveredTime?: string } } }>([
    'get',
    'mr',
    'chat',
  ]).status;
  expect(recovered.lastFailover.recoveredTime).toEqual(expect.any(String));
  await eventually(() => expect(routeRow()).toMatchObject({ 'HEALTHY BACKENDS': '2/2' }), 30_000);
});

test('a changed route is pushed again and observedGeneration follows', async () => {
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
});
