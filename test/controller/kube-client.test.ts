// The real KubeClient against the test API server: list, watch (incl. 410), reads, writes, conflicts, status, events, Secrets.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ledgerConfigMaps } from '../../src/controller/usage-ledger-store.js';
import { createKubeClient, translateWatchEvent } from '../../src/k8s/kube-client.js';
import { events, kubeMeta, leases, modelRoutes, secrets, type Lease } from '../../src/k8s/kinds.js';
import {
  KubeApiError,
  type ResourceKind,
  type WatchEventType,
  type WatchHandle,
} from '../../src/k8s/types.js';
import { createNamespace, installCRDs, mustKubectl, testenv } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';

/** Per test: watches wait for events with bounded polls of up to 10 s. */
const TIMEOUT_MS = 20_000;

let ns: string;
let client: ReturnType<typeof createKubeClient>;
const invalid: Array<{ kind: string; name: string; message: string }> = [];
const watches: WatchHandle[] = [];

beforeAll(() => {
  installCRDs();
  ns = createNamespace('kube-client');
  client = createKubeClient({
    kubeconfigPath: testenv.kubeconfig,
    userAgent: 'modelroute-kube-client-test/0.1',
    onInvalid: (kind, name, message) => invalid.push({ kind, name, message }),
  });
});

afterEach(() => {
  for (const w of watches.splice(0)) w.stop();
});

const route = (name: string, model: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelRoute',
  metadata: { name, labels },
  spec: { model, rules: [{ name: 'default', backendRefs: [{ name: 'some-backend' }] }] },
});

const apply = (object: unknown): void =>
  void mustKubectl(['apply', '-n', ns, '-f', '-'], JSON.stringify(object));

const kubectlJson = <T>(args: string[]): T => JSON.parse(mustKubectl([...args, '-o', 'json'])) as T;

/** Records what a watch delivers and how it ends. */
function recorder<T>() {
  const seen: Array<{ type: WatchEventType; object: T }> = [];
  const done: Array<KubeApiError | undefined> = [];
  return {
    seen,
    done,
    handlers: {
      onEvent: (type: WatchEventType, object: T) => seen.push({ type, object }),
      onDone: (err?: KubeApiError) => done.push(err),
    },
  };
}

async function rejection(promise: Promise<unknown>): Promise<KubeApiError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(KubeApiError);
    return err as KubeApiError;
  }
  throw new Error('expected the call to fail');
}

test(
  'list returns validated objects (defaults applied) and the collection resourceVersion',
  async () => {
    apply(route('listed-a', 'a', { team: 'x' }));
    apply(route('listed-b', 'b'));
    const all = await client.list(modelRoutes, { namespace: ns });
    expect(all.resourceVersion).toMatch(/^\d+$/);
    const a = all.items.find((r) => r.metadata.name === 'listed-a');
    expect(a?.spec.rules[0]?.backendRefs[0]).toMatchObject({ name: 'some-backend', weight: 1 });
    expect(a?.metadata).not.toHaveProperty('managedFields');
    const selected = await client.list(modelRoutes, { namespace: ns, labelSelector: 'team=x' });
    expect(selected.items.map((r) => r.metadata.name)).toEqual(['listed-a']);
    // Cluster-wide list.
    const everywhere = await client.list(modelRoutes);
    expect(
      everywhere.items.some((r) => r.metadata.namespace === ns && r.metadata.name === 'listed-b'),
    ).toBe(true);
  },
  TIMEOUT_MS,
);

test(
  'delete removes an object it created, and deleting one already gone is not an error',
  async () => {
    const name = 'ledger-day-to-delete';
    await client.create(ledgerConfigMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: ns },
      binaryData: { 'ledger.json.gz': 'AA==' },
    });
    expect(await client.get(ledgerConfigMaps, { namespace: ns, name })).toBeDefined();
    await client.delete(ledgerConfigMaps, { namespace: ns, name });
    await eventually(async () =>
      expect(await client.get(ledgerConfigMaps, { namespace: ns, name })).toBeUndefined(),
    );
    await expect(client.delete(ledgerConfigMaps, { namespace: ns, name })).resolves.toBeUndefined();
  },
  TIMEOUT_MS,
);

test(
  'watch from the list resourceVersion sees ADDED, MODIFIED and DELETED made with kubectl',
  async () => {
    const { resourceVersion } = await client.list(modelRoutes, { namespace: ns });
    const rec = recorder<z.infer<typeof modelRoutes.schema>>();
    watches.push(await client.watch(modelRoutes, { namespace: ns, resourceVersion }, rec.handlers));
    apply(route('watched', 'first'));
    await eventually(() =>
      expect(rec.seen.some((e) => e.type === 'ADDED' && e.object.metadata.name === 'watched')).toBe(
        true,
      ),
    );
    apply(route('watched', 'second'));
    await eventually(() =>
      expect(rec.seen.some((e) => e.type === 'MODIFIED' && e.object.spec.model === 'second')).toBe(
        true,
      ),
    );
    mustKubectl(['delete', 'modelroute', 'watched', '-n', ns, '--wait=false']);
    await eventually(() =>
      expect(
        rec.seen.some((e) => e.type === 'DELETED' && e.object.metadata.name === 'watched'),
      ).toBe(true),
    );
    expect(rec.done).toEqual([]);
  },
  TIMEOUT_MS,
);

test(
  'a cluster-wide watch sees objects in any namespace',
  async () => {
    const { resourceVersion } = await client.list(modelRoutes);
    const rec = recorder<z.infer<typeof modelRoutes.schema>>();
    watches.push(await client.watch(modelRoutes, { resourceVersion }, rec.handlers));
    apply(route('cluster-wide', 'cw'));
    await eventually(() =>
      expect(
        rec.seen.some(
          (e) => e.object.metadata.namespace === ns && e.object.metadata.name === 'cluster-wide',
        ),
      ).toBe(true),
    );
  },
  TIMEOUT_MS,
);

test(
  'a watch from a resourceVersion the server no longer has ends with 410 (real API server)',
  async () => {
    // Right after a CRD is installed its watch cache may still answer 429 (re)initializing: retry that.
    let ended: KubeApiError | undefined;
    await eventually(async () => {
      const rec = recorder<unknown>();
      watches.push(
        await client.watch(modelRoutes, { namespace: ns, resourceVersion: '1' }, rec.handlers),
      );
      await eventually(() => expect(rec.done).toHaveLength(1), 5_000, 50);
      ended = rec.done[0];
      expect(ended?.status).not.toBe(429);
    });
    // The server answers 200 and then an ERROR event with a 410 Status.
    expect(ended).toBeInstanceOf(KubeApiError);
    expect(ended?.status).toBe(410);
    expect(ended?.message).toMatch(/too old resource version/);
  },
  TIMEOUT_MS,
);

test('the ERROR event carrying a 410 Status becomes a KubeApiError with status 410', () => {
  const step = translateWatchEvent(modelRoutes, 'ERROR', {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message: 'too old resource version: 1 (4711)',
    reason: 'Expired',
    code: 410,
  });
  expect(step.event).toBeUndefined();
  expect(step.error).toBeInstanceOf(KubeApiError);
  expect(step.error).toMatchObject({ status: 410, reason: 'Expired' });
  // Without a code, the reason alone still means Gone.
  expect(
    translateWatchEvent(modelRoutes, 'ERROR', { kind: 'Status', reason: 'Expired' }).error?.status,
  ).toBe(410);
  // A bookmark carries only the resourceVersion.
  expect(
    translateWatchEvent(modelRoutes, 'BOOKMARK', {
      kind: 'ModelRoute',
      metadata: { resourceVersion: '42' },
    }).event,
  ).toEqual({
    type: 'BOOKMARK',
    object: { metadata: { name: '', resourceVersion: '42' } },
  });
});

test(
  'stop ends a watch without calling onDone',
  async () => {
    const { resourceVersion } = await client.list(modelRoutes, { namespace: ns });
    const rec = recorder<unknown>();
    const handle = await client.watch(
      modelRoutes,
      { namespace: ns, resourceVersion },
      rec.handlers,
    );
    handle.stop();
    apply(route('after-stop', 'x'));
    await new Promise((r) => setTimeout(r, 500));
    expect(rec.seen).toEqual([]);
    expect(rec.done).toEqual([]);
  },
  TIMEOUT_MS,
);

test(
  'get returns the object, undefined when it (or its namespace) does not exist; exists says the same',
  async () => {
    apply(route('got', 'g'));
    const got = await client.get(modelRoutes, { namespace: ns, name: 'got' });
    expect(got?.spec.model).toBe('g');
    expect(await client.get(modelRoutes, { namespace: ns, name: 'missing' })).toBeUndefined();
    expect(
      await client.get(modelRoutes, { namespace: 'no-such-namespace', name: 'got' }),
    ).toBeUndefined();
    expect(await client.exists(modelRoutes, { namespace: ns, name: 'got' })).toBe(true);
    expect(await client.exists(modelRoutes, { namespace: ns, name: 'missing' })).toBe(false);
  },
  TIMEOUT_MS,
);

const lease = (name: string, holder: string): Lease => ({
  apiVersion: 'coordination.k8s.io/v1',
  kind: 'Lease',
  metadata: { name, namespace: ns },
  spec: {
    holderIdentity: holder,
    leaseDurationSeconds: 15,
    renewTime: '2026-01-01T00:00:00.000000Z',
  },
});

test(
  'create and replace Leases; a stale resourceVersion is a 409 Conflict, a second create 409 AlreadyExists',
  async () => {
    const created = await client.create(leases, lease('leader', 'a'));
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
    expect(created.spec.holderIdentity).toBe('a');

    const replaced = await client.replace(leases, {
      ...created,
      spec: { ...created.spec, holderIdentity: 'b' },
    });
    expect(replaced.spec.holderIdentity).toBe('b');
    expect(replaced.metadata.resourceVersion).not.toBe(created.metadata.resourceVersion);
    expect((await client.get(leases, { namespace: ns, name: 'leader' }))?.spec.holderIdentity).toBe(
      'b',
    );

    const stale = await rejection(
      client.replace(leases, { ...created, spec: { ...created.spec, holderIdentity: 'c' } }),
    );
    expect(stale).toMatchObject({ status: 409, reason: 'Conflict' });
    expect(stale.message).toMatch(/leases.*leader/);

    const again = await rejection(client.create(leases, lease('leader', 'd')));
    expect(again).toMatchObject({ status: 409, reason: 'AlreadyExists' });

    // Our User-Agent reaches the API server (it names the field manager).
    const managers = kubectlJson<{ metadata: { managedFields: { manager: string }[] } }>([
      'get',
      'lease',
      'leader',
      '-n',
      ns,
      '--show-managed-fields',
    ]).metadata.managedFields.map((f) => f.manager);
    expect(managers).toContain('modelroute-kube-client-test');
  },
  TIMEOUT_MS,
);

test(
  'patchStatus merges into the status subresource without bumping metadata.generation',
  async () => {
    apply(route('with-status', 's'));
    const before = kubectlJson<{ metadata: { generation: number; resourceVersion: string } }>([
      'get',
      'mr',
      'with-status',
      '-n',
      ns,
    ]);
    const lastTransitionTime = '2026-01-01T00:00:00Z';
    await client.patchStatus(
      modelRoutes,
      { namespace: ns, name: 'with-status' },
      {
        status: {
          observedGeneration: before.metadata.generation,
          healthyBackends: '1/1',
          conditions: [
            { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime },
          ],
        },
      },
    );
    await client.patchStatus(
      modelRoutes,
      { namespace: ns, name: 'with-status' },
      { status: { programmed: '2/2' } },
    );
    const after = kubectlJson<{
      metadata: { generation: number; resourceVersion: string };
      status: Record<string, unknown>;
    }>(['get', 'mr', 'with-status', '-n', ns]);
    expect(after.status).toMatchObject({
      healthyBackends: '1/1',
      programmed: '2/2',
      conditions: [{ type: 'Ready', status: 'True' }],
    });
    expect(after.metadata.generation).toBe(before.metadata.generation);
    expect(after.metadata.resourceVersion).not.toBe(before.metadata.resourceVersion);
    // And the typed read sees it.
    expect(
      (await client.get(modelRoutes, { namespace: ns, name: 'with-status' }))?.status
        ?.healthyBackends,
    ).toBe('1/1');

    const missing = await rejection(
      client.patchStatus(modelRoutes, { namespace: ns, name: 'missing' }, { status: {} }),
    );
    expect(missing).toMatchObject({ status: 404, reason: 'NotFound' });
  },
  TIMEOUT_MS,
);

test(
  'createEvent writes a core/v1 Event that kubectl shows',
  async () => {
    apply(route('eventful', 'e'));
    const uid = (await client.get(modelRoutes, { namespace: ns, name: 'eventful' }))?.metadata.uid;
    const involved = {
      kind: 'ModelRoute',
      apiVersion: 'modelroute.io/v1alpha1',
      namespace: ns,
      name: 'eventful',
      uid,
    };
    await client.createEvent({
      involved,
      type: 'Warning',
      reason: 'BackendUnhealthy',
      message: 'backend b is down',
      component: 'modelroute-controller',
    });
    await client.createEvent({
      involved,
      type: 'Warning',
      reason: 'BackendUnhealthy',
      message: 'still down',
      component: 'modelroute-controller',
    });

    const table = mustKubectl(['get', 'events', '-n', ns]);
    expect(table).toMatch(/Warning\s+BackendUnhealthy\s+modelroute\/eventful\s+backend b is down/);
    const listed = await client.list(events, { namespace: ns });
    const ours = listed.items.filter((e) => e.involvedObject.name === 'eventful');
    expect(ours.map((e) => e.message).sort()).toEqual(['backend b is down', 'still down']);
    expect(ours[0]).toMatchObject({
      type: 'Warning',
      reason: 'BackendUnhealthy',
      count: 1,
      involvedObject: { uid, kind: 'ModelRoute' },
    });
    const described = mustKubectl(['describe', 'mr', 'eventful', '-n', ns]);
    expect(described).toMatch(/BackendUnhealthy/);
  },
  TIMEOUT_MS,
);

// ConfigMaps with a schema stricter than the API server's, to see how the client treats objects it cannot use.
const pickyConfigMaps: ResourceKind<{
  metadata: z.infer<typeof kubeMeta>;
  data: { valid: 'yes' };
}> = {
  group: '',
  version: 'v1',
  plural: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
  schema: z.looseObject({ metadata: kubeMeta, data: z.looseObject({ valid: z.literal('yes') }) }),
};
const configMap = (name: string, valid: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name },
  data: { valid },
});

test(
  'invalid objects are skipped and reported, in lists, watches and reads',
  async () => {
    invalid.length = 0;
    apply(configMap('good', 'yes'));
    apply(configMap('bad', 'no'));
    const listed = await client.list(pickyConfigMaps, { namespace: ns });
    expect(listed.items.map((c) => c.metadata.name)).toEqual(['good']);
    expect(invalid).toEqual([
      {
        kind: 'ConfigMap',
        name: `${ns}/bad`,
        message: expect.stringContaining('data.valid') as string,
      },
    ]);

    const read = await rejection(client.get(pickyConfigMaps, { namespace: ns, name: 'bad' }));
    expect(read.message).toMatch(/does not match the schema/);

    invalid.length = 0;
    const rec = recorder<{ metadata: { name: string } }>();
    watches.push(
      await client.watch(
        pickyConfigMaps,
        { namespace: ns, resourceVersion: listed.resourceVersion },
        rec.handlers,
      ),
    );
    apply(configMap('bad-too', 'no')); // ADDED, invalid: skipped
    apply(configMap('good', 'no')); // MODIFIED to invalid: delivered as DELETED, so no stale copy is kept
    apply(configMap('fine', 'yes'));
    await eventually(() =>
      expect(rec.seen.some((e) => e.object.metadata.name === 'fine')).toBe(true),
    );
    expect(rec.seen.map((e) => [e.type, e.object.metadata.name])).toEqual([
      ['DELETED', 'good'],
      ['ADDED', 'fine'],
    ]);
    expect(invalid.map((i) => i.name)).toEqual([`${ns}/bad-too`, `${ns}/good`]);
    expect(rec.done).toEqual([]);
  },
  TIMEOUT_MS,
);

test(
  'Secrets: exists says whether one is there, and no read keeps its data',
  async () => {
    const plain = 'sk-live-do-not-leak-0123456789';
    // kubectl apply also copies the data into the last-applied-configuration annotation.
    apply({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'openai', labels: { app: 'x' } },
      stringData: { apiKey: plain },
    });
    const encoded = Buffer.from(plain).toString('base64');

    expect(await client.exists(secrets, { namespace: ns, name: 'openai' })).toBe(true);
    expect(await client.exists(secrets, { namespace: ns, name: 'nope' })).toBe(false);

    const got = await client.get(secrets, { namespace: ns, name: 'openai' });
    expect(got).toMatchObject({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'openai', labels: { app: 'x' } },
    });
    const listed = await client.list(secrets, { namespace: ns });
    expect(listed.items.map((s) => s.metadata.name)).toContain('openai');
    for (const kept of [got, ...listed.items]) {
      expect(kept).not.toHaveProperty('data');
      expect(kept).not.toHaveProperty('stringData');
      const text = JSON.stringify(kept);
      expect(text).not.toContain(plain);
      expect(text).not.toContain(encoded);
    }
  },
  TIMEOUT_MS,
);

test(
  'errors carry the status and reason, and never the credentials',
  async () => {
    const token =
      (
        parseYaml(readFileSync(testenv.kubeconfig, 'utf8')) as {
          users: { user: { token: string } }[];
        }
      ).users[0]?.user.token ?? '';
    expect(token).not.toBe('');

    const rejected = await rejection(
      client.create(modelRoutes, {
        ...route('Not_A_Name', 'x'),
        metadata: { name: 'Not_A_Name', namespace: ns },
      } as never),
    );
    expect(rejected).toMatchObject({ status: 422, reason: 'Invalid' });
    expect(rejected.message).not.toContain(token);

    // The same credentials, pointed at a port nobody listens on.
    const config = parseYaml(readFileSync(testenv.kubeconfig, 'utf8')) as {
      clusters: { cluster: { server: string } }[];
    };
    for (const c of config.clusters) c.cluster.server = 'https://127.0.0.1:1';
    const file = join(mkdtempSync(join(tmpdir(), 'kube-client-')), 'kubeconfig');
    writeFileSync(file, JSON.stringify(config), { mode: 0o600 });
    const unreachable = createKubeClient({ kubeconfigPath: file });
    const down = await rejection(unreachable.list(modelRoutes, { namespace: ns }));
    expect(down.status).toBeUndefined();
    expect(down.message).toMatch(/ECONNREFUSED/);
    expect(down.message).not.toContain(token);

    const rec = recorder<unknown>();
    await unreachable.watch(modelRoutes, { namespace: ns, resourceVersion: '0' }, rec.handlers);
    await eventually(() => expect(rec.done).toHaveLength(1));
    expect(rec.done[0]).toBeInstanceOf(KubeApiError);
    expect(rec.done[0]?.message).toMatch(/ECONNREFUSED/);
    expect(rec.done[0]?.message).not.toContain(token);
  },
  TIMEOUT_MS,
);
