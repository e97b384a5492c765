// Google credentials as the simulator plays them: an OAuth 2 token endpoint
// that accepts a service account's RS256 JWT assertion only when it verifies
// with that account's public key (Google's `POST /token`), the GKE metadata
// server's token endpoint, and the check Vertex AI's model endpoints make:
// an access token a simulator of this process issued and that has not expired.
import {
  createPublicKey,
  createVerify,
  createHmac,
  generateKeyPairSync,
  randomBytes,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendJson } from './respond.js';
import { isRecord } from './text.js';

export const GOOGLE_TOKEN_PATH = '/token';
export const METADATA_TOKEN_PATH = '/computeMetadata/v1/instance/service-accounts/default/token';
const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
const CLOUD_PLATFORM_SCOPE = 'https://www.googleapis.com/auth/cloud-platform';
/** Google refuses assertions that live longer than an hour. */
const MAX_ASSERTION_LIFETIME_S = 3600;
/**
 * Signs the access tokens simulators issue. One per process: as with Google,
 * a token from any (simulated) Google endpoint works at every Vertex AI one,
 * so local mode's simulators share a metadata server.
 */
const TOKEN_SIGNING_KEY = randomBytes(32);

export interface SimulatedServiceAccount {
  clientEmail: string;
  /** PEM (SPKI) public key the token endpoint verifies assertions with. */
  publicKeyPem: string;
}

export interface GoogleAuthOptions {
  serviceAccounts: readonly SimulatedServiceAccount[];
  /** expires_in of issued tokens (Google's is 3599). */
  tokenLifetimeSeconds: number;
  now(): number;
}

/**
 * A service account and its JSON key (as `gcloud iam service-accounts keys
 * create` writes it), whose token_uri is this simulator's token endpoint.
 */
export function simulatedServiceAccountKey(
  simulatorUrl: string,
  clientEmail = 'modelroute@sim-project.iam.gserviceaccount.com',
): { account: SimulatedServiceAccount; keyJson: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = {
    type: 'service_account',
    project_id: 'sim-project',
    private_key_id: 'sim-key-1',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    client_email: clientEmail,
    client_id: '100000000000000000001',
    token_uri: `${simulatorUrl}${GOOGLE_TOKEN_PATH}`,
  };
  return {
    account: {
      clientEmail,
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    },
    keyJson: JSON.stringify(key),
  };
}

/** The account of a service account JSON key (its public key derived from the private one). */
export function serviceAccountOfKey(keyJson: string): SimulatedServiceAccount {
  let key: unknown;
  try {
    key = JSON.parse(keyJson);
  } catch {
    throw new Error('not JSON: expected a Google service account key');
  }
  if (!isRecord(key) || typeof key.client_email !== 'string' || typeof key.private_key !== 'string')
    throw new Error('not a Google service account key (client_email and private_key are required)');
  let publicKeyPem: string;
  try {
    publicKeyPem = createPublicKey(key.private_key)
      .export({ type: 'spki', format: 'pem' })
      .toString();
  } catch {
    throw new Error('its private_key is not a PEM RSA private key');
  }
  return { clientEmail: key.client_email, publicKeyPem };
}

/** Google's 401 for a missing, unknown or expired access token. */
export const UNAUTHENTICATED_BODY = JSON.stringify({
  error: {
    code: 401,
    message:
      'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project.',
    status: 'UNAUTHENTICATED',
  },
});

export class SimulatedGoogleAuth {
  private readonly keys = new Map<string, KeyObject>();
  private issued = 0;

  constructor(private readonly options: GoogleAuthOptions) {
    for (const account of options.serviceAccounts)
      this.keys.set(account.clientEmail, createPublicKey(account.publicKeyPem));
  }

  /** Answers the token and metadata endpoints; false for any other request. */
  handle(req: IncomingMessage, res: ServerResponse, path: string, body: string): boolean {
    if (path === GOOGLE_TOKEN_PATH && req.method === 'POST') {
      this.exchangeAssertion(req, res, body);
      return true;
    }
    if (path === METADATA_TOKEN_PATH && req.method === 'GET') {
      if (req.headers['metadata-flavor'] !== 'Google') {
        // What a GCE/GKE metadata server says to a request without the header.
        res.writeHead(403, { 'content-type': 'text/html; charset=UTF-8' });
        res.end('Missing required header: Metadata-Flavor: Google\n');
      } else {
        sendJson(res, 200, this.issue());
      }
      return true;
    }
    return false;
  }

  /** Whether a model request carries a live token this server issued. */
  authorized(req: IncomingMessage): boolean {
    const header = req.headers.authorization;
    const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
    const match =
      token === undefined ? null : /^(ya29\.sim\.(\d+)\.[0-9a-f]+)\.([0-9a-f]{64})$/.exec(token);
    if (!match) return false;
    const [, payload, expiresAt, mac] = match as unknown as [string, string, string, string];
    const valid = timingSafeEqual(Buffer.from(mac, 'hex'), tokenMac(payload));
    return valid && this.options.now() < Number(expiresAt);
  }

  /** How many tokens the token and metadata endpoints issued. */
  get issuedCount(): number {
    return this.issued;
  }

  private issue(): string {
    this.issued++;
    const lifetime = this.options.tokenLifetimeSeconds;
    const expiresAt = this.options.now() + lifetime * 1000;
    const payload = `ya29.sim.${expiresAt}.${randomBytes(6).toString('hex')}`;
    const token = `${payload}.${tokenMac(payload).toString('hex')}`;
    return JSON.stringify({ access_token: token, expires_in: lifetime, token_type: 'Bearer' });
  }

  private exchangeAssertion(req: IncomingMessage, res: ServerResponse, body: string): void {
    const form = new URLSearchParams(body);
    if (form.get('grant_type') !== JWT_BEARER_GRANT) {
      oauthError(
        res,
        400,
        'unsupported_grant_type',
        'Invalid grant_type: ' + (form.get('grant_type') ?? ''),
      );
      return;
    }
    const problem = this.assertionProblem(
      form.get('assertion') ?? '',
      `http://${req.headers.host ?? ''}${GOOGLE_TOKEN_PATH}`,
    );
    if (problem !== undefined) {
      oauthError(res, 400, 'invalid_grant', problem);
      return;
    }
    sendJson(res, 200, this.issue());
  }

  /** Why Google would refuse this assertion; undefined when it is good. */
  private assertionProblem(assertion: string, audience: string): string | undefined {
    const [header, claims, signature] = assertion.split('.');
    if (header === undefined || claims === undefined || signature === undefined)
      return 'Invalid JWT: the assertion is not a signed JWT.';
    const decoded = decodeSegment(claims);
    const head = decodeSegment(header);
    if (!isRecord(decoded) || !isRecord(head)) return 'Invalid JWT: the assertion is not JSON.';
    if (head.alg !== 'RS256') return 'Invalid JWT: alg must be RS256.';
    const key = typeof decoded.iss === 'string' ? this.keys.get(decoded.iss) : undefined;
    if (key === undefined) return 'Invalid grant: account not found';
    const valid = createVerify('RSA-SHA256')
      .update(`${header}.${claims}`)
      .verify(key, Buffer.from(signature, 'base64url'));
    if (!valid) return 'Invalid JWT Signature.';
    if (decoded.aud !== audience) return `Invalid JWT: audience must be ${audience}.`;
    const { iat, exp } = decoded;
    const nowS = this.options.now() / 1000;
    if (
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      exp - iat > MAX_ASSERTION_LIFETIME_S ||
      exp <= nowS
    )
      return 'Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.';
    if (
      typeof decoded.scope !== 'string' ||
      !decoded.scope.split(' ').includes(CLOUD_PLATFORM_SCOPE)
    )
      return 'Invalid OAuth scope or ID token audience provided.';
    return undefined;
  }
}

function tokenMac(payload: string): Buffer {
  return createHmac('sha256', TOKEN_SIGNING_KEY).update(payload).digest();
}

function decodeSegment(segment: string): unknown {
  try {
    return JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

function oauthError(res: ServerResponse, status: number, error: string, description: string): void {
  sendJson(res, status, JSON.stringify({ error, error_description: description }));
}
