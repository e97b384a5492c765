// Which keys a backend's credentials Secret holds, never their values: a
// secretRef whose key is missing makes every call fail, so status must say so.
// Looked up on demand (a reconcile asks for the Secrets its backends name) and
// cached briefly, rather than watching every Secret in the cluster.
import { secretKeyNames } from '../k8s/kinds.js';
import { KubeApiError, type KubeClient } from '../k8s/types.js';

export const SECRET_CACHE_TTL_MS = 30_000;

/**
 * The controller may not read Secrets in that namespace: it gets them only
 * through Roles in the platform namespaces (and its own), never cluster-wide.
 */
export const SECRET_NOT_READABLE = 'not-readable' as const;
export type SecretKeys = ReadonlySet<string> | undefined | typeof SECRET_NOT_READABLE;

export class SecretKeyCache {
  private readonly cache = new Map<string, { keys: SecretKeys; at: number }>();

  constructor(
    private readonly client: Pick<KubeClient, 'get'>,
    private readonly now: () => number,
    private readonly ttlMs = SECRET_CACHE_TTL_MS,
  ) {}

  /** The Secret's key names; undefined when it does not exist; SECRET_NOT_READABLE when we may not look. */
  async keys(namespace: string, name: string): Promise<SecretKeys> {
    const id = `${namespace}/${name}`;
    const cached = this.cache.get(id);
    if (cached && this.now() - cached.at < this.ttlMs) return cached.keys;
    let keys: SecretKeys;
    try {
      const secret = await this.client.get(secretKeyNames, { namespace, name });
      keys = secret ? new Set(secret.keys) : undefined;
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 403)) throw err;
      keys = SECRET_NOT_READABLE;
    }
    this.cache.set(id, { keys, at: this.now() });
    return keys;
  }
}
