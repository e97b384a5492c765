// Namespace-scoped admin tokens between a real ProxyFleet and real proxies:
// each proxy is sent only its namespace's derived token, which a proxy of
// another namespace refuses, and the fleet token itself never leaves.
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { namespaceAdminToken } from '../proxy/admin/admin-token.js';
import { startProxy, type RunningProxy } from '../proxy/proxy.js';
import { compileRoutingTable } from '../routing/compile.js';
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
    seen.push(String(req.headers.authorization));
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
