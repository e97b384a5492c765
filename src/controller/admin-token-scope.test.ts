// Scoped admin tokens between a real ProxyFleet and real proxies: each proxy
// is sent only its namespace's derived token, which a proxy of another
// namespace refuses, and the fleet token itself never leaves; a proxy given
// its own per-pod token (podAdminToken) is pushed with that, which moves no
// other pod.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AdminToken, namespaceAdminToken, podAdminToken } from '../proxy/admin/admin-token.js';
import { startProxy, type RunningProxy } from '../proxy/proxy.js';
import { compileRoutingTable } from '../routing/compile.js';
import { READABLE_TABLE_FORMATS } from '../routing/table.js';
import { backend, route } from '../routing/__fixtures__/objects.js';
import { createLogger } from '../telemetry/logger.js';
import { eventually } from '../../test/support/eventually.js';
import { ProxyFleet, type ProxyPod } from './proxy-fleet.js';

const FLEET = 'fleet-token-0123456789abcdef';
const quiet = () => createLogger({ level: 'error', write: () => {} });
const table = compileRoutingTable(
  [route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] })],
  [backend('a')],
);
const podAt = (namespace: string, adminUrl: string): ProxyPod => ({
  key: `${namespace}/p`,
  namespace,
  name: 'p',
  uid: 'u',
  labels: {},
  adminUrl,
});

const proxies: RunningProxy[] = [];
afterAll(async () => {
  await Promise.all(proxies.map((p) => p.close()));
});

/** A fleet that sends each proxy its namespace's token (and does not retry within a test). */
const scopedFleet = () =>
  new ProxyFleet({
    adminToken: FLEET,
    adminTokenScope: 'namespace',
    logger: quiet(),
    onAckChange: () => {},
    baseRetryMs: 60_000,
  });

/** The default scope: the fleet token for unmarked pods. */
const fleetScoped = () =>
  new ProxyFleet({
    adminToken: FLEET,
    logger: quiet(),
    onAckChange: () => {},
    baseRetryMs: 60_000,
  });

async function proxyWith(value: string, namespace: string): Promise<RunningProxy> {
  const proxy = await startProxy({ adminToken: { value, namespace }, logger: quiet() });
  proxies.push(proxy);
  return proxy;
}

test('the derived token is what openssl computes from the documented recipe', () => {
  const openssl = execFileSync('openssl', ['dgst', '-sha256', '-hmac', FLEET, '-r'], {
    input: 'modelroute-admin/team-a',
  })
    .toString()
    .split(' ')[0];
  expect(namespaceAdminToken(FLEET, 'team-a')).toBe(openssl);
});

test('scoped pushes reach proxies holding the fleet or their namespace token, not another namespace', async () => {
  const fleet = scopedFleet();
  try {
    // Holds the fleet token (the chart's gateway) or its namespace's derived token (a copy).
    const gateway = await proxyWith(FLEET, 'team-a');
    const app = await proxyWith(namespaceAdminToken(FLEET, 'team-a'), 'team-a');
    // A proxy of team-b, pushed as if it were in team-a (what team-a's token holder could do).
    const other = await proxyWith(namespaceAdminToken(FLEET, 'team-b'), 'team-b');
    const targets = [
      podAt('team-a', gateway.adminUrl),
      { ...podAt('team-a', app.adminUrl), key: 'team-a/app' },
      { ...podAt('team-a', other.adminUrl), key: 'team-a/other' },
    ];
    for (const pod of targets) fleet.setDesired(pod, table);
    await eventually(() => {
      expect(fleet.programmedVersion('team-a/p')).toBe(table.version);
      expect(fleet.programmedVersion('team-a/app')).toBe(table.version);
      expect(fleet.pushError('team-a/other')).toMatch(/HTTP 401/);
    });
  } finally {
    fleet.stop();
  }
});

test('with scoped tokens a pod posing as a proxy never sees the fleet token', async () => {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    // The table-format question before the first push (GET /readyz) carries no token at all.
    if (req.headers.authorization !== undefined) seen.push(req.headers.authorization);
    res.writeHead(401).end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const fleet = scopedFleet();
  try {
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    fleet.setDesired(podAt('tenant', url), table);
    await fleet.collectStats();
    await eventually(() => expect(seen.length).toBeGreaterThanOrEqual(2));
    expect(new Set(seen)).toEqual(new Set([`Bearer ${namespaceAdminToken(FLEET, 'tenant')}`]));
  } finally {
    fleet.stop();
    server.close();
  }
});

describe('per-pod admin tokens', () => {
  const UID = '0b5e5c3a-1f2e-4c1d-9a8b-7c6d5e4f3a2b';

  test('match the documented openssl recipe and a fixed vector', () => {
    const openssl = execFileSync('openssl', ['dgst', '-sha256', '-hmac', FLEET, '-r'], {
      input: `modelroute-admin-pod/team-a/web-7d9f/${UID}`,
    })
      .toString()
      .split(' ')[0];
    expect(podAdminToken(FLEET, 'team-a', 'web-7d9f', UID)).toBe(openssl);
    expect(podAdminToken(FLEET, 'team-a', 'web-7d9f', UID)).toBe(
      '4ae214b6cd481c6d83e79a1fa6f762e3fd9e4405a7e3e2fe760384e03247da69',
    );
  });

  test('differ for every namespace, name, UID and fleet token, and from the namespace token', () => {
    const tokens = new Set([
      podAdminToken(FLEET, 'team-a', 'web', UID),
      podAdminToken(FLEET, 'team-b', 'web', UID),
      podAdminToken(FLEET, 'team-a', 'web-2', UID),
      podAdminToken(FLEET, 'team-a', 'web', 'another-uid'),
      podAdminToken(`${FLEET}x`, 'team-a', 'web', UID),
      namespaceAdminToken(FLEET, 'team-a'),
      FLEET,
    ]);
    expect(tokens.size).toBe(7);
  });

  test('AdminToken accepts a delivered token next to its own, and forgets it when replaced', () => {
    // A sidecar without a Secret: no configured token (a random one nobody knows).
    const token = new AdminToken({ namespace: 'team-a' });
    const mine = podAdminToken(FLEET, 'team-a', 'web', UID);
    const other = podAdminToken(FLEET, 'team-a', 'web-2', UID);
    expect(token.accepts(`Bearer ${mine}`)).toBe(false);
    token.deliver(mine);
    expect(token.accepts(`Bearer ${mine}`)).toBe(true);
    expect(token.accepts(`bearer  ${mine} `)).toBe(true);
    for (const wrong of [other, FLEET, namespaceAdminToken(FLEET, 'team-a'), mine.slice(1), ''])
      expect(token.accepts(`Bearer ${wrong}`)).toBe(false);
    token.deliver(other);
    expect(token.accepts(`Bearer ${mine}`)).toBe(false);
    expect(token.accepts(`Bearer ${other}`)).toBe(true);
    token.deliver(undefined);
    expect(token.accepts(`Bearer ${other}`)).toBe(false);
    // A configured token keeps working whatever is delivered.
    const configured = new AdminToken({ value: FLEET });
    configured.deliver(mine);
    expect(configured.accepts(`Bearer ${FLEET}`)).toBe(true);
  });

  /** An admin port that accepts what `token` accepts and acknowledges any table. */
  async function adminPort(token: AdminToken): Promise<{ url: string; close(): void }> {
    const server = createServer((req, res) => {
      const tableFormats = READABLE_TABLE_FORMATS;
      if (req.url === '/readyz') return res.writeHead(503).end(JSON.stringify({ tableFormats }));
      if (!token.accepts(req.headers.authorization)) return res.writeHead(401).end('{}');
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ version: table.version, tableFormats }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () => server.close(),
    };
  }

  test("a marked pod is pushed with its own token (any scope); another pod's token is refused", async () => {
    // Two sidecars without a Secret. A got its own token; B holds A's (a copy taken from A).
    const tokenA = new AdminToken({ namespace: 'team-a' });
    tokenA.deliver(podAdminToken(FLEET, 'team-a', 'a', 'uid-a'));
    const tokenB = new AdminToken({ namespace: 'team-a' });
    tokenB.deliver(podAdminToken(FLEET, 'team-a', 'a', 'uid-a'));
    const [a, b] = await Promise.all([adminPort(tokenA), adminPort(tokenB)]);
    for (const fleet of [scopedFleet(), fleetScoped()])
      try {
        const marked = (name: string, url: string): ProxyPod => ({
          ...podAt('team-a', url),
          key: `team-a/${name}`,
          name,
          uid: `uid-${name}`,
          adminTokenDelivered: true,
        });
        fleet.setDesired(marked('a', a.url), table);
        fleet.setDesired(marked('b', b.url), table);
        await eventually(() => {
          expect(fleet.programmedVersion('team-a/a')).toBe(table.version);
          expect(fleet.pushError('team-a/b')).toMatch(/HTTP 401.*has not received its admin token/);
        });
      } finally {
        fleet.stop();
      }
    a.close();
    b.close();
  });
});
