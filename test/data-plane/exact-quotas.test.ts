// Exact-mode limits at the proxy (issue 14): proxies sharing a quota store
// admit no more than the fleet-wide limit between them, whatever their fleet
// shares, and a store that cannot be reached is handled per limit
// (onStoreUnavailable: fleet-share or deny). The in-memory store stands in for
// Redis here (same interface and window semantics); the Redis store has its
// own tests against a real redis-server.
import { APIError } from 'openai';
import { MemoryQuotaStore, type ExactQuotaStore } from '../../src/quota/exact-store.js';
import { route, startDataPlane, tenant, type DataPlane } from '../support/data-plane.js';

const planes: DataPlane[] = [];
afterEach(async () => {
  await Promise.all(planes.splice(0).map((p) => p.close()));
});

const chat = { model: 'chat', messages: [{ role: 'user' as const, content: 'hello there' }] };

async function servedBy(dp: DataPlane, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    try {
      const { response } = await dp.client.chat.completions.create(chat).withResponse();
      out.push(response.headers.get('x-modelroute-backend') ?? '?');
    } catch (err) {
      out.push(err instanceof APIError ? String(err.code) : String(err));
    }
  }
  return out;
}

/** A store that can be made unreachable, as Redis going down. */
function switchableStore(inner: ExactQuotaStore): ExactQuotaStore & { down: boolean } {
  const store = {
    down: false,
    acquire: (...args: Parameters<ExactQuotaStore['acquire']>) =>
      store.down
        ? Promise.resolve({
            admitted: false as const,
            reason: 'unavailable' as const,
            error: 'connection refused',
          })
        : inner.acquire(...args),
    close: () => inner.close(),
  };
  return store;
}

test('two proxies sharing a store admit a tenant exactly its fleet limit between them', async () => {
  const store = new MemoryQuotaStore(Date.now);
  for (let i = 0; i < 2; i++)
    planes.push(
      await startDataPlane(
        [{ name: 'b' }],
        [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'b' }] }] })],
        {
          identity: { mode: 'local', tenant: 'batch' },
          tableIdentity: {
            tenants: [tenant('batch', { limits: { rpm: 4, enforcement: 'exact' } })],
          },
          // Fleet shares would be 4 / 20 each: the store, not the share, decides.
          quotaMode: 'fleet',
          quotaStore: store,
        },
      ),
    );
  const [p1, p2] = planes as [DataPlane, DataPlane];
  const served = [...(await servedBy(p1, 3)), ...(await servedBy(p2, 3))];
  expect(served).toEqual([
    'default/b',
    'default/b',
    'default/b',
    'default/b',
    'tenant_rate_limited',
    'tenant_rate_limited',
  ]);
});

test('exact backend limits across two proxies: the fleet sends the limit to `a`, the rest falls back', async () => {
  const store = new MemoryQuotaStore(Date.now);
  for (let i = 0; i < 2; i++)
    planes.push(
      await startDataPlane(
        [{ name: 'a', spec: { limits: { rpm: 3, enforcement: 'exact' } } }, { name: 'b' }],
        [
          route('chat', {
            rules: [
              { name: 'all', strategy: 'priority', backendRefs: [{ name: 'a' }, { name: 'b' }] },
            ],
          }),
        ],
        { quotaMode: 'fleet', quotaStore: store },
      ),
    );
  const [p1, p2] = planes as [DataPlane, DataPlane];
  expect([...(await servedBy(p1, 2)), ...(await servedBy(p2, 2))]).toEqual([
    'default/a',
    'default/a',
    'default/a',
    'default/b',
  ]);
});

test('with no backend left, an exact refusal is 429 capacity_shed with Retry-After', async () => {
  planes.push(
    await startDataPlane(
      [{ name: 'a', spec: { limits: { rpm: 1, enforcement: 'exact' } } }],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] })],
      { quotaStore: new MemoryQuotaStore(Date.now) },
    ),
  );
  const [dp] = planes as [DataPlane];
  expect(await servedBy(dp, 1)).toEqual(['default/a']);
  const err = (await dp.client.chat.completions.create(chat).catch((e: unknown) => e)) as APIError;
  expect(err.status).toBe(429);
  expect(err.code).toBe('capacity_shed');
  expect(Number(err.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
});

test.each([
  ['fleet-share', ['default/b', 'default/b', 'tenant_rate_limited']],
  ['deny', ['tenant_rate_limited', 'tenant_rate_limited', 'tenant_rate_limited']],
] as const)('store down, onStoreUnavailable %s', async (onStoreUnavailable, expected) => {
  const store = switchableStore(new MemoryQuotaStore(Date.now));
  store.down = true;
  planes.push(
    await startDataPlane(
      [{ name: 'b' }],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'b' }] }] })],
      {
        identity: { mode: 'local', tenant: 'batch' },
        tableIdentity: {
          tenants: [
            tenant('batch', { limits: { rpm: 2, enforcement: 'exact', onStoreUnavailable } }),
          ],
        },
        quotaStore: store,
      },
    ),
  );
  const [dp] = planes as [DataPlane];
  // Local mode: the fleet share is the whole limit of 2.
  expect(await servedBy(dp, 3)).toEqual(expected);
  store.down = false;
  if (onStoreUnavailable === 'deny') expect(await servedBy(dp, 1)).toEqual(['default/b']);
});
