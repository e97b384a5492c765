import { KubeApiError, type ObjectRef, type ResourceKind } from '../k8s/types.js';
import { createLogger } from '../telemetry/logger.js';
import { FakeKubeClient } from './__fixtures__/fake-kube-client.js';
import {
  ADMIN_TOKEN_SECRET_LABELS,
  ensureAdminTokenSecret,
  randomAdminToken,
} from './admin-token-secret.js';

const REF: ObjectRef = { namespace: 'modelroute-system', name: 'modelroute-admin-token' };
const quiet = () => createLogger({ level: 'error', write: () => {} });
interface StoredSecret {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string> };
  data?: Record<string, string>;
}
// Any kind with the Secrets' group/version/plural reaches the same store in the fake.
const secretKind = {
  group: '',
  version: 'v1',
  plural: 'secrets',
  kind: 'Secret',
  namespaced: true,
} as ResourceKind<StoredSecret>;

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function secret(data: Record<string, string>): StoredSecret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: REF.name, namespace: REF.namespace },
    data,
  };
}

describe('ensureAdminTokenSecret', () => {
  test('creates the Secret with a generated token when there is none, labelled as the controller’s', async () => {
    const kube = new FakeKubeClient();
    const token = await ensureAdminTokenSecret({
      client: kube,
      secret: REF,
      key: 'token',
      logger: quiet(),
      generateToken: () => 'generated-token-0123456789',
    });
    expect(token).toBe('generated-token-0123456789');
    const stored = kube.peek(secretKind, REF)!;
    expect(stored.data).toEqual({ token: b64('generated-token-0123456789') });
    expect(stored.metadata.labels).toEqual(ADMIN_TOKEN_SECRET_LABELS);
  });

  test('reuses the token of an existing Secret on every later start, never writing it', async () => {
    const kube = new FakeKubeClient();
    const options = { client: kube, secret: REF, key: 'token', logger: quiet() };
    const first = await ensureAdminTokenSecret(options);
    let generated = 0;
    const again = await ensureAdminTokenSecret({
      ...options,
      generateToken: () => `${++generated}`.repeat(20),
    });
    expect(again).toBe(first);
    expect(generated).toBe(0);
    expect(kube.callsOf('create')).toHaveLength(1);
  });

  test('reads a Secret someone else made under another key, trimming a trailing newline', async () => {
    const kube = new FakeKubeClient();
    kube.put(secretKind, secret({ value: b64('from-a-file-0123456789\n') }));
    const token = await ensureAdminTokenSecret({
      client: kube,
      secret: REF,
      key: 'value',
      logger: quiet(),
    });
    expect(token).toBe('from-a-file-0123456789');
    expect(kube.callsOf('create')).toHaveLength(0);
  });

  test('two replicas starting together settle on the first one’s token', async () => {
    const kube = new FakeKubeClient();
    // The other replica creates the Secret between this one's get and create.
    const client = {
      get: kube.get.bind(kube),
      create: async <T>(kind: ResourceKind<T>, object: T) => {
        kube.put(secretKind, secret({ token: b64('the-other-replicas-token') }));
        return kube.create(kind, object);
      },
    };
    const token = await ensureAdminTokenSecret({
      client,
      secret: REF,
      key: 'token',
      logger: quiet(),
      generateToken: () => 'this-replicas-token-000',
    });
    expect(token).toBe('the-other-replicas-token');
  });

  test.each([
    [
      'no such key',
      { other: b64('x'.repeat(32)) },
      /has no key "token": put the admin token there/,
    ],
    [
      'a short token',
      { token: b64('short') },
      /holds 5 characters; the admin token needs at least 16/,
    ],
  ])(
    'an existing Secret with %s is an error saying how to fix it',
    async (_what, data, message) => {
      const kube = new FakeKubeClient();
      kube.put(secretKind, secret(data));
      await expect(
        ensureAdminTokenSecret({ client: kube, secret: REF, key: 'token', logger: quiet() }),
      ).rejects.toThrow(message);
      expect(kube.callsOf('create')).toHaveLength(0);
    },
  );

  test('without the right to create it, the error names the Role to check', async () => {
    const kube = new FakeKubeClient();
    kube.failNext('create', new KubeApiError('secrets is forbidden', 403, 'Forbidden'));
    await expect(
      ensureAdminTokenSecret({ client: kube, secret: REF, key: 'token', logger: quiet() }),
    ).rejects.toThrow(/may not create Secret modelroute-system\/modelroute-admin-token .*Role/);
  });

  test('generated tokens are 48 hex characters and differ', () => {
    const tokens = new Set(Array.from({ length: 100 }, randomAdminToken));
    expect(tokens.size).toBe(100);
    for (const t of tokens) expect(t).toMatch(/^[0-9a-f]{48}$/);
  });
});
