// The delivered-credentials store on its own: what a table change does to
// held keys, when it asks the controller, and how it backs off.
import { compileRoutingTable } from '../routing/compile.js';
import { backend, route } from '../routing/__fixtures__/objects.js';
import type { RoutingTable } from '../routing/table.js';
import { createLogger } from '../telemetry/logger.js';
import type { CredentialsResponse } from './credential-protocol.js';
import { CredentialDelivery } from './delivered-credentials.js';

function tableWith(endpoints: Record<string, string>, namespace = 'platform'): RoutingTable {
  const names = Object.keys(endpoints);
  return compileRoutingTable(
    [
      route(
        'chat',
        {
          model: 'chat',
          rules: [
            { name: 'main', strategy: 'priority', backendRefs: names.map((name) => ({ name })) },
          ],
        },
        { namespace },
      ),
    ],
    names.map((n) =>
      backend(n, { endpoint: endpoints[n], secretRef: { name: 'keys', key: n } }, namespace),
    ),
  );
}

function harness() {
  const calls: string[][] = [];
  const timers: { fn: () => void; ms: number; cancelled: boolean }[] = [];
  let answer: (ids: readonly string[]) => CredentialsResponse | Error = (ids) => ({
    credentials: ids.map((id) => ({
      backendId: id,
      origin: id.endsWith('gpt') ? 'https://gpt.example' : 'https://claude.example',
      secretName: 'keys',
      key: id.split('/')[1]!,
      apiKey: `key-for-${id}`,
    })),
    refused: [],
    refreshAfterSeconds: 300,
  });
  const delivery = new CredentialDelivery({
    namespace: 'app-a',
    logger: createLogger({ level: 'error', write: () => {} }),
    fetch: (ids) => {
      calls.push([...ids]);
      const a = answer(ids);
      return a instanceof Error ? Promise.reject(a) : Promise.resolve(a);
    },
    schedule: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return { cancel: () => (t.cancelled = true) };
    },
  });
  return {
    delivery,
    calls,
    timers,
    setAnswer: (a: typeof answer) => (answer = a),
    settle: () => new Promise((r) => setTimeout(r, 0)),
  };
}

const backendOf = (table: RoutingTable, id: string) => table.backends.find((b) => b.id === id)!;

test('a table with platform backends fetches them once; their keys are then served', async () => {
  const h = harness();
  const table = tableWith({ gpt: 'https://gpt.example/v1', claude: 'https://claude.example/v1' });
  h.delivery.onTable(table);
  expect(h.delivery.lookup(backendOf(table, 'platform/gpt'))).toMatchObject({ state: 'pending' });
  await h.settle();
  expect(h.calls).toEqual([['platform/claude', 'platform/gpt']]);
  expect(h.delivery.lookup(backendOf(table, 'platform/gpt'))).toEqual({
    state: 'delivered',
    apiKey: 'key-for-platform/gpt',
  });
  // The same table again asks nothing; the refresh is scheduled as the controller said.
  h.delivery.onTable(table);
  await h.settle();
  expect(h.calls).toHaveLength(1);
  expect(h.timers.at(-1)?.ms).toBe(300_000);
});

test("backends of the proxy's own namespace are not this store's: their keys stay mounted", () => {
  const h = harness();
  const own = tableWith({ gpt: 'https://gpt.example/v1' }, 'app-a');
  h.delivery.onTable(own);
  expect(h.delivery.lookup(backendOf(own, 'app-a/gpt'))).toBeUndefined();
  expect(h.calls).toEqual([]);
});

test('a key is never sent to an origin it was not delivered for: a moved endpoint is fetched again', async () => {
  const h = harness();
  h.delivery.onTable(tableWith({ gpt: 'https://gpt.example/v1' }));
  await h.settle();
  const moved = tableWith({ gpt: 'https://elsewhere.example/v1' });
  h.delivery.onTable(moved);
  expect(h.delivery.lookup(backendOf(moved, 'platform/gpt'))).toMatchObject({ state: 'pending' });
  await h.settle();
  expect(h.calls).toHaveLength(2);
  // The controller still answers with the old origin: still not sent.
  expect(h.delivery.lookup(backendOf(moved, 'platform/gpt'))).toMatchObject({ state: 'pending' });
});

test('a backend the table drops is forgotten; a refusal is reported with its reason', async () => {
  const h = harness();
  const both = tableWith({ gpt: 'https://gpt.example/v1', claude: 'https://claude.example/v1' });
  h.delivery.onTable(both);
  await h.settle();
  h.setAnswer((ids) => ({
    credentials: [],
    refused: ids.map((backendId) => ({ backendId, reason: 'Secret "keys" not found' })),
    refreshAfterSeconds: 300,
  }));
  const gptOnly = tableWith({ gpt: 'https://gpt.example/v1' });
  h.delivery.onTable(gptOnly);
  await h.settle();
  // Nothing new was missing, so nothing was asked; gpt is still held, claude forgotten.
  expect(h.calls).toHaveLength(1);
  expect(h.delivery.lookup(backendOf(gptOnly, 'platform/gpt'))).toMatchObject({
    state: 'delivered',
  });
  await h.delivery.refresh();
  expect(h.calls.at(-1)).toEqual(['platform/gpt']);
  expect(h.delivery.lookup(backendOf(gptOnly, 'platform/gpt'))).toEqual({
    state: 'refused',
    reason: 'Secret "keys" not found',
  });
});

test('a failing controller is retried with backoff from 1 s to 60 s, and the reason is shown', async () => {
  const h = harness();
  h.setAnswer(() => new Error('cannot reach the controller at https://x: ECONNREFUSED'));
  const table = tableWith({ gpt: 'https://gpt.example/v1' });
  h.delivery.onTable(table);
  await h.settle();
  for (let i = 0; i < 8; i++) {
    h.timers.at(-1)!.fn();
    await h.settle();
  }
  expect(h.timers.map((t) => t.ms)).toEqual([
    1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000,
  ]);
  const lookup = h.delivery.lookup(backendOf(table, 'platform/gpt'));
  expect(lookup).toMatchObject({ state: 'pending' });
  expect(lookup?.state === 'pending' && lookup.detail).toContain('ECONNREFUSED');
});
