// Which keys a backend's credentials Secret holds, never their values: a
// secretRef whose key is missing makes every call fail, so status must say so.
// Looked up on demand (a reconcile asks for the Secrets its backends name) and
// cached briefly, rather than watching every Secret in the cluster.
import { secretKeyNames } from '../k8s/kinds.js';
import type { KubeClient } from '../k8s/types.js';

export const SECRET_CACHE_TTL_MS = 30_000;

export class SecretKeyCache {
  private readonly cache = new Map<string, { keys: ReadonlySet<string> | undefined; at: number }>();

  constructor(
    private readonly client: Pick<KubeClient, 'get'>,
    private readonly now: () => number,
    private readonly ttlMs = SECRET_CACHE_TTL_MS,
  ) {}

  /** The Secret's key names; undefined when the Secret does not exist. */
  async keys(namespace: string, name: string): Promise<ReadonlySet<string> | undefined> {
    const id = `${namespace}/${name}`;
    const cached = this.cache.get(id);
    if (cached && this.now() - cached.at < this.ttlMs) return cached.keys;
    const secret = await this.client.get(secretKeyNames, { namespace, name });
    const keys = secret ? new Set(secret.keys) : undefined;
    this.cache.set(id, { keys, at: this.now() });
    return keys;
  }
}
