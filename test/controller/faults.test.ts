// Faults the control plane must survive: a proxy restart, a second replica
// and leader hand-over, a controller killed mid-flight, and an API server
// outage. Proxies must keep serving throughout.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { Agent, request } from 'undici';
import { startController, type RunningController } from '../../src/controller/controller.js';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { routeVersions } from '../../src/routing/route-version.js';
import { parseRoutingTable } from '../../src/routing/table.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import {
  startApiServer,
  startControlPlane,
  stopApiServer,
  stopControlPlane,
  type ControlPlane,
} from '../testenv/controlplane.js';
import {
  REPO_ROOT,
  controllerServiceAccountKubeconfig,
  createNamespace,
  installCRDs,
  kubectlAt,
} from '../support/cluster.js';
import {
  ADMIN_TOKEN,
  ClusterHandle,
  backendObject,
  quietLogger,
  routeObject,
  startTestProxy,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';

/** Each case's bounded waits decide; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 120_000;

// Every cleanup runs even when a case failed half-way or another cleanup
// throws: a proxy left listening would keep jest's in-band process alive.
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  const errors: unknown[] = [];
  for (const c of cleanups.splice(0).reverse()) {
    try {
      await c();
    } catch (err) {
      errors.push(err);
    }
  }
  if (errors.length > 0) throw new AggregateError(errors, 'cleanup failed');
});

async function sim(): Promise<SimulatedBackend> {
  const s = await startSimulatedBackend({ models: ['m'], recordRequests: false });
  cleanups.push(() => s.close());
  return s;
}

async function proxyAt(
  host: string,
  options: Parameters<typeof startTestProxy>[1] = {},
): Promise<RunningProxy> {
  const p = await startTestProxy(host, options);
  // A case may close it itself (a restart); the cleanup then does nothing.
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => (closed ??= p.close());
  cleanups.push(close);
  return { ...p, close };
}

/** The controller runs as its ServiceAccount on the shared server, as admin on a private one. */
let controllerKubeconfig: string | undefined;

async function controller(
  cluster: ClusterHandle,
  identity: string,
  extra: Partial<Parameters<typeof startController>[0]> = {},
): Promise<RunningController> {
  const c = await startController({
    kubeconfigPath:
      cluster.kubeconfig === plane?.kubeconfig ? cluster.kubeconfig : controllerKubeconfig,
    adminToken: ADMIN_TOKEN,
    identity,
    namespace: cluster.namespace,
    // The ServiceAccount may hold Leases in modelroute-system only.
    leaseNamespace:
      cluster.kubeconfig === plane?.kubeconfig ? cluster.namespace : 'modelroute-system',
    leaseName: `lease-${cluster.namespace}`,
    logger: quietLogger(),
    statsIntervalMs: 500,
    leaseDurationMs: 3000,
    ...extra,
  });
  cleanups.push(() => c.close());
  return c;
}

/**
 * The version of the route "chat" in the table the proxy runs (route-version.ts),
 * or null without a table: what its status's routeVersion says it should be.
 */
async function chatVersion(cluster: ClusterHandle, proxy: RunningProxy): Promise<string | null> {
  // A fresh connection each time: a pooled one may point at the proxy's previous process.
  const agent = new Agent({ pipelining: 0 });
  try {
    const res = await request(`${proxy.adminUrl}/admin/v1/table`, {
      dispatcher: agent,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    const body = await res.body.json();
    if (res.statusCode === 404) return null;
    const parsed = parseRoutingTable(body);
    if (!parsed.ok)
      throw new Error(`the proxy serves a table that does not parse: ${parsed.error}`);
    return routeVersions(parsed.table).get(`${cluster.namespace}/chat`) ?? null;
  } finally {
    await agent.close();
  }
}

/** A spec change (new generation) for the route "chat". */
function changeRoute(cluster: ClusterHandle): void {
  cluster.must([
    'patch',
    'mr',
    'chat',
    '-n',
    cluster.namespace,
    '--type=merge',
    '-p',
    '{"spec":{"aliases":["assistant"]}}',
  ]);
}

/** Waits until status shows the changed route programmed and the proxy runs its table. */
async function resynced(cluster: ClusterHandle, proxy: RunningProxy): Promise<void> {
  await eventually(
    () =>
      expect(routeStatus(cluster, 'chat').status).toMatchObject({
        observedGeneration: 2,
        programmed: '1/1',
      }),
    60_000,
  );
  await eventually(
    async () =>
      expect(await chatVersion(cluster, proxy)).toBe(
        routeStatus(cluster, 'chat').status?.routeVersion,
      ),
    15_000,
  );
}

function routeStatus(cluster: ClusterHandle, name: string) {
  return cluster.json<{
    metadata: { generation: number };
    status?: { observedGeneration?: number; programmed?: string; routeVersion?: string };
  }>(['get', 'mr', name]);
}

/** Sends requests round-robin through the proxies until stopped; counts failures. */
function steadyTraffic(proxies: RunningProxy[]): {
  stop(): Promise<{ ok: number; failed: number; errors: string[] }>;
} {
  const clients = proxies.map(
    (p) => new OpenAI({ baseURL: `${p.dataUrl}/v1`, apiKey: 'x', maxRetries: 0, timeout: 10_000 }),
  );
  let running = true;
  const result = { ok: 0, failed: 0, errors: [] as string[] };
  const loop = (async () => {
    for (let i = 0; running; i++) {
      try {
        await clients[i % clients.length]!.chat.completions.create({
          model: 'chat',
          messages: [{ role: 'user', content: 'hi' }],
        });
        result.ok += 1;
      } catch (err) {
        result.failed += 1;
        result.errors.push((err as Error).message);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return result;
    },
  };
}

describe('on the shared test API server', () => {
  let cluster: ClusterHandle;
  beforeAll(() => {
    installCRDs();
    controllerKubeconfig = controllerServiceAccountKubeconfig();
  });
  beforeEach(async () => {
    cluster = new ClusterHandle(createNamespace('faults'));
    const a = await sim();
    cluster.apply([backendObject('a', a), routeObject('chat', ['a'])]);
  });

  test(
    'a restarted proxy serves its last good table at once and gets the current one pushed',
    async () => {
      const tableFile = join(mkdtempSync(join(tmpdir(), 'modelroute-proxy-')), 'table.json');
      const first = await proxyAt('127.0.0.4', { tableFile });
      cluster.registerProxy('proxy-0', first);
      await controller(cluster, 'c1');
      await eventually(
        () => expect(cluster.row('mr', 'chat')).toMatchObject({ PROGRAMMED: '1/1', READY: 'True' }),
        30_000,
      );
      const programmed = routeStatus(cluster, 'chat').status?.routeVersion;
      const { port } = new URL(first.dataUrl);
      const adminPort = new URL(first.adminUrl).port;
      await first.close();

      const restarted = await proxyAt('127.0.0.4', {
        tableFile,
        port: Number(port),
        adminPort: Number(adminPort),
      });
      expect(await chatVersion(cluster, restarted)).toBe(programmed); // before any push
      const client = new OpenAI({ baseURL: `${restarted.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 });
      await expect(
        client.chat.completions.create({
          model: 'chat',
          messages: [{ role: 'user', content: 'hi' }],
        }),
      ).resolves.toBeDefined();

      changeRoute(cluster);
      await eventually(async () => {
        const status = routeStatus(cluster, 'chat').status;
        expect(status?.observedGeneration).toBe(2);
        expect(await chatVersion(cluster, restarted)).toBe(status?.routeVersion);
      }, 15_000);
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'a proxy restarted without its table gets one pushed again',
    async () => {
      const first = await proxyAt('127.0.0.5');
      cluster.registerProxy('proxy-0', first);
      await controller(cluster, 'c1');
      await eventually(
        () => expect(cluster.row('mr', 'chat')).toMatchObject({ PROGRAMMED: '1/1' }),
        30_000,
      );
      const { port } = new URL(first.dataUrl);
      const adminPort = new URL(first.adminUrl).port;
      await first.close();
      const restarted = await proxyAt('127.0.0.5', {
        port: Number(port),
        adminPort: Number(adminPort),
      });
      expect(await chatVersion(cluster, restarted)).toBeNull();
      await eventually(
        async () =>
          expect(await chatVersion(cluster, restarted)).toBe(
            routeStatus(cluster, 'chat').status?.routeVersion,
          ),
        15_000,
      );
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'two replicas: only the leader pushes and writes; when it goes, the other takes over',
    async () => {
      const proxy = await proxyAt('127.0.0.6');
      cluster.registerProxy('proxy-0', proxy);
      // A longer lease than the other cases: on a loaded machine a 3 s lease can
      // change hands before the assertions below look, which is a different case.
      // A clean close releases the Lease, so the hand-over below stays quick.
      const one = await controller(cluster, 'replica-1', { leaseDurationMs: 15_000 });
      const two = await controller(cluster, 'replica-2', { leaseDurationMs: 15_000 });
      await eventually(
        () => expect([one.isLeader, two.isLeader].filter(Boolean)).toHaveLength(1),
        15_000,
      );
      await eventually(
        () => expect(cluster.row('mr', 'chat')).toMatchObject({ PROGRAMMED: '1/1' }),
        30_000,
      );
      const [leader, standby] = one.isLeader ? [one, two] : [two, one];
      await eventually(
        async () =>
          expect(await leader.metrics.render()).toMatch(
            /modelroute_controller_status_writes_total\{kind="ModelRoute"\} [1-9]/,
          ),
        15_000,
      );
      expect(leader.isLeader).toBe(true);
      expect(await standby.metrics.render()).not.toMatch(
        /modelroute_controller_status_writes_total\{[^}]*\} [1-9]/,
      );

      await leader.close();
      await eventually(() => expect(standby.isLeader).toBe(true), 10_000);
      changeRoute(cluster);
      await eventually(
        () =>
          expect(routeStatus(cluster, 'chat').status).toMatchObject({
            observedGeneration: 2,
            programmed: '1/1',
          }),
        15_000,
      );
    },
    CASE_TIMEOUT_MS,
  );

  test(
    'a killed controller: proxies keep serving with zero failures; the next one resyncs',
    async () => {
      const proxy = await proxyAt('127.0.0.7');
      cluster.registerProxy('proxy-0', proxy);
      const spawnController = (identity: string): ChildProcess => {
        const child = spawn(
          process.execPath,
          [
            '--import',
            'tsx',
            join(REPO_ROOT, 'src/cli/main.ts'),
            'controller',
            '--kubeconfig',
            cluster.kubeconfig,
            '--namespace',
            cluster.namespace,
            '--lease-namespace',
            'modelroute-system',
            '--lease-name',
            `lease-${cluster.namespace}`,
            '--identity',
            identity,
            '--lease-duration',
            '3s',
            '--health-port',
            '0',
            '--health-host',
            '127.0.0.1',
            '--log-level',
            'error',
          ],
          {
            cwd: REPO_ROOT,
            env: { ...process.env, MODELROUTE_ADMIN_TOKEN: ADMIN_TOKEN },
            stdio: 'ignore',
          },
        );
        cleanups.push(() => {
          child.kill('SIGKILL');
        });
        return child;
      };
      const first = spawnController('killed-one');
      await eventually(
        () => expect(cluster.row('mr', 'chat')).toMatchObject({ PROGRAMMED: '1/1', READY: 'True' }),
        60_000,
      );
      const traffic = steadyTraffic([proxy]);
      first.kill('SIGKILL');
      await new Promise((r) => first.once('exit', r));
      // While no controller runs, the route changes.
      changeRoute(cluster);
      await new Promise((r) => setTimeout(r, 2000));
      spawnController('next-one');
      await resynced(cluster, proxy);
      const result = await traffic.stop();
      expect(result.errors).toEqual([]);
      expect(result.ok).toBeGreaterThan(10);
    },
    CASE_TIMEOUT_MS,
  );
});

let plane: ControlPlane | undefined;

describe('an API server outage', () => {
  beforeAll(async () => {
    plane = await startControlPlane({
      dir: mkdtempSync(join(tmpdir(), 'modelroute-outage-')),
      stopWithParent: true,
    });
  }, CASE_TIMEOUT_MS);
  afterAll(async () => {
    // kube-apiserver drains gracefully on SIGTERM, which takes seconds.
    if (plane) await stopControlPlane(plane.dir);
  }, CASE_TIMEOUT_MS);

  test('20 s without the API server: the controller reconnects without crashing and statuses converge', async () => {
    if (!plane) throw new Error('no control plane');
    const outage = plane;
    const apply = (args: string[], input?: string) => {
      const r = kubectlAt(outage.kubeconfig, args, input);
      if (r.code !== 0) throw new Error(r.stderr);
      return r.stdout;
    };
    apply(['apply', '--server-side', '-f', join(REPO_ROOT, 'crds')]);
    apply(['wait', '--for=condition=Established', '--timeout=60s', '-f', join(REPO_ROOT, 'crds')]);
    apply(['create', 'namespace', 'outage']);
    const cluster = new ClusterHandle('outage', outage.kubeconfig);
    const a = await sim();
    cluster.apply([backendObject('a', a), routeObject('chat', ['a'])]);
    const proxy = await proxyAt('127.0.0.8');
    cluster.registerProxy('proxy-0', proxy);
    const c = await controller(cluster, 'survivor');
    await eventually(
      () => expect(cluster.row('mr', 'chat')).toMatchObject({ PROGRAMMED: '1/1', READY: 'True' }),
      30_000,
    );

    const traffic = steadyTraffic([proxy]);
    await stopApiServer(outage);
    await new Promise((r) => setTimeout(r, 20_000));
    await startApiServer(outage);
    changeRoute(cluster);
    await resynced(cluster, proxy);
    expect(c.isLeader).toBe(true);
    const result = await traffic.stop();
    expect(result.errors).toEqual([]);
  }, 150_000);
});
