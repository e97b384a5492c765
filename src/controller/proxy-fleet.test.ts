import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compileRoutingTable } from '../routing/compile.js';
import { tableInFormat } from '../routing/table-format.js';
import { TABLE_FORMAT_VERSION, tableContentVersion } from '../routing/table.js';
import { backend, route } from '../routing/__fixtures__/objects.js';
import { createLogger } from '../telemetry/logger.js';
import { eventually } from '../../test/support/eventually.js';
import { ProxyFleet, type ProxyPod } from './proxy-fleet.js';

/** A stand-in proxy admin API that records pushes and can fail on demand. */
async function fakeProxy(): Promise<{
  server: Server;
  url: string;
  pushes: string[];
  failNext: number;
  running: string | null;
  statsBody: string | undefined;
  /** The table formats it reports (undefined: none, as 0.1.0), and the format of each push. */
  formats: number[] | undefined;
  pushedFormats: number[];
}> {
  const state = {
    pushes: [] as string[],
    failNext: 0,
    running: null as string | null,
    statsBody: undefined as string | undefined,
    formats: [1, 2] as number[] | undefined,
    pushedFormats: [] as number[],
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const tableFormats = state.formats;
      if (req.url === '/readyz')
        return void res.writeHead(200).end(JSON.stringify({ tableFormats }));
      if (req.headers.authorization !== 'Bearer token-0123456789abcdef')
        return void res.writeHead(401).end('{}');
      if (req.method === 'PUT') {
        if (state.failNext > 0) {
          state.failNext -= 1;
          return void res.writeHead(503).end('{"error":{"message":"busy"}}');
        }
        const pushed = JSON.parse(body) as { version: string; formatVersion: number };
        const version = pushed.version;
        state.pushes.push(version);
        state.pushedFormats.push(pushed.formatVersion);
        state.running = version;
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ version, changed: true, tableFormats }));
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(
          state.statsBody ??
            JSON.stringify({ tableVersion: state.running, tableFormats, backends: [] }),
        );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return Object.assign(state, {
    server,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
  });
}

const table = (model: string) =>
  compileRoutingTable(
    [route(model, { rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] })],
    [backend('a')],
  );
const pod = (url: string, uid = 'u1'): ProxyPod => ({
  key: 'ns/p',
  namespace: 'ns',
  name: 'p',
  uid,
  labels: {},
  adminUrl: url,
});

describe('ProxyFleet', () => {
  let proxy: Awaited<ReturnType<typeof fakeProxy>>;
  let fleet: ProxyFleet;
  let acks: number;
  let pushFailures: { pod: string; routes: string[]; error: string }[];
  beforeEach(async () => {
    proxy = await fakeProxy();
    acks = 0;
    pushFailures = [];
    fleet = new ProxyFleet({
      adminToken: 'token-0123456789abcdef',
      logger: createLogger({ level: 'error', write: () => {} }),
      onAckChange: () => acks++,
      onPushFailed: (p, t, error) =>
        pushFailures.push({ pod: p.key, routes: t.routes.map((r) => r.id), error }),
      baseRetryMs: 10,
      maxRetryMs: 50,
    });
  });
  afterEach(() => {
    fleet.stop();
    proxy.server.close();
  });

  test('pushes the desired table once and reports it programmed only after the acknowledgement', async () => {
    const t = table('chat');
    fleet.setDesired(pod(proxy.url), t);
    expect(fleet.programmedVersion('ns/p')).toBeUndefined();
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(t.version));
    fleet.setDesired(pod(proxy.url), t);
    await new Promise((r) => setTimeout(r, 30));
    expect(proxy.pushes).toEqual([t.version]);
    expect(acks).toBe(1);
  });

  test('retries with backoff until the proxy accepts', async () => {
    proxy.failNext = 3;
    const t = table('chat');
    fleet.setDesired(pod(proxy.url), t);
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(t.version), 5_000);
    expect(proxy.pushes).toEqual([t.version]);
    // Told once for the streak of three (the same cause), not on every retry: it feeds Events.
    expect(pushFailures).toEqual([
      { pod: 'ns/p', routes: [t.routes[0]!.id], error: 'HTTP 503: busy' },
    ]);
  });

  test('a new desired table replaces the old one; a restarted pod (new uid) is pushed again', async () => {
    const one = table('one');
    const two = table('two');
    fleet.setDesired(pod(proxy.url), one);
    fleet.setDesired(pod(proxy.url), two);
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(two.version));
    fleet.setDesired(pod(proxy.url, 'u2'), two);
    expect(fleet.programmedVersion('ns/p')).toBeUndefined();
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(two.version));
    expect(proxy.pushes.at(-1)).toBe(two.version);
  });

  test('a table that changes while the proxy is asked its formats: the one sent is the one recorded as running', async () => {
    // The first push asks /readyz first; the desired table changes during that
    // wait (a backend turned Healthy). Each route must count as programmed.
    const one = table('one');
    const two = table('two');
    fleet.setDesired(pod(proxy.url), one);
    fleet.setDesired(pod(proxy.url), two);
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(two.version));
    expect(proxy.pushes).toEqual([two.version]);
    expect(fleet.runningTable('ns/p')).toBe(two);
  });

  test('a proxy found running another version (restarted with an old table) is pushed again', async () => {
    const t = table('chat');
    fleet.setDesired(pod(proxy.url), t);
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(t.version));
    proxy.running = 'sha256:00000000000000000000';
    const stats = await fleet.collectStats();
    fleet.observeRunningVersion(
      'ns/p',
      stats.get('ns/p')!.tableVersion,
      stats.get('ns/p')!.tableFormats,
    );
    await eventually(() => expect(proxy.pushes).toEqual([t.version, t.version]));
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(t.version));
  });
  test('a proxy reporting no table formats (0.1.0) gets format 1 and counts as running the table', async () => {
    proxy.formats = undefined;
    const t = table('chat');
    const one = tableInFormat(t, 1);
    if (!one.ok) throw new Error(one.error);
    fleet.setDesired(pod(proxy.url), t);
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(one.version));
    expect(proxy.pushedFormats).toEqual([1]);
    expect(fleet.tableFormat('ns/p')).toBe(1);
    expect(fleet.runningTable('ns/p')).toBe(t);
    // Its stats (no formats, the format 1 version) are what it should run: no push again.
    const stats = await fleet.collectStats();
    fleet.observeRunningVersion('ns/p', stats.get('ns/p')!.tableVersion, undefined);
    expect(fleet.programmedVersion('ns/p')).toBe(one.version);
    expect(proxy.pushes).toEqual([one.version]);
  });

  test('a current proxy gets the current format; a new image in the same pod that reads fewer formats is sent format 1', async () => {
    const t = table('chat');
    fleet.setDesired(pod(proxy.url), t);
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(t.version));
    expect(proxy.pushedFormats).toEqual([TABLE_FORMAT_VERSION]);
    proxy.formats = undefined; // the container restarted with the 0.1.0 image
    proxy.running = null;
    const stats = await fleet.collectStats();
    fleet.observeRunningVersion('ns/p', null, stats.get('ns/p')!.tableFormats);
    await eventually(() => expect(proxy.pushedFormats).toEqual([TABLE_FORMAT_VERSION, 1]));
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(proxy.pushes.at(-1)));
  });

  test('a table format 1 cannot hold is not sent to a 0.1.0 proxy, and the reason is its push error', async () => {
    proxy.formats = undefined;
    const t = table('chat');
    const { version: _v, ...content } = t;
    (content.backends[0] as { provider: string }).provider = 'some-later-provider';
    const later = { ...content, version: tableContentVersion(content) };
    fleet.setDesired(pod(proxy.url), later);
    await eventually(() =>
      expect(fleet.pushError('ns/p')).toMatch(
        /table format 1 .*backends\.0\.provider: "some-later-provider" is not one of/,
      ),
    );
    expect(proxy.pushes).toEqual([]);
    expect(fleet.programmedVersion('ns/p')).toBeUndefined();
  });

  test('a proxy that takes the table but never answers gets a timeout as its push error, then is pushed again', async () => {
    let hung = 0;
    const silent = createServer((req, res) => {
      if (req.url === '/readyz') return void res.writeHead(200).end('{"tableFormats":[1,2]}');
      hung += 1; // read the table, answer nothing
      req.resume();
    });
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const timing = new ProxyFleet({
      adminToken: 'token-0123456789abcdef',
      logger: createLogger({ level: 'error', write: () => {} }),
      onAckChange: () => {},
      requestTimeoutMs: 100,
      baseRetryMs: 10,
      maxRetryMs: 50,
    });
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      timing.setDesired(pod(url), table('chat'));
      await eventually(() =>
        expect(timing.pushError('ns/p')).toBe('no answer from its admin port in time'),
      );
      await eventually(() => expect(hung).toBeGreaterThan(1));
      expect(timing.programmedVersion('ns/p')).toBeUndefined();
    } finally {
      timing.stop();
      silent.closeAllConnections();
      silent.close();
    }
  });

  test('a proxy that drops the connection mid-push gets the socket error as its push error', async () => {
    const dropping = createServer((req, res) => {
      if (req.url === '/readyz') return void res.writeHead(200).end('{"tableFormats":[1,2]}');
      req.socket.destroy();
    });
    await new Promise<void>((r) => dropping.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(dropping.address() as AddressInfo).port}`;
      fleet.setDesired(pod(url), table('chat'));
      await eventually(() =>
        expect(fleet.pushError('ns/p')).toMatch(/\(\w+: is the admin port reachable\?\)$/),
      );
      expect(fleet.programmedVersion('ns/p')).toBeUndefined();
    } finally {
      dropping.close();
    }
  });

  test('one shared table body is sent whole to every proxy: sending it does not use it up', async () => {
    const others = await Promise.all([fakeProxy(), fakeProxy(), fakeProxy()]);
    try {
      const t = table('chat');
      const all = [proxy, ...others];
      all.forEach((p, i) => fleet.setDesired({ ...pod(p.url), key: `ns/p${i}`, name: `p${i}` }, t));
      await eventually(() =>
        all.forEach((_, i) => expect(fleet.programmedVersion(`ns/p${i}`)).toBe(t.version)),
      );
      expect(all.map((p) => p.pushes)).toEqual(all.map(() => [t.version]));
    } finally {
      others.forEach((p) => p.server.close());
    }
  });

  test('stats a proxy answers in an unexpected shape are ignored, not trusted', async () => {
    const lines: string[] = [];
    const watched = new ProxyFleet({
      adminToken: 'token-0123456789abcdef',
      logger: createLogger({ level: 'warn', write: (l) => lines.push(l) }),
      onAckChange: () => {},
    });
    watched.setDesired(pod(proxy.url), table('chat'));
    proxy.statsBody = JSON.stringify({
      tableVersion: null,
      backends: [{ backendId: 'ns/a', requests: -3, successes: 0, failures: {} }],
    });
    try {
      expect((await watched.collectStats()).size).toBe(0);
      expect(lines.join('\n')).toMatch(/proxy stats not understood.*backends\.0\.requests/);
    } finally {
      watched.stop();
    }
  });
});
