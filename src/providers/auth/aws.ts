// AWS credentials for SigV4 (bedrock, anthropic-bedrock), from the sources
// the AWS SDKs read in a pod: a Secret with access keys, web identity (IRSA:
// a projected token exchanged at STS), the container credentials endpoint
// (EKS Pod Identity, ECS), or AWS_* keys in the environment.
import type { CompiledBackend } from '../../routing/table.js';
import { AWS_SECRET_KEYS } from '../../routing/backend-secrets.js';
import type { AwsCredentials, UpstreamAuth } from '../types.js';
import { assumeRoleWithWebIdentity } from './aws-sts.js';
import { RefreshingCredential } from './refreshing-credential.js';
import {
  CredentialUnavailableError,
  type AuthDeps,
  type AuthSource,
  type AuthSourceFactory,
} from './types.js';

/** Where EKS Pod Identity / ECS serve credentials when only a relative URI is given. */
const CONTAINER_CREDENTIALS_HOST = 'http://169.254.170.2';
const FETCH_TIMEOUT_MS = 10_000;

type Fetcher = () => Promise<AwsCredentials>;

export const createAwsAuth: AuthSourceFactory = (backend, deps) => {
  const settings = backend.auth;
  const source = settings?.type === 'aws' ? settings.source : 'default';
  const region = backend.bedrock?.region;
  const context = `aws credentials for backend ${backend.id} (source ${source})`;
  const failing = (message: string): AuthSource => ({
    current: () => Promise.reject(new CredentialUnavailableError(`${context}: ${message}`)),
  });
  if (region === undefined)
    return failing('the backend has no bedrock.region; set spec.bedrock.region');
  const withRegion = (credentials: AwsCredentials): UpstreamAuth => ({
    kind: 'aws',
    credentials,
    region,
  });

  if (source === 'secret') {
    const secretName = settings?.type === 'aws' ? settings.secretName : undefined;
    if (secretName === undefined)
      return failing('source secret needs spec.auth.aws.secretRef.name');
    // Read on each call: the credential resolver caches Secret reads and sees rotation.
    return { current: () => withRegion(secretCredentials(backend, deps, secretName)) };
  }

  const fetcher = chooseFetcher(source, deps, region, context);
  if (typeof fetcher === 'string') return failing(fetcher);
  if (!('fetch' in fetcher)) return { current: () => withRegion(fetcher.static) };
  const cache = new RefreshingCredential<AwsCredentials>(
    async () => {
      const credentials = await fetcher.fetch();
      return { value: credentials, expiresAtMs: credentials.expiresAtMs };
    },
    { now: () => deps.now() },
  );
  return {
    current() {
      const value = cache.get();
      return value instanceof Promise ? value.then(withRegion) : withRegion(value);
    },
    refused: () => cache.refused(),
  };
};

/** The source to use: a fetch for temporary credentials, static keys, or why there is none. */
function chooseFetcher(
  source: 'default' | 'webIdentity' | 'containerCredentials',
  deps: AuthDeps,
  region: string,
  context: string,
): { fetch: Fetcher } | { static: AwsCredentials } | string {
  const env = deps.env;
  const hasWebIdentity = Boolean(env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN);
  const hasContainer = Boolean(
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI,
  );
  if (source === 'webIdentity' || (source === 'default' && hasWebIdentity)) {
    if (!hasWebIdentity)
      return 'AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN must be set in the proxy environment (IRSA sets them when the service account is annotated with eks.amazonaws.com/role-arn)';
    return { fetch: () => webIdentityCredentials(deps, region, context) };
  }
  if (source === 'containerCredentials' || (source === 'default' && hasContainer)) {
    if (!hasContainer)
      return 'AWS_CONTAINER_CREDENTIALS_FULL_URI or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be set in the proxy environment (EKS Pod Identity and ECS set them)';
    return { fetch: () => containerCredentials(deps, context) };
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (accessKeyId && secretAccessKey) {
    return {
      static: {
        accessKeyId,
        secretAccessKey,
        ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
      },
    };
  }
  return (
    'no AWS credentials found. Looked for: web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN), ' +
    'the container credentials endpoint (AWS_CONTAINER_CREDENTIALS_FULL_URI or AWS_CONTAINER_CREDENTIALS_RELATIVE_URI), ' +
    'and AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY in the proxy environment. ' +
    'Fix: give the proxy an IAM role (IRSA or EKS Pod Identity), or set spec.auth.aws {source: secret, secretRef}'
  );
}

function secretCredentials(
  backend: CompiledBackend,
  deps: AuthDeps,
  secretName: string,
): AwsCredentials {
  const read = (key: string): string => deps.secret(backend, { secretName, key });
  const credentials: AwsCredentials = {
    accessKeyId: read(AWS_SECRET_KEYS.accessKeyId),
    secretAccessKey: read(AWS_SECRET_KEYS.secretAccessKey),
  };
  let sessionToken: string | undefined;
  try {
    sessionToken = read(AWS_SECRET_KEYS.sessionToken);
  } catch {
    sessionToken = undefined; // optional: long-lived IAM user keys have none
  }
  if (sessionToken) credentials.sessionToken = sessionToken;
  return credentials;
}

async function webIdentityCredentials(
  deps: AuthDeps,
  region: string,
  context: string,
): Promise<AwsCredentials> {
  const env = deps.env;
  const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE as string;
  let token: string;
  try {
    // Read at every refresh: kubelet rotates the projected token.
    token = deps.readFile(tokenFile).trim();
  } catch (err) {
    throw new CredentialUnavailableError(
      `${context}: cannot read the web identity token file ${tokenFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check that the projected service account token is mounted`,
    );
  }
  if (token === '')
    throw new CredentialUnavailableError(
      `${context}: the web identity token file ${tokenFile} is empty`,
    );
  const endpoint =
    env.AWS_ENDPOINT_URL_STS || env.AWS_ENDPOINT_URL || `https://sts.${region}.amazonaws.com`;
  return assumeRoleWithWebIdentity({
    endpoint,
    roleArn: env.AWS_ROLE_ARN as string,
    sessionName: env.AWS_ROLE_SESSION_NAME || `modelroute-${deps.now()}`,
    token,
    context,
    fetch: deps.fetch,
    timeoutMs: FETCH_TIMEOUT_MS,
  });
}

async function containerCredentials(deps: AuthDeps, context: string): Promise<AwsCredentials> {
  const env = deps.env;
  const url =
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI ||
    `${CONTAINER_CREDENTIALS_HOST}${env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI ?? ''}`;
  const headers: Record<string, string> = { accept: 'application/json' };
  const tokenFile = env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
  if (tokenFile) {
    try {
      headers.authorization = deps.readFile(tokenFile).trim();
    } catch (err) {
      throw new CredentialUnavailableError(
        `${context}: cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ${tokenFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
  } else if (env.AWS_CONTAINER_AUTHORIZATION_TOKEN) {
    headers.authorization = env.AWS_CONTAINER_AUTHORIZATION_TOKEN;
  }
  let status: number;
  let text: string;
  try {
    const res = await deps.fetch(url, {
      headers,
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    throw new CredentialUnavailableError(
      `${context}: the container credentials endpoint ${url} could not be reached (${(err as Error).message}); check the pod identity agent`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  const body = typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  if (status < 200 || status > 299) {
    const message = typeof body.message === 'string' ? body.message : `HTTP ${status}`;
    throw new CredentialUnavailableError(
      `${context}: the container credentials endpoint ${url} refused (${message.slice(0, 200)}); check the pod identity association and AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`,
      status >= 400 && status < 500,
    );
  }
  const { AccessKeyId, SecretAccessKey, Token, Expiration } = body;
  const expiresAtMs = typeof Expiration === 'string' ? Date.parse(Expiration) : NaN;
  if (
    typeof AccessKeyId !== 'string' ||
    typeof SecretAccessKey !== 'string' ||
    AccessKeyId === '' ||
    SecretAccessKey === ''
  ) {
    throw new CredentialUnavailableError(
      `${context}: the container credentials endpoint ${url} answered without AccessKeyId and SecretAccessKey`,
    );
  }
  return {
    accessKeyId: AccessKeyId,
    secretAccessKey: SecretAccessKey,
    ...(typeof Token === 'string' && Token !== '' ? { sessionToken: Token } : {}),
    ...(Number.isFinite(expiresAtMs) ? { expiresAtMs } : {}),
  };
}
