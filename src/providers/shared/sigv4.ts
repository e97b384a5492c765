// AWS Signature Version 4 for finished upstream requests (Bedrock), with the
// maintained signer the AWS SDKs use; SHA-256 from node:crypto.
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentials, UpstreamRequest } from '../types.js';

/** The signer's hash interface (HashConstructor): HMAC when given a key, else a plain digest. */
class Sha256 {
  private readonly hash: Hash | Hmac;

  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', toBytes(secret));
  }

  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBytes(data));
  }

  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.hash.digest()));
  }
}

function toBytes(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export interface SigningArgs {
  credentials: AwsCredentials;
  region: string;
  /** The signing name: `bedrock` for the Bedrock runtime. */
  service: string;
  /** The signing time (x-amz-date); the AWS side refuses more than 5 minutes of skew. */
  now?: Date;
}

/**
 * Signs a request: adds x-amz-date, x-amz-security-token (temporary
 * credentials) and authorization. Host, path, query, body and the request's
 * headers are signed; headers added later (e.g. traceparent) are not, which
 * AWS allows.
 */
export async function signRequest(
  request:
    | UpstreamRequest
    | {
        url: string;
        method: 'GET' | 'POST';
        headers: Record<string, string>;
        body?: string | undefined;
      },
  args: SigningArgs,
): Promise<{ headers: Record<string, string> }> {
  const url = new URL(request.url);
  const signer = signerFor(args);
  const query: Record<string, string | string[]> = {};
  for (const [key, value] of url.searchParams) {
    const prior = query[key];
    query[key] = prior === undefined ? value : [...(Array.isArray(prior) ? prior : [prior]), value];
  }
  const signed = await signer.sign(
    {
      method: request.method,
      protocol: url.protocol,
      hostname: url.hostname,
      ...(url.port ? { port: Number(url.port) } : {}),
      // The path as it goes on the wire (already percent-encoded); the signer encodes it once more, as AWS expects.
      path: url.pathname,
      query,
      headers: { ...request.headers, host: url.host },
      body: request.body,
    },
    args.now ? { signingDate: args.now } : {},
  );
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(signed.headers)) {
    // The HTTP client sets Host from the URL: the same value that was signed.
    if (name.toLowerCase() !== 'host') headers[name.toLowerCase()] = value;
  }
  return { headers };
}

/** Enough for every backend × credential of any sane table; past it the cache starts afresh. */
const MAX_SIGNERS = 64;
const signers = new Map<string, SignatureV4>();

/**
 * One signer per credential, region and service, kept: a signer caches its
 * day's signing key (four HMACs to derive), which a new signer per request
 * derived again every time. The whole credential names it, secret included:
 * a Secret corrected after a wrong key keeps its access key id, and must not
 * be served by the signer of the wrong one.
 */
function signerFor(args: SigningArgs): SignatureV4 {
  const { credentials } = args;
  const key = [
    args.service,
    args.region,
    credentials.accessKeyId,
    credentials.secretAccessKey,
    credentials.sessionToken ?? '',
  ].join('\n');
  let signer = signers.get(key);
  if (signer === undefined) {
    if (signers.size >= MAX_SIGNERS) signers.clear();
    signer = new SignatureV4({
      service: args.service,
      region: args.region,
      credentials: {
        accessKeyId: credentials.accessKeyId,
        secretAccessKey: credentials.secretAccessKey,
        ...(credentials.sessionToken ? { sessionToken: credentials.sessionToken } : {}),
      },
      sha256: Sha256,
      applyChecksum: false,
    });
    signers.set(key, signer);
  }
  return signer;
}
