// Two controller replicas on the real API server, leadership moved between
// them again and again (issue 11 classes 7, 11, 12): the leader of the moment
// still probes, usage survives every change, takeovers emit no Events of
// their own; and a route naming the most backends a spec allows gets a status
// (class 9).
import OpenAI from 'openai';
import { partitionable } from '../../src/controller/__fixtures__/fake-kube-client.js';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { createKubeClient } from '../../src/k8s/kube-client.js';
import type { KubeClient } from '../../src/k8s/types.js';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createNamespace, installCRDs, testenv } from '../support/cluster.js';
import {
  ADMIN_TOKEN,
  backendObject,
  ClusterHandle,
  quietLogger,
  routeObject,
  startTestProxy,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';

const CASE_TIMEOUT_MS = 180_000;
/** Short timings so a flap takes seconds: renew deadline 2 s, retry 400 ms. */
const LEASE_MS = 3_000;

let namespace: string;
let cluster: ClusterHandle;
const sims: Record<string, SimulatedBackend> = {};
let proxy: RunningProxy;
const replicas: { controller: RunningController; client: KubeClient & { reach: string } }[] = [];

async function startReplica(identity: string) {
  const client = partitionable(createKubeClient({ kubeconfigPath: testenv.kubeconfig }));
  const controller = await startController({
    client,
    namespace,
    adminToken: ADMIN_TOKEN,
    identity,
    leaseNamespace: namespace,
    leaseDurationMs: LEASE_MS,
    logger: quietLogger(),
    statsIntervalMs: 500,
    usageIntervalMs: 1_000,
    maxProbeIntervalMs: 500,
  });
  const replica = { controller, client };
  replicas.push(replica);
  return replica;
}

const leader = () => replicas.find((r) => r.controller.isLeader);

/** Cuts the leader off from the API server until the other replica leads. */
async function moveLeadership(): Promise<void> {
  const from = leader();
  if (!from) throw new Error('no leader');
  from.client.reach = 'refused';
  await eventually(() => {
    const now = leader();
    expect(now).toBeDefined();
    expect(now).not.toBe(from);
  }, 20_000);
  from.client.reach = 'ok';
}

function usageRow(): Record<string, string> | undefined {
  return cluster.row('modelroutes', 'chat');
}

beforeAll(async () => {
  installCRDs();
  namespace = createNamespace('leadership');
  cluster = new ClusterHandle(namespace);
  sims.a = await startSimulatedBackend({ models: ['a-upstream'] });
  sims.b = await startSimulatedBackend({ models: ['b-upstream'] });
  cluster.apply([
    backendObject('a', sims.a),
    backendObject('b', sims.b),
    routeObject('chat', ['a', 'b'], { fallback: { backendRefs: [{ name: 'b' }] } }),
  ]);
  await startReplica('replica-1');
  await startReplica('replica-2');
  // The proxy starts well inside the leader's term (its uptime comes in whole
  // seconds): a proxy born in the term counts from its first report.
  await eventually(() => expect(leader()).toBeDefined(), 20_000);
  await new Promise((r) => setTimeout(r, 1_500));
  proxy = await startTestProxy('127.0.0.4');
  cluster.registerProxy('proxy-0', proxy);
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  for (const r of replicas) await r.controller.close();
  await proxy?.close();
  await Promise.all(Object.values(sims).map((s) => s.close()));
});

test(
  "issue 11 class 11: a fresh proxy's first report counts in full",
  async () => {
    await eventually(() => expect(usageRow()).toMatchObject({ READY: 'True' }), 60_000);
    // Stats were read at least once before any traffic: on main the route's
    // first report (all 30 requests) was only a baseline, whenever it came.
    await new Promise((r) => setTimeout(r, 1_000));
    const client = new OpenAI({ baseURL: `${proxy.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 });
    for (let i = 0; i < 30; i++)
      await client.chat.completions.create({
        model: 'chat',
        messages: [{ role: 'user', content: `hello ${i}` }],
      });
    await eventually(() => expect(usageRow()?.['REQUESTS/1H']).toBe('30'), 30_000);
  },
  CASE_TIMEOUT_MS,
);

test(
  'issue 11 classes 7, 11, 12: leadership moves five times; usage stays, no takeover Events, a killed backend goes Unhealthy',
  async () => {
    const eventsBefore = cluster.json<{ items: { reason: string; count?: number }[] }>([
      'get',
      'events',
      '--field-selector',
      'involvedObject.kind=ModelBackend',
    ]).items;
    const terms = replicas.map((r) => r.controller.leaderTerms);
    for (let i = 0; i < 5; i++) await moveLeadership();
    expect(replicas.reduce((n, r, i) => n + r.controller.leaderTerms - terms[i]!, 0)).toBe(5);
    // Each new leader continued from status.usage: REQUESTS/1H never went blank.
    expect(usageRow()?.['REQUESTS/1H']).toBe('30');
    // Give the last leader time to probe everything a few times.
    await new Promise((r) => setTimeout(r, 2_000));
    const eventsAfter = cluster.json<{ items: { reason: string }[] }>([
      'get',
      'events',
      '--field-selector',
      'involvedObject.kind=ModelBackend',
    ]).items;
    expect(eventsAfter.length).toBe(eventsBefore.length);

    await sims.a!.close();
    await eventually(
      () => expect(cluster.row('modelbackends', 'a')).toMatchObject({ HEALTH: 'Unhealthy' }),
      30_000,
    );
    await eventually(() => {
      const unhealthy = cluster.json<{ items: { reason: string; count?: number }[] }>([
        'get',
        'events',
        '--field-selector',
        'involvedObject.kind=ModelBackend,reason=BackendUnhealthy',
      ]).items;
      expect(unhealthy).toHaveLength(1);
    }, 10_000);
  },
  CASE_TIMEOUT_MS,
);

test(
  'issue 11 class 9: a route naming 16 rules x 16 backends + 16 fallbacks gets a status listing all 272',
  async () => {
    const names = Array.from({ length: 272 }, (_, i) => `wide-${i}`);
    cluster.apply(
      names.map((name) => ({
        apiVersion: 'modelroute.io/v1alpha1',
        kind: 'ModelBackend',
        metadata: { name },
        spec: {
          provider: 'openai-compatible',
          endpoint: `${sims.b!.url}/v1`,
          model: 'b-upstream',
          healthCheck: { enabled: false },
        },
      })),
    );
    cluster.apply([
      {
        apiVersion: 'modelroute.io/v1alpha1',
        kind: 'ModelRoute',
        metadata: { name: 'wide' },
        spec: {
          model: 'wide',
          rules: Array.from({ length: 16 }, (_, r) => ({
            name: `r${r}`,
            backendRefs: names.slice(r * 16, r * 16 + 16).map((name) => ({ name })),
          })),
          fallback: { backendRefs: names.slice(256).map((name) => ({ name })) },
        },
      },
    ]);
    await eventually(() => {
      const status = cluster.json<{ status?: { backends?: unknown[] } }>([
        'get',
        'mr',
        'wide',
      ]).status;
      expect(status?.backends).toHaveLength(272);
    }, 60_000);
    expect(cluster.row('modelroutes', 'wide')?.['HEALTHY BACKENDS']).toMatch(/^\d+\/272$/);
  },
  CASE_TIMEOUT_MS,
);
