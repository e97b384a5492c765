// The credential for each upstream call: an API key from the backend's
// Secret, or a cloud credential kept fresh by its source (AWS, Google,
// Entra ID). The one place a proxy turns a backend into an UpstreamAuth.
import type { CompiledAuth, CompiledBackend } from '../../routing/table.js';
import type { UpstreamAuth } from '../types.js';
import { createAwsAuth } from './aws.js';
import { createAzureEntraAuth } from './azure-entra.js';
import { createGoogleAuth } from './google.js';
import type { AuthDeps, AuthSource, AuthSourceFactory } from './types.js';

const SOURCES: Record<CompiledAuth['type'], AuthSourceFactory> = {
  aws: createAwsAuth,
  gcp: createGoogleAuth,
  'azure-entra': createAzureEntraAuth,
};

export interface UpstreamAuthDeps extends AuthDeps {
  /** The backend's API key (its `credentials` Secret key), or undefined if it has none. Throws MissingCredentialError. */
  apiKey(backend: CompiledBackend): string | undefined;
}

export interface UpstreamAuthResolver {
  /** Throws (or rejects with) MissingCredentialError / CredentialUnavailableError when the credential cannot be had. */
  authFor(backend: CompiledBackend): UpstreamAuth | undefined | Promise<UpstreamAuth>;
  /** The provider refused the backend's credential (401/403): a cached cloud credential is fetched again. */
  refused(backend: CompiledBackend): void;
}

export function createUpstreamAuth(
  deps: UpstreamAuthDeps,
  sources: Record<CompiledAuth['type'], AuthSourceFactory> = SOURCES,
): UpstreamAuthResolver {
  // One source per backend and auth settings: a pushed table that changes
  // them gets a new source (and new tokens); an unchanged one keeps its tokens.
  const byBackend = new Map<string, { settings: string; source: AuthSource }>();
  return {
    authFor(backend) {
      const settings = backend.auth;
      if (settings === undefined) {
        const key = deps.apiKey(backend);
        return key === undefined ? undefined : { kind: 'api-key', key };
      }
      let entry = byBackend.get(backend.id);
      const key = settingsKey(backend, settings);
      if (entry === undefined || entry.settings !== key) {
        entry = { settings: key, source: sources[settings.type](backend, deps) };
        byBackend.set(backend.id, entry);
      }
      return entry.source.current();
    },
    refused(backend) {
      byBackend.get(backend.id)?.source.refused?.();
    },
  };
}

/** What a source was made from: its settings and where the calls go (region, project, endpoint). */
function settingsKey(backend: CompiledBackend, settings: CompiledAuth): string {
  return JSON.stringify([settings, backend.baseUrl, backend.bedrock, backend.vertex]);
}
