// Whether the proxies of another namespace can get a granted backend's
// credentials: the controller hands them out (POST /v1/credentials) only
// from its credential namespaces, and only when the Secret and key exist. A
// route that uses such a backend must say so and how to fix it, never show a
// silent Ready while every call to the backend goes out without a key.
import type { ModelBackend } from '../api/v1alpha1/index.js';
import { SECRET_NOT_READABLE, type SecretKeys } from './secret-keys.js';

export interface CredentialSources {
  /** Namespaces the controller delivers credentials from; undefined: not checked. */
  credentialNamespaces?: readonly string[] | undefined;
  secretKeys(namespace: string, name: string): Promise<SecretKeys>;
}

/** Why proxies of another namespace cannot get `backend`'s credentials, or undefined when they can (or it needs none). */
export async function credentialsUnavailable(
  backend: ModelBackend,
  sources: CredentialSources,
): Promise<string | undefined> {
  const ref = backend.spec.secretRef;
  if (!ref) return undefined;
  const ns = backend.metadata.namespace ?? 'default';
  const id = `${ns}/${backend.metadata.name}`;
  const fix = `add ${ns} to the controller's --credential-namespaces (chart value platformNamespaces)`;
  const allowed = sources.credentialNamespaces;
  if (allowed !== undefined && !allowed.includes(ns))
    return `ModelBackend ${id} needs Secret "${ref.name}", but the controller delivers credentials only from namespaces ${allowed.join(', ') || '(none)'}; ${fix}`;
  const keys = await sources.secretKeys(ns, ref.name);
  if (keys === SECRET_NOT_READABLE)
    return `ModelBackend ${id} needs Secret "${ref.name}", which the controller may not read; ${fix}`;
  if (keys === undefined)
    return `ModelBackend ${id} needs Secret "${ref.name}", which does not exist in namespace ${ns}; ask its owners to create it`;
  if (!keys.has(ref.key))
    return `ModelBackend ${id} needs key "${ref.key}" of Secret "${ref.name}" in namespace ${ns}, which it lacks; ask its owners to add it`;
  return undefined;
}
