// What a credential source (AWS, Google, Entra ID) is given and gives back.
import type { CompiledBackend } from '../../routing/table.js';
import type { UpstreamAuth } from '../types.js';

/** What credential sources may use; injected so tests point them at simulators. */
export interface AuthDeps {
  /**
   * HTTP for token endpoints (STS, OAuth 2, metadata servers). The proxy's
   * one is undici's fetch through its egress settings (HTTPS_PROXY, NO_PROXY).
   */
  fetch: typeof globalThis.fetch;
  /**
   * A key of a Secret the backend references (mounted, from the environment,
   * or delivered), bound to the backend's origin like API keys are. Throws a
   * MissingCredentialError (proxy/credentials.ts) when it is not there.
   */
  secret(backend: CompiledBackend, ref: { secretName: string; key: string }): string;
  /** The proxy's environment: AWS_*, GOOGLE_*, GCE_METADATA_HOST, AZURE_* as the clouds' webhooks set them. */
  env: NodeJS.ProcessEnv;
  now(): number;
  /** Reads a projected token file (web identity, federated token); read again at each refresh. */
  readFile(path: string): string;
}

/** One backend's credential, kept fresh. */
export interface AuthSource {
  /** A value while the cached credential is fresh; a Promise when it must be fetched first. Rejects with CredentialUnavailableError. */
  current(): UpstreamAuth | Promise<UpstreamAuth>;
  /** The provider answered 401/403 to the current credential: fetch a fresh one next time (sources that cache). */
  refused?(): void;
}

export type AuthSourceFactory = (backend: CompiledBackend, deps: AuthDeps) => AuthSource;

/**
 * A cloud credential could not be had (a token endpoint refused or is down, a
 * token file is missing). The message says which source and how to fix it;
 * it never carries a secret. The backend is not usable until it can be had.
 */
export class CredentialUnavailableError extends Error {
  constructor(
    message: string,
    /** Whether the provider refused the credential (4xx), rather than being unreachable. */
    readonly refused = false,
  ) {
    super(message);
  }
}
