// Resolves a backend's credentials reference (Secret name + key) to the API
// key, from a mounted Secret volume or from the environment. Values are read
// here and handed to the provider adapter only; they are never logged.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CompiledBackend } from '../routing/table.js';

export interface CredentialResolver {
  /** The API key for a backend, or undefined if it has no credentials reference. Throws if referenced but missing. */
  apiKeyFor(backend: CompiledBackend): string | undefined;
}

/** Env var name for a Secret key: MODELROUTE_SECRET_<SECRET>_<KEY>, upper-cased, non-alphanumerics as _. */
export function credentialEnvName(secretName: string, key: string): string {
  return `MODELROUTE_SECRET_${secretName}_${key}`.toUpperCase().replace(/[^A-Z0-9]/g, '_');
}

export class MissingCredentialError extends Error {}

export interface CredentialOptions {
  /** Directory holding one folder per Secret with one file per key (Kubernetes Secret volume layout). */
  directory?: string | undefined;
  env?: NodeJS.ProcessEnv;
  now?: () => number;
  /** How long a read value is reused before the file is read again (rotation). */
  cacheMs?: number;
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
        throw new MissingCredentialError(
          `no API key for backend ${backend.id}: Secret "${ref.secretName}" key "${ref.key}" was not found in ${where}`,
        );
      }
      cache.set(cacheKey, { value, at: now() });
      return value;
    },
  };
}
