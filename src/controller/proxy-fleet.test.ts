import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { compileRoutingTable } from '../routing/compile.js';
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
}> {
  const state = {
    pushes: [] as string[],
    failNext: 0,
    running: null as string | null,
    statsBody: undefined as string | undefined,
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.headers.authorization !== 'Bearer token-0123456789abcdef')
        return void res.writeHead(401).end('{}');
      if (req.method === 'PUT') {
        if (state.failNext > 0) {
          state.failNext -= 1;
          return void res.writeHead(503).end('{"error":{"message":"busy"}}');
        }
        const version = (JSON.parse(body) as { version: string }).version;
        state.pushes.push(version);
        state.running = version;
        return void res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ version, changed: true }));
      }
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(state.statsBody ?? JSON.stringify({ tableVersion: state.running, backends: [] }));
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
  beforeEach(async () => {
    proxy = await fakeProxy();
    acks = 0;
    fleet = new ProxyFleet({
      adminToken: 'token-0123456789abcdef',
      logger: createLogger({ level: 'error', write: () => {} }),
      onAckChange: () => acks++,
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

  test('a proxy found running another version (restarted with an old table) is pushed again', async () => {
    const t = table('chat');
    fleet.setDesired(pod(proxy.url), t);
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(t.version));
    proxy.running = 'sha256:00000000000000000000';
    const stats = await fleet.collectStats();
    fleet.observeRunningVersion('ns/p', stats.get('ns/p')!.tableVersion);
    await eventually(() => expect(proxy.pushes).toEqual([t.version, t.version]));
    await eventually(() => expect(fleet.programmedVersion('ns/p')).toBe(t.version));
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
