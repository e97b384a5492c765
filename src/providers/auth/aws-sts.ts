// AWS STS AssumeRoleWithWebIdentity (what IRSA and the SDKs' web identity
// provider call): an unsigned Query API request, answered in XML.
import { CredentialUnavailableError } from './types.js';
import type { AwsCredentials } from '../types.js';

export interface WebIdentityRequest {
  /** e.g. https://sts.us-east-1.amazonaws.com (no trailing path needed). */
  endpoint: string;
  roleArn: string;
  sessionName: string;
  /** The projected service account token (a JWT). Never logged. */
  token: string;
  /** Names the backend and source in error messages. */
  context: string;
  fetch: typeof globalThis.fetch;
  timeoutMs?: number;
}

/** How to fix what STS says, by its error code. */
const FIXES: Record<string, string> = {
  InvalidIdentityToken:
    'check that the IAM OIDC identity provider for the cluster exists and that the token file is the projected service account token (AWS_WEB_IDENTITY_TOKEN_FILE)',
  ExpiredTokenException:
    'the projected service account token expired: check that kubelet refreshes it (the pod must mount the projected token volume)',
  AccessDenied:
    "check the role's trust policy: it must allow sts:AssumeRoleWithWebIdentity for this service account (the token's sub and aud)",
  IDPRejectedClaim: "check the role's trust policy conditions on the token's sub and aud claims",
  IDPCommunicationError: 'STS could not reach the OIDC issuer; this is usually temporary',
  InvalidParameterValue: 'check AWS_ROLE_ARN and AWS_ROLE_SESSION_NAME',
  ValidationError: 'check AWS_ROLE_ARN and AWS_ROLE_SESSION_NAME',
  RegionDisabledException:
    'activate STS in this region (IAM account settings) or set AWS_ENDPOINT_URL_STS',
};

export async function assumeRoleWithWebIdentity(req: WebIdentityRequest): Promise<AwsCredentials> {
  const form = new URLSearchParams({
    Action: 'AssumeRoleWithWebIdentity',
    Version: '2011-06-15',
    RoleArn: req.roleArn,
    RoleSessionName: req.sessionName,
    WebIdentityToken: req.token,
  });
  let status: number;
  let text: string;
  try {
    const res = await req.fetch(req.endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        accept: 'text/xml',
      },
      body: form.toString(),
      signal: AbortSignal.timeout(req.timeoutMs ?? 10_000),
    });
    status = res.status;
    text = await res.text();
  } catch (err) {
    throw new CredentialUnavailableError(
      `${req.context}: STS at ${req.endpoint} could not be reached (${(err as Error).message}); check the network path to STS or set AWS_ENDPOINT_URL_STS`,
    );
  }
  if (status < 200 || status > 299) {
    const error = xmlElement(text, 'Error');
    const code = (error && xmlElement(error, 'Code')) ?? `HTTP ${status}`;
    const message = (error && xmlElement(error, 'Message')) ?? 'no message';
    const fix = FIXES[code] ?? 'check the role ARN and its trust policy';
    throw new CredentialUnavailableError(
      `${req.context}: STS AssumeRoleWithWebIdentity refused (${code}: ${clip(message)}); ${fix}`,
      status >= 400 && status < 500,
    );
  }
  const credentials = parseStsCredentials(text);
  if (!credentials) {
    throw new CredentialUnavailableError(
      `${req.context}: STS answered without credentials (is ${req.endpoint} an STS endpoint?)`,
    );
  }
  return credentials;
}

/** Reads `<Credentials>` of an AssumeRole* response; undefined when anything is missing. */
export function parseStsCredentials(xml: string): AwsCredentials | undefined {
  const block = xmlElement(xml, 'Credentials');
  if (block === undefined) return undefined;
  const accessKeyId = xmlElement(block, 'AccessKeyId');
  const secretAccessKey = xmlElement(block, 'SecretAccessKey');
  const sessionToken = xmlElement(block, 'SessionToken');
  const expiration = xmlElement(block, 'Expiration');
  if (!accessKeyId || !secretAccessKey || !sessionToken || !expiration) return undefined;
  const expiresAtMs = Date.parse(expiration);
  if (!Number.isFinite(expiresAtMs)) return undefined;
  return { accessKeyId, secretAccessKey, sessionToken, expiresAtMs };
}

/**
 * The text of the first `<name>` element (no attributes expected, as in STS
 * answers), entities decoded; undefined when absent. Not a general XML
 * parser: STS's answers are flat, and a missing element is reported, never guessed.
 */
export function xmlElement(xml: string, name: string): string | undefined {
  const open = new RegExp(`<${name}(?:\\s[^>]*)?>`).exec(xml);
  if (!open) return undefined;
  const start = open.index + open[0].length;
  const end = xml.indexOf(`</${name}>`, start);
  if (end < 0) return undefined;
  return decodeXml(xml.slice(start, end).trim());
}

const ENTITIES: Record<string, string> = {
  amp: '&',
  lt: '<',
  gt: '>',
  quot: '"',
  apos: "'",
};

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (!ref.startsWith('#')) return ENTITIES[ref] ?? whole;
    const code = ref.startsWith('#x') ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

function clip(text: string): string {
  const clean = text.replace(/\s+/g, ' ').trim();
  return clean.length > 200 ? `${clean.slice(0, 199)}…` : clean;
}
