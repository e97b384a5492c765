// Version skew on the real API server (docs/version-skew.md): the previous
// release's proxy, run from its own sources taken out of git history and
// registered as a Pod next to a current proxy, is programmed by this
// controller (it gets format 1, exactly what it parses) and routes traffic as
// the route says, while the current proxy gets the current format.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';
import OpenAI from 'openai';
import type { RunningController } from '../../src/controller/controller.js';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { fromNewerWriter, randomTable } from '../../src/routing/__fixtures__/random-table.js';
import { seededRandom } from '../../src/routing/random.js';
import { routeVersions } from '../../src/routing/route-version.js';
import { tableInFormat } from '../../src/routing/table-format.js';
import {
  TABLE_FORMAT_VERSION,
  tableContentVersion,
  type RoutingTable,
} from '../../src/routing/table.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createNamespace, installCRDs } from '../support/cluster.js';
import {
  ADMIN_TOKEN,
  backendObject,
  ClusterHandle,
  routeObject,
  startTestProxy,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import {
  PREVIOUS_RELEASE,
  checkoutPreviousRelease,
  previousProxyCommand,
} from '../support/previous-release.js';
import { startLeader } from '../support/strong-share-route.js';

/** Each case's bounded waits decide; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 120_000;

interface PreviousProxy {
  child: ChildProcess;
  adminUrl: string;
  dataUrl: string;
}

/** The previous release's `modelroute proxy` on `host`, once it logs that it started. */
function startPreviousProxy(host: string): Promise<PreviousProxy> {
  const { command, args, cwd } = previousProxyCommand();
  const child = spawn(
    command,
    [...args, '--host', host, '--port', '0', '--admin-host', host, '--admin-port', '0'],
    {
      cwd,
      env: { ...process.env, MODELROUTE_ADMIN_TOKEN: ADMIN_TOKEN },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  return new Promise((resolve, reject) => {
    let output = '';
    const onLine = (line: string): void => {
      output += `${line}\n`;
      try {
        const entry = JSON.parse(line) as { msg?: string; admin?: string; data?: string };
        if (entry.msg === 'proxy started' && entry.admin && entry.data)
          resolve({ child, adminUrl: entry.admin, dataUrl: entry.data });
      } catch {
        // not a log line
      }
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.on('exit', (code) =>
      reject(
        new Error(
          `the ${PREVIOUS_RELEASE.version} proxy exited (${code}) before it started:\n${output}`,
        ),
      ),
    );
  });
}

/** The route: requests with `x-team: beta` go to `beta`, all others to `a`. */
function chatRoute(beta: string): object {
  return routeObject('chat', ['a'], {
    rules: [
      {
        name: 'beta',
        matches: [{ headers: [{ name: 'x-team', value: 'beta' }] }],
        backendRefs: [{ name: beta }],
      },
      { name: 'main', backendRefs: [{ name: 'a' }] },
    ],
  });
}

async function adminGet<T>(adminUrl: string, path: string): Promise<T> {
  const res = await fetch(`${adminUrl}${path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  return (await res.json()) as T;
}

/** The backend a chat request through `dataUrl` was served by (x-modelroute-backend). */
async function servedBy(dataUrl: string, team?: string): Promise<string | null> {
  const client = new OpenAI({ baseURL: `${dataUrl}/v1`, apiKey: 'x', maxRetries: 0 });
  const { response } = await client.chat.completions
    .create(
      { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
      team ? { headers: { 'x-team': team } } : {},
    )
    .withResponse();
  return response.headers.get('x-modelroute-backend');
}

let cluster: ClusterHandle;
const sims: SimulatedBackend[] = [];
let previous: PreviousProxy | undefined;
let current: RunningProxy | undefined;
let controller: RunningController | undefined;

beforeAll(async () => {
  installCRDs();
  cluster = new ClusterHandle(createNamespace('version-skew'));
  const [a, b] = await Promise.all([
    startSimulatedBackend({ models: ['a-upstream'] }),
    startSimulatedBackend({ models: ['b-upstream'] }),
  ]);
  sims.push(a, b);
  cluster.apply([backendObject('a', a), backendObject('b', b), chatRoute('b')]);
  previous = await startPreviousProxy('127.0.0.31');
  current = await startTestProxy('127.0.0.32');
  cluster.registerProxy('proxy-previous', previous);
  cluster.registerProxy('proxy-current', current);
  controller = await startLeader(cluster, 'version-skew');
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  await current?.close();
  if (previous && previous.child.exitCode === null) {
    const exited = new Promise((r) => previous?.child.once('exit', r));
    previous.child.kill('SIGTERM');
    await exited;
  }
  await Promise.all(sims.map((s) => s.close()));
});

test(
  `the ${PREVIOUS_RELEASE.version} proxy is programmed next to a current one: PROGRAMMED 2/2, Programmed=True, each in a format it reads`,
  async () => {
    await eventually(
      () =>
        expect(cluster.row('modelroutes', 'chat')).toMatchObject({
          READY: 'True',
          PROGRAMMED: '2/2',
          'HEALTHY BACKENDS': '2/2',
        }),
      60_000,
    );
    const status = cluster.json<{
      status: { routeVersion: string; conditions: { type: string; status: string }[] };
    }>(['get', 'mr', 'chat']).status;
    expect(status.conditions.find((c) => c.type === 'Programmed')?.status).toBe('True');

    // The previous release reports no formats; it runs format 1, the current proxy the current one.
    const oldReady = await adminGet<Record<string, unknown>>(previous!.adminUrl, '/readyz');
    expect(oldReady).not.toHaveProperty('tableFormats');
    const oldTable = await adminGet<RoutingTable>(previous!.adminUrl, '/admin/v1/table');
    const newTable = await adminGet<RoutingTable>(current!.adminUrl, '/admin/v1/table');
    expect(oldTable.formatVersion).toBe(1);
    expect(newTable.formatVersion).toBe(TABLE_FORMAT_VERSION);
    expect(TABLE_FORMAT_VERSION).not.toBe(1);
    // The current proxy runs the route exactly as compiled; the previous one
    // exactly as format 1 says it (fields added since, such as the
    // cache-write price, are left out by the projection).
    const id = `${cluster.namespace}/chat`;
    expect(routeVersions(newTable).get(id)).toBe(status.routeVersion);
    const projected = tableInFormat(newTable, 1);
    if (!projected.ok) throw new Error(projected.error);
    expect(routeVersions(oldTable).get(id)).toBe(
      routeVersions(projected.table as RoutingTable).get(id),
    );
  },
  CASE_TIMEOUT_MS,
);

test(
  'traffic through either proxy goes where the route says, and a route change reaches both',
  async () => {
    const ns = cluster.namespace;
    await eventually(async () => {
      for (const proxy of [previous!, current!]) {
        expect(await servedBy(proxy.dataUrl)).toBe(`${ns}/a`);
        expect(await servedBy(proxy.dataUrl, 'beta')).toBe(`${ns}/b`);
      }
    }, 30_000);

    // The controller keeps programming the old proxy: beta traffic moves to a on both.
    cluster.apply([chatRoute('a')]);
    await eventually(async () => {
      for (const proxy of [previous!, current!])
        expect(await servedBy(proxy.dataUrl, 'beta')).toBe(`${ns}/a`);
    }, 30_000);
    await eventually(
      () =>
        expect(cluster.row('modelroutes', 'chat')).toMatchObject({
          READY: 'True',
          PROGRAMMED: '2/2',
        }),
      30_000,
    );
  },
  CASE_TIMEOUT_MS,
);

test(
  `property: tables projected to format 1, with fields ${PREVIOUS_RELEASE.version} never knew dropped, pass ${PREVIOUS_RELEASE.version}'s own parser`,
  () => {
    const rand = seededRandom(20_261_203);
    const grownTables = Array.from(
      { length: 100 },
      () => fromNewerWriter(randomTable(rand), rand) as unknown as RoutingTable,
    );
    const tables = grownTables.map((grown) => {
      const one = tableInFormat(grown, 1);
      if (!one.ok) throw new Error(one.error);
      return one.table;
    });
    // The oracle is strict: the same tables labelled format 1 but not projected are refused.
    const unprojected = grownTables.slice(0, 10).map((grown) => {
      const { version: _v, ...content } = grown;
      const labelled = { ...content, formatVersion: 1 };
      return { ...labelled, version: tableContentVersion(labelled) };
    });
    // The release's parseRoutingTable, run from its own sources.
    const tree = checkoutPreviousRelease();
    const tableModule = pathToFileURL(join(tree, 'src', 'routing', 'table.ts')).href;
    const program = `
      const { parseRoutingTable } = await import(${JSON.stringify(tableModule)});
      let input = '';
      for await (const chunk of process.stdin) input += chunk;
      const results = JSON.parse(input).map((t) => { const r = parseRoutingTable(t); return r.ok ? 'ok' : r.error; });
      process.stdout.write(JSON.stringify(results));
    `;
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', program],
      {
        cwd: tree,
        input: JSON.stringify([...tables, ...unprojected]),
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      },
    );
    expect(run.stderr).toBe('');
    const results = JSON.parse(run.stdout) as string[];
    expect(results).toHaveLength(tables.length + unprojected.length);
    expect(results.slice(0, tables.length).filter((r) => r !== 'ok')).toEqual([]);
    for (const refused of results.slice(tables.length))
      expect(refused).toMatch(/invalid routing table: .*Unrecognized key/);
  },
  CASE_TIMEOUT_MS,
);
