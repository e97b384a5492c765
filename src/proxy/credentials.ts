// Resolves a backend's credentials reference (Secret name + key) to the API
// key, from a mounted Secret volume or from the environment. Values are read
// here and handed to the provider adapter only; they are never logged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { CompiledBackend } from '../routing/table.js';

export interface CredentialResolver {
  /** The API key for a backend, or undefined if it has no credentials reference. Throws if referenced but missing. */
  apiKeyFor(backend: CompiledBackend): string | undefined;
  /**
   * Another key of a Secret the backend names (cloud credentials, TLS
   * material), read like API keys (mounted or env, bound to the backend's
   * origin). Throws CredentialNotFoundError if missing.
   */
  secretFor?(backend: CompiledBackend, ref: { secretName: string; key: string }): string;
}

/** Env var name for a Secret key: MODELROUTE_SECRET_<SECRET>_<KEY>, upper-cased, non-alphanumerics as _. */
export function credentialEnvName(secretName: string, key: string): string {
  return `MODELROUTE_SECRET_${secretName}_${key}`.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export class MissingCredentialError extends Error {}

/**
 * The referenced Secret key is neither mounted nor in the environment. A
 * same-namespace Secret is mounted at admission, so a backend that started
 * referencing it later has no key in this pod until the pod is recreated.
 */
export class CredentialNotFoundError extends MissingCredentialError {
  constructor(
    message: string,
    readonly secretName: string,
    readonly key: string,
    /** Whether the proxy reads a mounted Secret directory (a sidecar) or the environment only. */
    readonly mounted: boolean,
  ) {
    super(message);
  }
}

/** The controller answered that it will not deliver this backend's key, with why (secret-free). */
export class CredentialDeliveryRefusedError extends MissingCredentialError {
  constructor(
    message: string,
    readonly reason: string,
  ) {
    super(message);
  }
}

/**
 * A table asked to send a mounted key to an origin it is not bound to. A
 * MissingCredentialError to callers (the backend is not usable), with its own
 * class so it is counted and logged apart.
 */
export class CredentialOriginRefusedError extends MissingCredentialError {}

/**
 * The key of a platform-namespace backend is being fetched from the
 * controller: the backend is not usable yet, but nothing is wrong with it, so
 * the attempt is not counted against its health.
 */
export class CredentialsPendingError extends MissingCredentialError {}

/** Keys the controller delivered (delivered-credentials.ts); undefined for backends it does not hold. */
export interface DeliveredKeys {
  lookup(
    backend: CompiledBackend,
  ):
    | { state: 'delivered'; apiKey: string }
    | { state: 'pending'; detail: string }
    | { state: 'refused'; reason: string }
    | undefined;
}

/**
 * Env var holding the credential binding: JSON `{ "<secret>/<key>": ["https://host:port", ...] }`,
 * the origins of the ModelBackends that reference each mounted key. The
 * sidecar injector writes it at admission, from the cluster's ModelBackends;
 * a container's env cannot change after the pod is created, so nobody who can
 * only push tables (the admin token) can widen it.
 */
export const CREDENTIAL_ORIGINS_ENV = 'MODELROUTE_CREDENTIAL_ORIGINS';

/** Which origins each `<secret>/<key>` may be sent to. */
export type CredentialBinding = ReadonlyMap<string, ReadonlySet<string>>;

/** Parses the binding env var; a clear error for anything but the JSON shape above. */
export function parseCredentialBinding(text: string): CredentialBinding {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${CREDENTIAL_ORIGINS_ENV} is not JSON: ${(err as Error).message}`);
  }
  const parsed = credentialBindingJson.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `${CREDENTIAL_ORIGINS_ENV} must map "<secret>/<key>" to a list of origins such as "https://api.openai.com": ${parsed.error.issues[0]?.message ?? ''}`,
    );
  }
  return new Map(Object.entries(parsed.data).map(([ref, origins]) => [ref, new Set(origins)]));
}

const credentialBindingJson = z.record(z.string().min(3), z.array(z.string().min(1)).max(256));

/** The origin (scheme://host:port) a backend's calls go to; undefined when unparsable. */
export function backendOrigin(baseUrl: string): string | undefined {
  try {
    const url = new URL(baseUrl);
    return url.username === '' && url.password === '' ? url.origin : undefined;
  } catch {
    return undefined;
  }
}

export interface CredentialOptions {
  /** Directory holding one folder per Secret with one file per key (Kubernetes Secret volume layout). */
  directory?: string | undefined;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** How long a read value is reused before the file is read again (rotation). */
  cacheMs?: number;
  /**
   * Where each key may be sent; absent = anywhere the table says (local mode,
   * a proxy started by hand). Injected sidecars always have one.
   */
  binding?: CredentialBinding | undefined;
  /** Delivered keys of other namespaces' backends, looked up before mounted ones. */
  delivered?: DeliveredKeys | undefined;
  /** Told of each refusal (for a counter and a log line); never given the key. */
  onRefused?: (refusal: { backendId: string; secret: string; key: string; origin: string }) => void;
}

export function createCredentialResolver(options: CredentialOptions = {}): CredentialResolver {
  const env = options.env ?? process.env;
  const now = options.now ?? Date.now;
  const cacheMs = options.cacheMs ?? 30_000;
  const cache = new Map<string, { value: string; at: number }>();
  return {
    apiKeyFor(backend) {
      const ref = backend.credentials;
      if (!ref) return undefined;
      const delivered = options.delivered?.lookup(backend);
      if (delivered?.state === 'delivered') return delivered.apiKey;
      if (delivered?.state === 'pending') throw new CredentialsPendingError(delivered.detail);
      if (delivered?.state === 'refused')
        throw new CredentialDeliveryRefusedError(
          `no API key for backend ${backend.id}: the modelroute controller refused to deliver it: ${delivered.reason}`,
          delivered.reason,
        );
      return readSecret(backend, ref);
    },
    secretFor: (backend, ref) => readSecret(backend, ref),
  };

  function readSecret(backend: CompiledBackend, ref: { secretName: string; key: string }): string {
    if (options.binding) checkBinding(options.binding, backend, ref, options.onRefused);
    const cacheKey = `${ref.secretName}/${ref.key}`;
    const cached = cache.get(cacheKey);
    if (cached && now() - cached.at < cacheMs) return cached.value;
    const envName = credentialEnvName(ref.secretName, ref.key);
    let value = env[envName];
    if (value === undefined && options.directory) {
      try {
        value = readFileSync(join(options.directory, ref.secretName, ref.key), 'utf8').trim();
      } catch {
        value = undefined;
      }
    }
    if (value === undefined || value === '') {
      const where = options.directory
        ? `${join(options.directory, ref.secretName, ref.key)} or env ${envName}`
        : `env ${envName}`;
      throw new CredentialNotFoundError(
        `no ${ref === backend.credentials ? 'API key' : 'credential'} for backend ${backend.id}: Secret "${ref.secretName}" key "${ref.key}" was not found in ${where}`,
        ref.secretName,
        ref.key,
        options.directory !== undefined,
      );
    }
    cache.set(cacheKey, { value, at: now() });
    return value;
  }
}

function checkBinding(
  binding: CredentialBinding,
  backend: CompiledBackend,
  ref: { secretName: string; key: string },
  onRefused: CredentialOptions['onRefused'],
): void {
  const origin = backendOrigin(backend.baseUrl);
  const allowed = binding.get(`${ref.secretName}/${ref.key}`);
  if (origin !== undefined && allowed?.has(origin)) return;
  const shown = origin ?? 'an unparsable URL';
  onRefused?.({ backendId: backend.id, secret: ref.secretName, key: ref.key, origin: shown });
  throw new CredentialOriginRefusedError(
    `refusing to send Secret "${ref.secretName}" key "${ref.key}" to ${shown} for backend ${backend.id}: ` +
      (allowed && allowed.size > 0
        ? `this pod was admitted with that key bound to ${[...allowed].sort().join(', ')}`
        : 'this pod was admitted with no backend using that key') +
      '; if the ModelBackend really changed, restart the pod (kubectl rollout restart) so the injector binds the new endpoint',
  );
}
