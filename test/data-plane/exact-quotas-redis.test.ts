// Exact mode end to end (issue 14): two real proxies, each with its own client
// of one real redis-server (as two pods would be), admit no more than the
// fleet limit between them; with Redis stopped, onStoreUnavailable decides
// (fleet-share: the proxy's share; deny: refused), and admission resumes once
// Redis is back.
import { afterAll, afterEach, beforeAll, expect, jest, test } from '@jest/globals';
import { APIError } from 'openai';
import { createRedisQuotaStore, type RedisQuotaStore } from '../../src/quota/redis-store.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { route, startDataPlane, tenant, type DataPlane } from '../support/data-plane.js';
import { startTestRedis, type TestRedis } from '../testenv/redis.js';

// Generous for a loaded 2-core machine; nothing here is timed.
jest.setTimeout(60_000);

let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
}, 300_000);
afterAll(async () => {
  await redis?.close();
});

const planes: DataPlane[] = [];
const stores: RedisQuotaStore[] = [];
afterEach(async () => {
  await Promise.all(planes.splice(0).map((p) => p.close()));
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

const logger = createLogger({ level: 'error', write: () => {} });
let namespaces = 0;
/** One store client per proxy, in a key namespace of this test's own. */
async function storeClients(count: number): Promise<RedisQuotaStore[]> {
  const namespace = `modelroute:quota:dp-${++namespaces}`;
  const made = Array.from({ length: count }, () =>
    createRedisQuotaStore(redis.url, { logger, namespace }),
  );
  stores.push(...made);
  await Promise.all(made.map((s) => s.ready(15_000)));
  return made;
}

const chat = { model: 'chat', messages: [{ role: 'user' as const, content: 'hello there' }] };

async function send(dp: DataPlane): Promise<string> {
  try {
    const { response } = await dp.client.chat.completions.create(chat).withResponse();
    return response.headers.get('x-modelroute-backend') ?? '?';
  } catch (err) {
    return err instanceof APIError ? String(err.code) : String(err);
  }
}

test('two proxies, each with its own Redis client, send an exact backend limit of 5 rpm between them, concurrently', async () => {
  // `a` first, `b` when `a` is at its limit.
  const backends = [
    { name: 'a', spec: { limits: { rpm: 5, enforcement: 'exact' as const } } },
    { name: 'b' },
  ];
  const backendRefs = backends.map(({ name }) => ({ name }));
  const routes = [route('chat', { rules: [{ name: 'all', strategy: 'priority', backendRefs }] })];
  // Fleet shares would be 5 / 20 each: the store, not the share, decides.
  for (const quotaStore of await storeClients(2))
    planes.push(await startDataPlane(backends, routes, { quotaMode: 'fleet', quotaStore }));
  const served = await Promise.all(
    planes.flatMap((dp) => Array.from({ length: 6 }, () => send(dp))),
  );
  expect(served.filter((b) => b === 'default/a')).toHaveLength(5);
  expect(served.filter((b) => b === 'default/b')).toHaveLength(7);
});

test.each([
  ['fleet-share', ['default/b', 'default/b', 'tenant_rate_limited']],
  ['deny', ['tenant_rate_limited', 'tenant_rate_limited', 'tenant_rate_limited']],
] as const)(
  'Redis stopped, onStoreUnavailable %s; admission through the store resumes once it is back',
  async (onStoreUnavailable, whileDown) => {
    const [quotaStore] = (await storeClients(1)) as [RedisQuotaStore];
    const limits = { rpm: 2, enforcement: 'exact' as const, onStoreUnavailable };
    const tenants = [tenant('batch', { limits })];
    const routes = [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'b' }] }] })];
    // Local mode: the fleet share is the whole limit of 2.
    const dp = await startDataPlane([{ name: 'b' }], routes, {
      identity: { mode: 'local', tenant: 'batch' },
      tableIdentity: { tenants },
      quotaStore,
    });
    planes.push(dp);
    await redis.kill();
    try {
      const served: string[] = [];
      for (let i = 0; i < 3; i++) served.push(await send(dp));
      expect(served).toEqual(whileDown);
    } finally {
      await redis.start();
    }
    await quotaStore.ready(15_000);
    // The restarted Redis is empty: the store admits the limit again, then refuses.
    expect([await send(dp), await send(dp), await send(dp)]).toEqual([
      'default/b',
      'default/b',
      'tenant_rate_limited',
    ]);
  },
);
