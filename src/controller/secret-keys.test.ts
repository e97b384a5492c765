import { KubeApiError, type KubeClient } from '../k8s/types.js';
import { SECRET_NOT_READABLE, SecretKeyCache } from './secret-keys.js';

const failingWith = (status: number): Pick<KubeClient, 'get'> => ({
  get: () => Promise.reject(new KubeApiError(`GET secret: ${status}`, status)),
});

test('a Secret the controller may not read (403) is reported as not readable, not as a failure', async () => {
  // The controller reads Secrets only in platform namespaces; elsewhere the API server says 403.
  const cache = new SecretKeyCache(failingWith(403), () => 0);
  await expect(cache.keys('team-a', 'openai')).resolves.toBe(SECRET_NOT_READABLE);
});

test('other errors still fail the reconcile (it retries with backoff)', async () => {
  const cache = new SecretKeyCache(failingWith(500), () => 0);
  await expect(cache.keys('team-a', 'openai')).rejects.toThrow('500');
});
