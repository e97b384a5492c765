// Google OAuth 2 access tokens for Vertex AI: from a service account JSON key
// (a self-signed RS256 JWT exchanged at the key's token_uri), or from the
// metadata server (GKE Workload Identity). Tokens live about an hour and are
// refreshed before they expire, one fetch at a time.
import { createSign } from 'node:crypto';
import { z } from 'zod';
import type { CompiledAuth, CompiledBackend } from '../../routing/table.js';
import type { UpstreamAuth } from '../types.js';
import { RefreshingCredential, type Expiring } from './refreshing-credential.js';
import { CredentialUnavailableError, type AuthDeps, type AuthSourceFactory } from './types.js';

export const GOOGLE_CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const METADATA_HOST = 'metadata.google.internal';
const METADATA_TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
/** What Google's own libraries ask for; a self-signed assertion may not live longer. */
const ASSERTION_LIFETIME_S = 3600;
/** A token endpoint that does not answer in this long is down, as far as this request goes. */
const TOKEN_TIMEOUT_MS = 10_000;

const CREATE_KEY_HINT =
  'create one with `gcloud iam service-accounts keys create key.json --iam-account=<name>@<project>.iam.gserviceaccount.com`';

const serviceAccountKey = z.looseObject({
  type: z.literal('service_account', {
    error:
      'must be "service_account" (user credentials and workload identity federation files are not supported)',
  }),
  client_email: z.string({ error: 'is missing' }).min(1, { error: 'is empty' }),
  private_key: z
    .string({ error: 'is missing' })
    .includes('PRIVATE KEY', { error: 'is not a PEM private key' }),
  private_key_id: z.string().optional(),
  token_uri: z.url({ error: 'must be a URL' }).optional(),
});
export type ServiceAccountKey = z.infer<typeof serviceAccountKey>;

const tokenResponse = z.looseObject({
  access_token: z.string().min(1),
  expires_in: z.number().positive(),
});
const tokenError = z.looseObject({
  error: z.string(),
  error_description: z.string().optional(),
});

/** Reads a service account JSON key; the error names the missing field and how to make a key. */
export function parseServiceAccountKey(text: string, where: string): ServiceAccountKey {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CredentialUnavailableError(
      `${where} is not JSON: expected a Google service account key; ${CREATE_KEY_HINT}`,
    );
  }
  const parsed = serviceAccountKey.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || 'key';
    throw new CredentialUnavailableError(
      `${where} is not a usable Google service account key: ${field} ${issue?.message ?? 'is invalid'}; ${CREATE_KEY_HINT}`,
    );
  }
  return parsed.data;
}

const base64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

/** The RS256-signed JWT a service account presents to Google's token endpoint (RFC 7523). */
export function signServiceAccountAssertion(key: ServiceAccountKey, nowMs: number): string {
  const iat = Math.floor(nowMs / 1000);
  const header: Record<string, string> = { alg: 'RS256', typ: 'JWT' };
  if (key.private_key_id) header.kid = key.private_key_id;
  const claims = {
    iss: key.client_email,
    scope: GOOGLE_CLOUD_PLATFORM_SCOPE,
    aud: key.token_uri ?? GOOGLE_TOKEN_URI,
    iat,
    exp: iat + ASSERTION_LIFETIME_S,
  };
  const unsigned = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  let signature: Buffer;
  try {
    signature = createSign('RSA-SHA256').update(unsigned).sign(key.private_key);
  } catch {
    throw new CredentialUnavailableError(
      `the private_key of service account ${key.client_email} cannot sign (not a valid RSA key); ${CREATE_KEY_HINT}`,
    );
  }
  return `${unsigned}.${base64url(signature)}`;
}

/** Fetches a fresh token from where the backend's tokens come from. */
type TokenFetch = () => Promise<Expiring<string>>;

/** The error for a token endpoint's non-2xx answer, with the fix. */
type Refusal = (prefix: string, status: number, body: string) => CredentialUnavailableError;

function serviceAccountSource(
  backend: CompiledBackend,
  deps: AuthDeps,
  where: string,
  readKey: () => string,
): TokenFetch {
  return async () => {
    // Read at every refresh, so a rotated key is picked up.
    const key = parseServiceAccountKey(readKey(), where);
    const tokenUri = key.token_uri ?? GOOGLE_TOKEN_URI;
    const assertion = signServiceAccountAssertion(key, deps.now());
    const form = new URLSearchParams({ grant_type: JWT_BEARER_GRANT, assertion });
    const what = `service account ${key.client_email} (${where})`;
    return tokenFrom(deps, what, backend, oauthRefusal, tokenUri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
  };
}

function metadataSource(backend: CompiledBackend, deps: AuthDeps): TokenFetch {
  const host = deps.env.GCE_METADATA_HOST || METADATA_HOST;
  const what = `the metadata server (${host})`;
  return () =>
    tokenFrom(deps, what, backend, metadataRefusal, `http://${host}${METADATA_TOKEN_PATH}`, {
      method: 'GET',
      headers: { 'metadata-flavor': 'Google' },
    });
}

function sourceFor(
  backend: CompiledBackend,
  settings: Extract<CompiledAuth, { type: 'gcp' }>,
  deps: AuthDeps,
): TokenFetch {
  switch (settings.source) {
    case 'serviceAccountKey': {
      const ref = settings.secret;
      if (ref === undefined) {
        const message = `backend ${backend.id}: spec.auth.gcp.source serviceAccountKey needs spec.auth.gcp.secretRef`;
        return () => Promise.reject(new CredentialUnavailableError(message));
      }
      const where = `Secret "${ref.secretName}" key "${ref.key}"`;
      return serviceAccountSource(backend, deps, where, () => deps.secret(backend, ref));
    }
    case 'metadataServer':
      return metadataSource(backend, deps);
    case 'default': {
      const path = deps.env.GOOGLE_APPLICATION_CREDENTIALS;
      if (!path) return metadataSource(backend, deps);
      const where = `GOOGLE_APPLICATION_CREDENTIALS file ${path}`;
      return serviceAccountSource(backend, deps, where, () => {
        try {
          return deps.readFile(path);
        } catch (err) {
          throw new CredentialUnavailableError(
            `cannot read ${where}: ${(err as NodeJS.ErrnoException).code ?? 'unreadable'}; mount the service account key there or unset the variable to use the metadata server`,
          );
        }
      });
    }
  }
}

/** Asks a token endpoint (OAuth 2 or metadata server) for an access token. */
async function tokenFrom(
  deps: AuthDeps,
  what: string,
  backend: CompiledBackend,
  refusal: Refusal,
  url: string,
  init: RequestInit,
): Promise<Expiring<string>> {
  const requestedAt = deps.now();
  let response: Response;
  let text: string;
  try {
    response = await deps.fetch(url, { ...init, signal: AbortSignal.timeout(TOKEN_TIMEOUT_MS) });
    text = await response.text();
  } catch (err) {
    throw new CredentialUnavailableError(
      `no Google access token for backend ${backend.id}: ${what} did not answer (${(err as Error).message})`,
    );
  }
  if (!response.ok) {
    const prefix = `no Google access token for backend ${backend.id}: ${what} answered HTTP ${response.status}`;
    throw refusal(prefix, response.status, text);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const token = tokenResponse.safeParse(json);
  if (!token.success) {
    throw new CredentialUnavailableError(
      `no Google access token for backend ${backend.id}: ${what} answered without access_token and expires_in`,
    );
  }
  // Counted from when it was asked for: the token cannot expire later than that.
  return {
    value: token.data.access_token,
    expiresAtMs: requestedAt + token.data.expires_in * 1000,
  };
}

const isClientError = (status: number): boolean => status >= 400 && status < 500;

const metadataRefusal: Refusal = (prefix, status) => {
  const fix =
    status === 404
      ? 'the node has no service account for this pod: enable GKE Workload Identity on the node pool and bind the Kubernetes service account to a Google service account (iam.gke.io/gcp-service-account annotation, roles/iam.workloadIdentityUser)'
      : 'check that the pod runs on GKE with Workload Identity, or use spec.auth.gcp.source serviceAccountKey';
  return new CredentialUnavailableError(`${prefix}; ${fix}`, isClientError(status));
};

/** OAuth 2's {"error","error_description"} (RFC 6749 5.2), with what to do about it. */
const oauthRefusal: Refusal = (prefix, status, body) => {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const parsed = tokenError.safeParse(json);
  if (!parsed.success) return new CredentialUnavailableError(prefix, isClientError(status));
  const { error, error_description: description } = parsed.data;
  const reason = description ? `${error}: ${description}` : error;
  const fix =
    error === 'invalid_grant'
      ? "the key was refused: it may have been deleted or disabled, the service account may not exist, or this machine's clock is off; create a new key and update the Secret"
      : error === 'invalid_client' || error === 'unauthorized_client'
        ? 'the service account or its key is not allowed to get tokens; check it in IAM & Admin'
        : 'check the service account key';
  return new CredentialUnavailableError(`${prefix} (${reason}); ${fix}`, isClientError(status));
};

export const createGoogleAuth: AuthSourceFactory = (backend, deps) => {
  const settings = backend.auth;
  if (settings?.type !== 'gcp') {
    const message = `backend ${backend.id} has no Google credential settings (spec.auth.gcp)`;
    return { current: () => Promise.reject(new CredentialUnavailableError(message)) };
  }
  const token = new RefreshingCredential(sourceFor(backend, settings, deps), {
    now: () => deps.now(),
  });
  const bearer = (value: string): UpstreamAuth => ({ kind: 'bearer', token: value });
  return {
    current() {
      const value = token.get();
      return typeof value === 'string' ? bearer(value) : value.then(bearer);
    },
    refused: () => token.refused(),
  };
};
