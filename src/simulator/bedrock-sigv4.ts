// The simulator's SigV4 check, written apart from the proxy's signer so a
// signing bug cannot hide behind the same code: it rebuilds the canonical
// request from the request as received, as AWS does, and answers with AWS's
// own errors (403s with `{"message"}`) when anything does not match.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export interface AwsKey {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials: the x-amz-security-token the request must carry. */
  sessionToken?: string | undefined;
  /** ms since the epoch; after it the token is expired. */
  expiresAtMs?: number | undefined;
}

export type SigV4Verdict =
  { ok: true; accessKeyId: string } | { ok: false; status: number; type: string; message: string };

export interface SignedRequest {
  method: string;
  /** The request target as received: raw path and query. */
  target: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface VerifyOptions {
  lookup(accessKeyId: string): AwsKey | undefined;
  now: number;
  service: string;
  /** The region the endpoint serves; undefined: any. */
  region?: string | undefined;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_SKEW_MS = 5 * 60_000;
const MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';

const refuse = (type: string, message: string, status = 403): SigV4Verdict => ({
  ok: false,
  status,
  type,
  message,
});

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(',') : value;
}

/** RFC 3986 encoding, as SigV4 wants (unreserved characters kept, %XX upper case). */
function uriEncode(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

/** Path segments normalized, then each encoded again (non-S3 services double-encode). */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const body = segments.map(uriEncode).join('/');
  const trailing = segments.length > 0 && path.endsWith('/') ? '/' : '';
  return `/${body}${trailing}`;
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  const pairs = query
    .split('&')
    .filter((p) => p !== '')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const key = eq < 0 ? pair : pair.slice(0, eq);
      const value = eq < 0 ? '' : pair.slice(eq + 1);
      return [uriEncode(safeDecode(key)), uriEncode(safeDecode(value))] as const;
    });
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** `20150830T123600Z` -> ms, or NaN. */
function parseAmzDate(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return NaN;
  const [y = NaN, mo = NaN, d, h, mi, s] = m.slice(1).map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

function amzDate(ms: number): string {
  return new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

const hmac = (key: Buffer | string, data: string): Buffer =>
  createHmac('sha256', key).update(data, 'utf8').digest();

export function verifySigV4(req: SignedRequest, options: VerifyOptions): SigV4Verdict {
  const authorization = header(req.headers, 'authorization');
  if (authorization === undefined)
    return refuse('MissingAuthenticationTokenException', 'Missing Authentication Token');
  if (!authorization.startsWith(`${ALGORITHM} `))
    return refuse(
      'IncompleteSignatureException',
      `Authorization header must start with ${ALGORITHM}.`,
    );
  const fields = new Map<string, string>();
  for (const part of authorization.slice(ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq > 0) fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get('Credential');
  const signedHeaders = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (!credential || !signedHeaders || !signature)
    return refuse(
      'IncompleteSignatureException',
      "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
    );
  const [accessKeyId, scopeDate, scopeRegion, scopeService, terminator, ...extra] =
    credential.split('/');
  if (
    !accessKeyId ||
    !scopeDate ||
    !scopeRegion ||
    !scopeService ||
    terminator !== 'aws4_request' ||
    extra.length > 0
  )
    return refuse('IncompleteSignatureException', `Credential is malformed: ${credential}`);
  const key = options.lookup(accessKeyId);
  if (key === undefined)
    return refuse(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  if (
    key.sessionToken !== undefined &&
    header(req.headers, 'x-amz-security-token') !== key.sessionToken
  )
    return refuse(
      'UnrecognizedClientException',
      'The security token included in the request is invalid.',
    );
  if (key.expiresAtMs !== undefined && options.now >= key.expiresAtMs)
    return refuse('ExpiredTokenException', 'The security token included in the request is expired');
  if (scopeService !== options.service)
    return refuse(
      'InvalidSignatureException',
      `Credential should be scoped to correct service: '${options.service}'. `,
    );
  if (options.region !== undefined && scopeRegion !== options.region)
    return refuse('InvalidSignatureException', 'Credential should be scoped to a valid region. ');

  const date = header(req.headers, 'x-amz-date');
  const signedAt = date === undefined ? NaN : parseAmzDate(date);
  if (date === undefined || !Number.isFinite(signedAt))
    return refuse(
      'IncompleteSignatureException',
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
    );
  if (signedAt < options.now - MAX_SKEW_MS)
    return refuse(
      'InvalidSignatureException',
      `Signature expired: ${date} is now earlier than ${amzDate(options.now - MAX_SKEW_MS)} (${amzDate(options.now)} - 5 min.)`,
    );
  if (signedAt > options.now + MAX_SKEW_MS)
    return refuse(
      'InvalidSignatureException',
      `Signature not yet current: ${date} is still later than ${amzDate(options.now + MAX_SKEW_MS)} (${amzDate(options.now)} + 5 min.)`,
    );
  if (!date.startsWith(scopeDate))
    return refuse(
      'InvalidSignatureException',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scopeDate}' != '${date.slice(0, 8)}'`,
    );

  const names = signedHeaders.split(';');
  if (!names.includes('host'))
    return refuse(
      'InvalidSignatureException',
      "'Host' must be a 'SignedHeader' in the AWS Authorization.",
    );
  const canonicalHeaders = names
    .map((name) => `${name}:${(header(req.headers, name) ?? '').trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const q = req.target.indexOf('?');
  const path = q < 0 ? req.target : req.target.slice(0, q);
  const query = q < 0 ? '' : req.target.slice(q + 1);
  const payloadHash =
    header(req.headers, 'x-amz-content-sha256') ??
    createHash('sha256').update(req.body).digest('hex');
  const canonicalRequest = [
    req.method,
    canonicalPath(path),
    canonicalQuery(query),
    canonicalHeaders,
    signedHeaders,
    payloadHash,
  ].join('\n');
  const scope = `${scopeDate}/${scopeRegion}/${scopeService}/aws4_request`;
  const stringToSign = [
    ALGORITHM,
    date,
    scope,
    createHash('sha256').update(canonicalRequest, 'utf8').digest('hex'),
  ].join('\n');
  let signingKey = hmac(`AWS4${key.secretAccessKey}`, scopeDate);
  for (const part of [scopeRegion, scopeService, 'aws4_request'])
    signingKey = hmac(signingKey, part);
  const expected = createHmac('sha256', signingKey).update(stringToSign, 'utf8').digest();
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return refuse('InvalidSignatureException', MISMATCH);
  return { ok: true, accessKeyId };
}
