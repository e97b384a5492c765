import { describe, expect, test } from '@jest/globals';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { eventually } from '../../test/support/eventually.js';
import { quotaAssignment, type QuotaAssignment } from '../quota/protocol.js';
import { createLogger } from '../telemetry/logger.js';
import { ProxyFleet } from './proxy-fleet.js';
import { compileRoutingTable } from '../routing/compile.js';
import { backend, route } from '../routing/__fixtures__/objects.js';

const TOKEN = 'token-0123456789abcdef';

/** A proxy admin port taking quota pushes: records them, may hold answers or answer 404. */
async function quotaProxy(mode: 'ok' | 'hold' | 'missing') {
  const received: QuotaAssignment[] = [];
  const held: (() => void)[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${TOKEN}`) return void res.writeHead(401).end('{}');
      if (req.url === '/admin/v1/table') {
        const { version } = JSON.parse(body) as { version: string };
        return void res.writeHead(200).end(JSON.stringify({ version }));
      }
      if (req.url !== '/admin/v1/quotas' || mode === 'missing')
        return void res.writeHead(404).end('{"error":{"message":"not found"}}');
      received.push(quotaAssignment.parse(JSON.parse(body)));
      inFlight += 1;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const answer = (r: ServerResponse) => {
        inFlight -= 1;
        r.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
      };
      if (mode === 'hold') held.push(() => answer(res));
      else answer(res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    held,
    get maxInFlight() {
      return maxInFlight;
    },
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const assignment = (sequence: number): QuotaAssignment => ({
  sequence,
  term: 'controller-0@2026-12-03T07:00:00.000Z',
  issuedAtMs: 1,
  validForMs: 30_000,
  limits: [
    {
      key: 'backend:default/gpt',
      share: { rpm: 500 },
      safe: { rpm: 300 },
      limit: { rpm: 600 },
    },
  ],
  budgets: [],
});

function fleetFor(url: string, logs: string[]) {
  const fleet = new ProxyFleet({
    adminToken: TOKEN,
    logger: createLogger({ level: 'warn', write: (line) => logs.push(line) }),
    onAckChange: () => {},
  });
  fleet.setDesired(
    { key: 'default/p', namespace: 'default', name: 'p', uid: 'u', labels: {}, adminUrl: url },
    compileRoutingTable(
      [route('m', { rules: [{ name: 'r', backendRefs: [{ name: 'b' }] }] })],
      [backend('b')],
    ),
  );
  return fleet;
}

describe('ProxyFleet.pushQuotas', () => {
  test('PUT /admin/v1/quotas with the admin token; acknowledged assignments are remembered', async () => {
    const proxy = await quotaProxy('ok');
    const fleet = fleetFor(proxy.url, []);
    fleet.pushQuotas('default/p', assignment(1));
    await eventually(() =>
      expect(fleet.quotaPush('default/p')?.acked?.assignment.sequence).toBe(1),
    );
    expect(proxy.received).toEqual([assignment(1)]);
    expect(fleet.quotaPush('default/p')?.failing).toBe(false);
    fleet.stop();
    await proxy.close();
  });

  test('at most one push in flight per proxy; what was made meanwhile is replaced by the latest', async () => {
    const proxy = await quotaProxy('hold');
    const fleet = fleetFor(proxy.url, []);
    fleet.pushQuotas('default/p', assignment(1));
    await eventually(() => expect(proxy.received).toHaveLength(1));
    for (let s = 2; s <= 6; s++) fleet.pushQuotas('default/p', assignment(s));
    proxy.release();
    await eventually(() => expect(proxy.received).toHaveLength(2));
    proxy.release();
    await eventually(() =>
      expect(fleet.quotaPush('default/p')?.acked?.assignment.sequence).toBe(6),
    );
    expect(proxy.received.map((a) => a.sequence)).toEqual([1, 6]);
    expect(proxy.maxInFlight).toBe(1);
    fleet.stop();
    await proxy.close();
  });

  test('a proxy older than fleet quotas (404) is logged once and left alone', async () => {
    const proxy = await quotaProxy('missing');
    const logs: string[] = [];
    const fleet = fleetFor(proxy.url, logs);
    fleet.pushQuotas('default/p', assignment(1));
    await eventually(() => expect(fleet.quotaPush('default/p')?.unsupported).toBe(true));
    fleet.pushQuotas('default/p', assignment(2));
    fleet.pushQuotas('default/p', assignment(3));
    expect(proxy.received).toHaveLength(0);
    expect(logs.filter((l) => l.includes('does not take quota assignments'))).toHaveLength(1);
    expect(fleet.quotaPush('default/p')?.acked).toBeUndefined();
    fleet.stop();
    await proxy.close();
  });
});
