// The whole controller on the in-memory API server: leadership flaps (driven
// by a manual clock) and everything the leader does comes back each time.
import { modelBackend, modelRoute, type ModelBackend } from '../api/v1alpha1/index.js';
import { leases, modelBackends, modelRoutes } from '../k8s/kinds.js';
import { startSimulatedBackend, type SimulatedBackend } from '../simulator/index.js';
import { createLogger } from '../telemetry/logger.js';
import { KubeApiError } from '../k8s/types.js';
import { FakeKubeClient, partitionable } from './__fixtures__/fake-kube-client.js';
import { ManualClock } from './clock.js';
import { startController, type RunningController } from './controller.js';
import { leaderElectionTiming } from './leader-election.js';

const NS = 'team';
const TIMING = leaderElectionTiming(15_000);

/** Waits in real time (probes run on real timers) for `check` to hold. */
async function eventually(check: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function backendFor(name: string, sim: SimulatedBackend) {
  return modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name, namespace: NS, generation: 1, uid: `uid-${name}` },
    spec: {
      provider: 'openai-compatible',
      endpoint: `${sim.url}/v1`,
      model: 'm',
      healthCheck: { interval: '1s', timeout: '1s', unhealthyThreshold: 2, healthyThreshold: 1 },
    },
  });
}

let sims: SimulatedBackend[] = [];
let controller: RunningController | undefined;
afterEach(async () => {
  await controller?.close();
  controller = undefined;
  await Promise.all(sims.map((s) => s.close().catch(() => {})));
  sims = [];
});

async function setup(backendNames: string[], logLines: string[] = []) {
  const fake = new FakeKubeClient();
  const client = partitionable(fake);
  const clock = new ManualClock();
  for (const name of backendNames) {
    const sim = await startSimulatedBackend({ models: ['m'] });
    sims.push(sim);
    fake.put(modelBackends, backendFor(name, sim));
  }
  fake.put(
    modelRoutes,
    modelRoute.parse({
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelRoute',
      metadata: { name: 'chat', namespace: NS, generation: 1 },
      spec: {
        model: 'chat',
        rules: [
          {
            name: 'main',
            strategy: 'priority',
            backendRefs: backendNames.map((name) => ({ name })),
          },
        ],
      },
    }),
  );
  controller = await startController({
    client,
    adminToken: 'unit-test-admin-token-0123456789',
    identity: 'a',
    leaseNamespace: 'modelroute-system',
    logger: createLogger({ level: 'error', write: (line) => logLines.push(line) }),
    leaderClock: clock,
    leaseDurationMs: TIMING.leaseDurationMs,
    maxProbeIntervalMs: 100,
    statsIntervalMs: 100_000,
  });
  const health = (name: string) =>
    fake.peek(modelBackends, { namespace: NS, name })?.status?.health?.state;
  return { fake, client, clock, health, controller };
}

/** Cuts this replica off until it steps down, then lets it take the Lease back. */
async function flap(
  env: Awaited<ReturnType<typeof setup>>,
  how: 'refused' | 'hangs' = 'refused',
): Promise<void> {
  env.client.reach = how;
  await env.clock.advance(TIMING.renewDeadlineMs + TIMING.retryPeriodMs);
  expect(env.controller.isLeader).toBe(false);
  env.client.reach = 'ok';
  await env.clock.advance(TIMING.retryPeriodMs);
  expect(env.controller.isLeader).toBe(true);
}

test('issue 11 class 7: after leadership flaps five times, a killed backend is still marked Unhealthy', async () => {
  const env = await setup(['a', 'b']);
  await env.clock.flush();
  expect(env.controller.isLeader).toBe(true);
  await eventually(
    () => env.health('a') === 'Healthy' && env.health('b') === 'Healthy',
    'both Healthy',
  );

  for (let i = 0; i < 5; i++) await flap(env);
  expect(env.controller.leaderTerms).toBe(6);

  await sims[0]!.close();
  await eventually(() => env.health('a') === 'Unhealthy', 'a is Unhealthy');
  expect(env.health('b')).toBe('Healthy');
  expect(
    env.fake.peek(leases, { namespace: 'modelroute-system', name: 'modelroute-controller' })?.spec
      .holderIdentity,
  ).toBe('a');
}, 60_000);

test('an API server that hangs (calls never answer) during a flap: the next term still starts and probes', async () => {
  const env = await setup(['a']);
  // Counts status writes made while calls hang.
  const hung = { count: 0 };
  const patchStatus = env.client.patchStatus.bind(env.client);
  env.client.patchStatus = (kind, ref, patch) => {
    if (env.client.reach === 'hangs') hung.count += 1;
    return patchStatus(kind, ref, patch);
  };
  await env.clock.flush();
  await eventually(() => env.health('a') === 'Healthy', 'a Healthy');
  for (let generation = 2; generation < 4; generation++) {
    // A reconcile is stuck on a status write to the hung API server when leadership is lost.
    env.client.reach = 'hangs';
    const hungBefore = hung.count;
    const a = env.fake.peek(modelBackends, { namespace: NS, name: 'a' })!;
    env.fake.put(modelBackends, { ...a, metadata: { ...a.metadata, generation } });
    await eventually(() => hung.count > hungBefore, 'a status write hangs');
    await flap(env, 'hangs');
  }
  await sims[0]!.close();
  await eventually(() => env.health('a') === 'Unhealthy', 'a is Unhealthy');
}, 60_000);

test('issue 11 class 12: a takeover announces no backend again; one Event per real transition', async () => {
  const env = await setup(['a', 'b', 'c']);
  await env.clock.flush();
  await eventually(() => ['a', 'b', 'c'].every((n) => env.health(n) === 'Healthy'), 'all Healthy');
  await eventually(() => env.fake.events.length === 3, 'three BackendHealthy events');
  for (let i = 0; i < 3; i++) await flap(env);
  // Give each new term time to probe every backend a few times.
  await new Promise((r) => setTimeout(r, 600));
  expect(env.fake.events.map((e) => e.reason)).toEqual([
    'BackendHealthy',
    'BackendHealthy',
    'BackendHealthy',
  ]);
  await sims[1]!.close();
  await eventually(() => env.health('b') === 'Unhealthy', 'b is Unhealthy');
  const onKind = (kind: string) => env.fake.events.filter((e) => e.involved.kind === kind);
  await eventually(() => onKind('ModelBackend').length === 4, 'one BackendUnhealthy event');
  expect(onKind('ModelBackend')[3]).toMatchObject({
    reason: 'BackendUnhealthy',
    type: 'Warning',
    involved: { name: 'b', namespace: NS },
  });
  // And one on the route that used it (issue 16), none for the takeovers before.
  await eventually(() => onKind('ModelRoute').length > 0, 'a Failover event');
  expect(onKind('ModelRoute')).toEqual([
    expect.objectContaining({
      reason: 'Failover',
      type: 'Warning',
      message: 'ModelBackend b became Unhealthy: traffic moved to a',
    }),
  ]);
}, 60_000);

test('a lost term stops probing and pushing: nothing the leader does runs while standing by', async () => {
  const env = await setup(['a']);
  await env.clock.flush();
  await eventually(() => env.health('a') === 'Healthy', 'a Healthy');
  env.client.reach = 'refused';
  await env.clock.advance(TIMING.renewDeadlineMs + TIMING.retryPeriodMs);
  expect(env.controller.isLeader).toBe(false);
  env.client.reach = 'ok';
  // Another replica holds the Lease now: this one stays a standby.
  const lease = env.fake.peek(leases, {
    namespace: 'modelroute-system',
    name: 'modelroute-controller',
  })!;
  env.fake.put(leases, { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } });
  const before = sims[0]!.requests.length;
  await new Promise((r) => setTimeout(r, 500));
  await env.clock.advance(TIMING.retryPeriodMs);
  expect(env.controller.isLeader).toBe(false);
  expect(sims[0]!.requests.length).toBe(before);
  const writes = env.fake.callsOf('patchStatus').length;
  await sims[0]!.close();
  await new Promise((r) => setTimeout(r, 500));
  expect(env.fake.callsOf('patchStatus').length).toBe(writes);
  expect(
    (env.fake.peek(modelBackends, { namespace: NS, name: 'a' }) as ModelBackend).status?.health
      ?.state,
  ).toBe('Healthy');
}, 60_000);

test('issue 11 class 9: a status the API server refuses is logged with the object and the cause, and retried', async () => {
  const lines: string[] = [];
  const env = await setup(['a'], lines);
  env.fake.failNext(
    'patchStatus',
    new KubeApiError(
      'ModelRoute.modelroute.io "chat" is invalid: status.backends: Too many',
      422,
      'Invalid',
    ),
    1_000,
  );
  await env.clock.flush();
  await eventually(
    () => lines.some((l) => l.includes('reconcile failed')),
    'a reconcile failure is logged',
  );
  const logged = lines
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((l) => l.msg === 'reconcile failed; will retry with backoff')!;
  expect(logged).toMatchObject({ level: 'error', namespace: NS });
  expect(String(logged.object)).toMatch(/^Model(Route|Backend) team\/(chat|a)$/);
  expect(JSON.stringify(logged.error)).toContain('status.backends: Too many');
  // Each object of the namespace was attempted: both failures are named.
  await eventually(
    () =>
      new Set(
        lines
          .filter((l) => l.includes('reconcile failed'))
          .map((l) => String((JSON.parse(l) as { object: string }).object)),
      ).size >= 2,
    'both objects named',
  );
}, 60_000);
