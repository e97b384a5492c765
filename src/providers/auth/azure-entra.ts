// Entra ID (Azure AD) access tokens for Azure OpenAI: the OAuth 2 client
// credentials grant against {authority}{tenant}/oauth2/v2.0/token, with
// either Azure Workload Identity's federated token (a projected file, read
// again at each refresh as the kubelet rotates it) as a client assertion, or
// an app registration's client secret. Tokens are kept fresh by
// RefreshingCredential and sent as Bearer by the azure-openai adapter.
import { z } from 'zod';
import type { CompiledAuth, CompiledBackend } from '../../routing/table.js';
import type { UpstreamAuth } from '../types.js';
import { RefreshingCredential } from './refreshing-credential.js';
import { CredentialUnavailableError, type AuthDeps, type AuthSourceFactory } from './types.js';

type EntraSettings = Extract<CompiledAuth, { type: 'azure-entra' }>;

export const DEFAULT_AZURE_AUTHORITY_HOST = 'https://login.microsoftonline.com/';
const JWT_BEARER_ASSERTION = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

const tokenAnswer = z.object({
  access_token: z.string().min(1),
  expires_in: z.union([z.number(), z.string().regex(/^\d+$/)]),
});

const errorAnswer = z.object({
  error: z.string(),
  error_description: z.string().optional(),
});

/** Where a token request goes and what it says, resolved from settings and env at each refresh. */
interface TokenRequest {
  url: string;
  form: URLSearchParams;
  /** For messages: "workload identity (client id …)" and the like; never a secret. */
  what: string;
}

export const createAzureEntraAuth: AuthSourceFactory = (backend, deps) => {
  const settings = backend.auth;
  if (settings?.type !== 'azure-entra')
    throw new Error(
      `createAzureEntraAuth called for backend ${backend.id} without azure-entra auth`,
    );
  const credential = new RefreshingCredential<UpstreamAuth>(
    () => fetchToken(deps, tokenRequest(backend, settings, deps)),
    { now: () => deps.now() },
  );
  return { current: () => credential.get(), refused: () => credential.refused() };
};

function tokenRequest(
  backend: CompiledBackend,
  settings: EntraSettings,
  deps: AuthDeps,
): () => TokenRequest {
  return () => {
    const { env } = deps;
    const tenantId = settings.tenantId ?? env.AZURE_TENANT_ID;
    const clientId = settings.clientId ?? env.AZURE_CLIENT_ID;
    const source =
      settings.source === 'workloadIdentity' ? 'Azure workload identity' : 'Entra ID client secret';
    const missing = (what: string, fix: string): CredentialUnavailableError =>
      new CredentialUnavailableError(`${source} for backend ${backend.id}: no ${what}; ${fix}`);
    if (!tenantId)
      throw missing(
        'tenant id',
        'set spec.auth.azureEntra.tenantId or AZURE_TENANT_ID (the workload identity webhook sets it when the pod\'s service account is annotated azure.workload.identity/client-id and the pod labelled azure.workload.identity/use: "true")',
      );
    if (!clientId)
      throw missing(
        'client id',
        'set spec.auth.azureEntra.clientId or AZURE_CLIENT_ID (the workload identity webhook sets it from the service account annotation azure.workload.identity/client-id)',
      );
    const form = new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: clientId,
      scope: settings.scope,
    });
    if (settings.source === 'workloadIdentity') {
      const file = env.AZURE_FEDERATED_TOKEN_FILE;
      if (!file)
        throw missing(
          'federated token file (AZURE_FEDERATED_TOKEN_FILE is not set)',
          'label the pod azure.workload.identity/use: "true" so the workload identity webhook projects the token, or use source clientSecret',
        );
      let assertion: string;
      try {
        assertion = deps.readFile(file).trim();
      } catch (err) {
        throw missing(
          `readable federated token at ${file} (${(err as NodeJS.ErrnoException).code ?? 'unreadable'})`,
          'check the projected service account token volume of the workload identity webhook',
        );
      }
      if (assertion === '')
        throw missing(`federated token: ${file} is empty`, 'check the projected token volume');
      form.set('client_assertion_type', JWT_BEARER_ASSERTION);
      form.set('client_assertion', assertion);
    } else {
      if (settings.secret === undefined)
        throw missing(
          'client secret',
          "set spec.auth.azureEntra.secretRef to the Secret key holding the app registration's client secret",
        );
      // Throws MissingCredentialError (the Secret is not mounted): reported as such.
      form.set('client_secret', deps.secret(backend, settings.secret));
    }
    let authority = env.AZURE_AUTHORITY_HOST || DEFAULT_AZURE_AUTHORITY_HOST;
    if (!authority.endsWith('/')) authority += '/';
    return {
      url: `${authority}${encodeURIComponent(tenantId)}/oauth2/v2.0/token`,
      form,
      what: `${source} (tenant ${tenantId}, client ${clientId}) for backend ${backend.id}`,
    };
  };
}

async function fetchToken(
  deps: AuthDeps,
  request: () => TokenRequest,
): Promise<{ value: UpstreamAuth; expiresAtMs: number }> {
  const { url, form, what } = request();
  let response: Response;
  try {
    response = await deps.fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: form.toString(),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    throw new CredentialUnavailableError(
      `${what}: the Entra ID token endpoint ${new URL(url).origin} could not be reached (${(err as Error).message}); check AZURE_AUTHORITY_HOST and the egress proxy settings`,
    );
  }
  const text = await response.text().catch(() => '');
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!response.ok) {
    const refusal = errorAnswer.safeParse(body);
    const detail = refusal.success
      ? `${refusal.data.error}: ${firstLine(refusal.data.error_description ?? '')}`
      : `HTTP ${response.status}`;
    throw new CredentialUnavailableError(
      `${what}: Entra ID refused the token request (${detail}); ${fixFor(refusal.success ? refusal.data.error_description : undefined)}`,
      response.status >= 400 && response.status < 500,
    );
  }
  const parsed = tokenAnswer.safeParse(body);
  if (!parsed.success)
    throw new CredentialUnavailableError(
      `${what}: the Entra ID token endpoint answered HTTP ${response.status} without access_token and expires_in; check AZURE_AUTHORITY_HOST`,
    );
  return {
    value: { kind: 'bearer', token: parsed.data.access_token },
    expiresAtMs: deps.now() + Number(parsed.data.expires_in) * 1000,
  };
}

/** Entra's descriptions run to several lines (trace ids, timestamps): the first says what is wrong. */
function firstLine(text: string): string {
  const line = text.split(/\r?\n/)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}

/** What to do about the AADSTS codes people meet most. */
function fixFor(description: string | undefined): string {
  const code = /AADSTS(\d+)/.exec(description ?? '')?.[1];
  switch (code) {
    case '7000215':
    case '7000222':
      return 'the client secret is wrong or expired: put a current secret of the app registration in the Secret named by spec.auth.azureEntra.secretRef';
    case '70021':
    case '700211':
    case '700213':
      return "no federated credential of the app registration matches this pod's service account token: add one with issuer = the cluster's OIDC issuer and subject system:serviceaccount:<namespace>:<service account>";
    case '700016':
      return 'the client id is not an app registration in this tenant: check spec.auth.azureEntra.clientId / AZURE_CLIENT_ID and tenantId';
    case '90002':
      return 'the tenant was not found: check spec.auth.azureEntra.tenantId / AZURE_TENANT_ID';
    case '1002012':
    case '70011':
      return "the scope is invalid: Azure OpenAI's is https://cognitiveservices.azure.com/.default";
    default:
      return 'check the tenant id, client id and the credential of spec.auth.azureEntra';
  }
}
