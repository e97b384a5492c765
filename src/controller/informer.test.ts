import { z } from 'zod';
import type { ResourceKind } from '../k8s/types.js';
import { FakeKubeClient, connectionRefused } from './__fixtures__/fake-kube-client.js';
import { ManualClock } from './clock.js';
import { Informer, type InformerEvent, type InformerOptions } from './informer.js';

const widgetSchema = z.looseObject({
  metadata: z.looseObject({
    name: z.string(),
    namespace: z.string().optional(),
    resourceVersion: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
  spec: z.object({ size: z.number() }),
});
type Widget = z.infer<typeof widgetSchema>;

const widgets: ResourceKind<Widget> = {
  group: 'test.modelroute.io',
  version: 'v1',
  plural: 'widgets',
  kind: 'Widget',
  namespaced: true,
  schema: widgetSchema,
};

function widget(
  name: string,
  size = 1,
  namespace = 'default',
  labels?: Record<string, string>,
): Widget {
  return { metadata: { name, namespace, ...(labels ? { labels } : {}) }, spec: { size } };
}

function setup(options: Partial<InformerOptions<Widget>> = {}) {
  const clock = new ManualClock();
  const fake = new FakeKubeClient();
  const events: string[] = [];
  const errors: string[] = [];
  const informer = new Informer<Widget>(fake, {
    kind: widgets,
    clock,
    minBackoffMs: 100,
    maxBackoffMs: 1_000,
    random: () => 1, // the backoff is then exactly its ceiling
    onError: (err) => errors.push(err.message),
    ...options,
  });
  const show = (e: InformerEvent<Widget>): string =>
    `${e.type} ${e.key} size=${e.object.spec?.size}${e.old ? ` was=${e.old.spec.size}` : ''}`;
  informer.on((e) => events.push(show(e)));
  return {
    clock,
    fake,
    informer,
    events,
    errors,
    watchRvs: () => fake.callsOf('watch').map((c) => c.options?.resourceVersion),
  };
}

type Harness = ReturnType<typeof setup>;

async function started(h: Harness): Promise<void> {
  h.informer.start();
  await h.informer.waitForSync();
  await h.clock.flush();
}

describe('Informer', () => {
  test('the initial list fills the cache, emits added, and marks it synced', async () => {
    const h = setup();
    h.fake.put(widgets, widget('a', 1));
    h.fake.put(widgets, widget('b', 2, 'other'));
    expect(h.informer.synced).toBe(false);

    await started(h);

    expect(h.informer.synced).toBe(true);
    expect(h.events).toEqual(['added default/a size=1', 'added other/b size=2']);
    expect(h.informer.get('other/b')?.spec.size).toBe(2);
    expect(h.informer.list().map((w) => w.metadata.name)).toEqual(['a', 'b']);
    expect(h.informer.lastResourceVersion).toBe(h.fake.resourceVersion);
    expect(h.watchRvs()).toEqual([h.fake.resourceVersion]);
    expect(h.fake.openWatches).toBe(1);
  });

  test('namespace and label selector scope both the list and the watch', async () => {
    const h = setup({ namespace: 'team', labelSelector: 'tier=gold' });
    h.fake.put(widgets, widget('a', 1, 'team', { tier: 'gold' }));
    h.fake.put(widgets, widget('b', 1, 'team', { tier: 'tin' }));
    h.fake.put(widgets, widget('c', 1, 'elsewhere', { tier: 'gold' }));
    await started(h);
    h.fake.put(widgets, widget('d', 1, 'team', { tier: 'gold' }));
    h.fake.put(widgets, widget('e', 1, 'elsewhere', { tier: 'gold' }));
    await h.clock.flush();

    expect(h.events).toEqual(['added team/a size=1', 'added team/d size=1']);
    for (const call of [...h.fake.callsOf('list'), ...h.fake.callsOf('watch')]) {
      expect(call.options).toMatchObject({ namespace: 'team', labelSelector: 'tier=gold' });
    }
  });

  test('a namespaces list keeps only those namespaces, from the list and the watch alike', async () => {
    const h = setup({ namespaces: ['team', 'platform'] });
    h.fake.put(widgets, widget('a', 1, 'team'));
    h.fake.put(widgets, widget('b', 1, 'elsewhere'));
    await started(h);
    h.fake.put(widgets, widget('c', 1, 'platform'));
    h.fake.put(widgets, widget('d', 1, 'elsewhere'));
    h.fake.remove(widgets, { namespace: 'elsewhere', name: 'b' });
    await h.clock.flush();

    expect(h.events).toEqual(['added team/a size=1', 'added platform/c size=1']);
    expect(h.informer.list().map((w) => w.metadata.name)).toEqual(['a', 'c']);
    for (const call of h.fake.callsOf('list')) expect(call.options?.namespace).toBeUndefined();
  });

  test('watch events update the cache: added, updated (with the old object), deleted', async () => {
    const h = setup();
    h.fake.put(widgets, widget('a', 1));
    await started(h);

    h.fake.put(widgets, widget('b', 5));
    h.fake.put(widgets, widget('a', 2));
    h.fake.remove(widgets, { namespace: 'default', name: 'b' });
    await h.clock.flush();

    expect(h.events).toEqual([
      'added default/a size=1',
      'added default/b size=5',
      'updated default/a size=2 was=1',
      'deleted default/b size=5 was=5',
    ]);
    expect(h.informer.get('default/a')?.spec.size).toBe(2);
    expect(h.informer.get('default/b')).toBeUndefined();
    expect(h.informer.lastResourceVersion).toBe(h.fake.resourceVersion);
  });

  test('an update is emitted only when the resourceVersion changed', async () => {
    const h = setup();
    const a = h.fake.put(widgets, widget('a', 1));
    await started(h);
    h.fake.emitRaw(widgets, 'MODIFIED', a); // a duplicate delivery
    await h.clock.flush();
    expect(h.events).toEqual(['added default/a size=1']);
  });

  test('a watch that ends normally is resumed from the last resourceVersion, bookmarks included', async () => {
    const h = setup();
    await started(h);
    h.fake.put(widgets, widget('a'));
    await h.clock.advance(60_000);
    // Changes to other kinds move the resourceVersion without a Widget event.
    h.fake.put({ ...widgets, plural: 'gadgets' }, widget('g'));
    const bookmarkRv = h.fake.bookmark(widgets);
    await h.clock.flush();
    expect(h.informer.lastResourceVersion).toBe(bookmarkRv);

    h.fake.endWatches();
    await h.clock.flush();

    expect(h.watchRvs()).toHaveLength(2);
    expect(h.watchRvs()[1]).toBe(bookmarkRv);
    expect(h.fake.callsOf('list')).toHaveLength(1);
    expect(h.fake.openWatches).toBe(1);
    expect(h.errors).toEqual([]);
  });

  test('a watch closed at once without events is retried after a backoff, not in a hot loop', async () => {
    const h = setup();
    await started(h);
    h.fake.endWatches();
    await h.clock.advance(99);
    expect(h.fake.callsOf('watch')).toHaveLength(1);
    await h.clock.advance(1);
    expect(h.fake.callsOf('watch')).toHaveLength(2);
    expect(h.fake.callsOf('list')).toHaveLength(1);
  });

  test('410 Gone relists and emits what changed while disconnected, deletions included', async () => {
    const h = setup();
    for (const name of ['keep', 'change', 'vanish']) h.fake.put(widgets, widget(name, 1));
    await started(h);
    h.events.length = 0;

    // These happen while our watch is broken: its events never reach us.
    h.fake.put(widgets, widget('change', 2));
    h.fake.remove(widgets, { namespace: 'default', name: 'vanish' });
    h.fake.put(widgets, widget('new', 3));
    h.fake.expireWatches();
    await h.clock.flush();

    expect(h.events.sort()).toEqual([
      'added default/new size=3',
      'deleted default/vanish size=1 was=1',
      'updated default/change size=2 was=1',
    ]);
    expect(
      h.informer
        .list()
        .map((w) => w.metadata.name)
        .sort(),
    ).toEqual(['change', 'keep', 'new']);
    expect(h.fake.callsOf('list')).toHaveLength(2);
    expect(h.watchRvs().at(-1)).toBe(h.fake.resourceVersion);
    expect(h.fake.openWatches).toBe(1);
  });

  test('a rewatch from a compacted resourceVersion gets 410 and relists', async () => {
    const h = setup();
    h.fake.put(widgets, widget('old', 1));
    await started(h);
    await h.clock.advance(60_000);
    const rvBefore = h.informer.lastResourceVersion;
    h.events.length = 0;

    h.fake.remove(widgets, { namespace: 'default', name: 'old' });
    h.fake.compact();
    h.fake.endWatches(); // the missed DELETED is no longer in the watch history
    await h.clock.flush();

    expect(h.watchRvs()[1]).toBe(rvBefore);
    expect(h.events).toEqual(['deleted default/old size=1 was=1']);
    expect(h.fake.callsOf('list')).toHaveLength(2);
    expect(h.fake.openWatches).toBe(1);
  });

  test('API server down: backs off exponentially (capped), relists when it is back, never gives up', async () => {
    const h = setup();
    h.fake.put(widgets, widget('a', 1));
    await started(h);
    h.events.length = 0;

    h.fake.setDown(true);
    h.fake.put(widgets, widget('a', 2)); // changed meanwhile (say, by a client on the other side)
    h.fake.put(widgets, widget('b', 1));
    // Backoff ceilings: 100, 200, 400, 800, 1000, 1000 ...
    await h.clock.advance(100);
    expect(h.fake.callsOf('list')).toHaveLength(2);
    await h.clock.advance(199);
    expect(h.fake.callsOf('list')).toHaveLength(2);
    await h.clock.advance(1);
    expect(h.fake.callsOf('list')).toHaveLength(3);
    await h.clock.advance(400 + 800 + 1_000);
    expect(h.fake.callsOf('list')).toHaveLength(6);
    await h.clock.advance(60_000);
    expect(h.fake.callsOf('list')).toHaveLength(6 + 60);
    expect(h.informer.synced).toBe(true); // the cache is kept while disconnected
    expect(h.informer.get('default/a')?.spec.size).toBe(1);

    h.fake.setDown(false);
    await h.clock.advance(1_000);
    expect(h.events).toEqual(['updated default/a size=2 was=1', 'added default/b size=1']);
    expect(h.fake.openWatches).toBe(1);
    expect(h.errors[0]).toMatch(
      /^Widget watch failed, relisting after backoff: connect ECONNREFUSED/,
    );
    expect(h.errors.slice(1).every((e) => e.startsWith('Widget list failed'))).toBe(true);

    // Healthy again, so the next outage starts from the shortest backoff.
    h.fake.put(widgets, widget('c', 1));
    await h.clock.flush();
    const lists = h.fake.callsOf('list').length;
    h.fake.setDown(true);
    await h.clock.advance(100);
    expect(h.fake.callsOf('list')).toHaveLength(lists + 1);
  });

  test('a failing first list is retried until it succeeds', async () => {
    const h = setup();
    h.fake.put(widgets, widget('a'));
    h.fake.failNext('list', connectionRefused(), 2);
    h.informer.start();
    const synced = h.informer.waitForSync();
    await h.clock.flush();
    expect(h.informer.synced).toBe(false);
    await h.clock.advance(300);
    await synced;
    expect(h.events).toEqual(['added default/a size=1']);
    expect(h.fake.callsOf('list')).toHaveLength(3);
  });

  test('a rejected watch request backs off and relists', async () => {
    const h = setup();
    h.fake.failNext('watch', connectionRefused());
    await started(h);
    expect(h.fake.openWatches).toBe(0);
    await h.clock.advance(100);
    expect(h.fake.callsOf('list')).toHaveLength(2);
    expect(h.fake.openWatches).toBe(1);
  });

  test('malformed events and throwing listeners are reported and skipped; the watch carries on', async () => {
    const h = setup();
    h.informer.on((e) => {
      if (e.key === 'default/explodes') throw new Error('listener bug');
    });
    await started(h);

    h.fake.emitRaw(widgets, 'ADDED', {});
    h.fake.emitRaw(widgets, 'ADDED', null);
    h.fake.emitRaw(widgets, 'ADDED', { metadata: { resourceVersion: '5' } });
    h.fake.emitRaw(widgets, 'WHATEVER' as 'ADDED', widget('strange'));
    h.fake.emitRaw(widgets, 'DELETED', widget('never-seen'));
    h.fake.put(widgets, widget('explodes'));
    h.fake.put(widgets, widget('fine'));
    await h.clock.flush();

    expect(h.events).toEqual(['added default/explodes size=1', 'added default/fine size=1']);
    expect(h.errors).toEqual([
      'Widget watch: ADDED event without metadata, skipped',
      'Widget watch: ADDED event without metadata, skipped',
      'Widget watch: ADDED event without a name, skipped',
      'Widget watch: unknown event type WHATEVER, skipped',
      'Widget informer listener failed on added default/explodes',
    ]);
    expect(h.fake.openWatches).toBe(1);
    expect(h.fake.callsOf('list')).toHaveLength(1);
    expect(h.informer.lastResourceVersion).toBe(h.fake.resourceVersion);
  });

  test('stop closes the watch, cancels retries, and ignores anything that arrives later', async () => {
    const h = setup();
    await started(h);
    h.informer.stop();
    expect(h.fake.openWatches).toBe(0);
    h.fake.put(widgets, widget('late'));
    await h.clock.advance(10_000);
    expect(h.events).toEqual([]);

    // Stopped during a backoff: the retry never happens.
    const h2 = setup();
    await started(h2);
    h2.fake.setDown(true);
    await h2.clock.flush();
    h2.informer.stop();
    h2.fake.setDown(false);
    await h2.clock.advance(10_000);
    expect(h2.fake.callsOf('list')).toHaveLength(1);
    expect(h2.clock.pendingTimers).toBe(0);
  });

  test('stop while a list is in flight drops its result', async () => {
    const h = setup();
    h.fake.put(widgets, widget('a'));
    h.informer.start();
    h.informer.stop();
    await h.clock.advance(1_000);
    expect(h.events).toEqual([]);
    expect(h.fake.openWatches).toBe(0);
  });

  test('waitForSync rejects after its timeout, or when stopped before syncing', async () => {
    const h = setup();
    h.fake.setDown(true);
    h.informer.start();
    const timedOut = h.informer.waitForSync(5_000);
    const outcome = timedOut.then(
      () => 'synced',
      (err: Error) => err.message,
    );
    await h.clock.advance(5_000);
    expect(await outcome).toBe(
      'Widget informer did not sync within 5000 ms: is the API server reachable and may we list widgets?',
    );

    const stopped = h.informer.waitForSync();
    h.informer.stop();
    await expect(stopped).rejects.toThrow('Widget informer stopped before it synced');
  });

  test('cluster-scoped objects are keyed by name; keyOf can override', async () => {
    const h = setup();
    h.fake.put(widgets, { metadata: { name: 'global' }, spec: { size: 1 } });
    await started(h);
    expect(h.informer.get('global')).toBeDefined();

    const custom = setup({ keyOf: (w) => `size-${w.spec.size}` });
    custom.fake.put(widgets, widget('a', 7));
    await started(custom);
    expect(custom.events).toEqual(['added size-7 size=7']);
  });
});
