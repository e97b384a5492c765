// A Secret the controller may not read (outside its credential namespaces) is
// an answer: status says Unknown with the fix, the reconcile does not fail.
import { backend as backendObject } from '../routing/__fixtures__/objects.js';
import { KubeApiError, type KubeClient } from '../k8s/types.js';
import { SECRET_NOT_READABLE, SecretKeyCache } from './secret-keys.js';
import { computeBackendStatus } from './status/backend-status.js';

function clientAnswering(answer: () => unknown): Pick<KubeClient, 'get'> & { calls: number } {
  const client = {
    calls: 0,
    // eslint-disable-next-line @typescript-eslint/require-await -- a throw becomes the rejection
    get: async <T>(): Promise<T | undefined> => {
      client.calls += 1;
      return answer() as T | undefined;
    },
  };
  return client;
}

test('a 403 on a Secret is SECRET_NOT_READABLE, cached like any answer', async () => {
  const client = clientAnswering(() => {
    throw new KubeApiError('GET secrets/openai: forbidden', 403, 'Forbidden');
  });
  let now = 0;
  const cache = new SecretKeyCache(client, () => now);
  expect(await cache.keys('team-a', 'openai')).toBe(SECRET_NOT_READABLE);
  expect(await cache.keys('team-a', 'openai')).toBe(SECRET_NOT_READABLE);
  expect(client.calls).toBe(1);
  now += 31_000;
  await cache.keys('team-a', 'openai');
  expect(client.calls).toBe(2);
});

test('other failures still fail (the reconcile retries them)', async () => {
  const cache = new SecretKeyCache(
    clientAnswering(() => {
      throw new KubeApiError('GET secrets/openai: no answer');
    }),
    () => 0,
  );
  await expect(cache.keys('team-a', 'openai')).rejects.toThrow('no answer');
});

test('found and missing Secrets are reported as before', async () => {
  const found = new SecretKeyCache(
    clientAnswering(() => ({ name: 'openai', keys: ['apiKey'] })),
    () => 0,
  );
  expect(await found.keys('team-a', 'openai')).toEqual(new Set(['apiKey']));
  const missing = new SecretKeyCache(
    clientAnswering(() => undefined),
    () => 0,
  );
  expect(await missing.keys('team-a', 'openai')).toBeUndefined();
});

test('status: Ready Unknown, reason SecretNotReadable, saying how to grant it', () => {
  const backend = backendObject('gpt', { secretRef: { name: 'openai', key: 'apiKey' } }, 'team-a');
  const status = computeBackendStatus({
    backend,
    endpoint: { ok: true, url: 'https://api.openai.com/v1' },
    secretReadable: false,
    secretExists: undefined,
    health: { state: 'Unknown', consecutiveFailures: 0, consecutiveSuccesses: 0 },
    nowMs: 0,
  });
  expect(status.conditions?.[0]).toMatchObject({
    type: 'Ready',
    status: 'Unknown',
    reason: 'SecretNotReadable',
    message: expect.stringContaining('platformNamespaces') as string,
  });
  expect(status.conditions?.[0]?.message).toContain('Secret "openai" in namespace team-a');
});
