// The JSON body of an admin PUT (a routing table, a quota assignment), read
// the way express.json({ strict: true, limit: '16mb' }) read it before the
// admin port dropped express: the same statuses, error codes and messages, so
// a controller (of this release or the last) sees no difference.
import type { IncomingMessage } from 'node:http';
import { TextDecoder } from 'node:util';
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib';
import { ProxyError } from '../errors.js';
import { readBody } from '../request-body.js';

const MAX_ADMIN_BODY_BYTES = 16 * 1024 * 1024;

// Synchronous: only a token holder gets this far, and 16 MB inflates in tens of ms.
const DECOMPRESS: Record<string, (raw: Buffer, options: { maxOutputLength: number }) => Buffer> = {
  gzip: gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
};

/**
 * The parsed body: an object or array; `{}` for an empty body; undefined when
 * the request declares no body at all (no Content-Length, no Transfer-Encoding).
 * Throws a ProxyError (400, 413 or 415) saying what is wrong.
 */
export async function readAdminJson(req: IncomingMessage): Promise<unknown> {
  if (req.headers['transfer-encoding'] === undefined && req.headers['content-length'] === undefined)
    return undefined;
  const charset = charsetOf(req.headers['content-type']) ?? 'utf-8';
  const decoder = charset.startsWith('utf-') ? textDecoder(charset) : undefined;
  if (!decoder)
    throw adminBodyError(
      415,
      `unsupported charset "${charset.toUpperCase()}"`,
      'charset.unsupported',
    );
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  const decompress = DECOMPRESS[encoding];
  if (encoding !== 'identity' && !decompress)
    throw adminBodyError(415, `unsupported content encoding "${encoding}"`, 'encoding.unsupported');

  const raw = await readBody(req, MAX_ADMIN_BODY_BYTES).catch((err: unknown) => {
    if (err instanceof ProxyError && err.status === 413) throw tooLarge();
    throw err instanceof ProxyError ? adminBodyError(400, err.message, 'request.aborted') : err;
  });
  const bytes = decompress ? inflated(raw, decompress) : raw;
  // TextDecoder drops a leading byte-order mark, as body-parser did.
  const text = decoder.decode(bytes);
  return parseStrict(text);
}

function inflated(
  raw: Buffer,
  decompress: (raw: Buffer, options: { maxOutputLength: number }) => Buffer,
): Buffer {
  try {
    return decompress(raw, { maxOutputLength: MAX_ADMIN_BODY_BYTES });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge();
    throw adminBodyError(400, (err as Error).message, 'entity.parse.failed');
  }
}

/** Only an object or an array at the top, like body-parser's `strict`. */
function parseStrict(text: string): unknown {
  if (text.length === 0) return {};
  const first = /^[ \t\n\r]*([^ \t\n\r]|$)/.exec(text)?.[1] ?? '';
  if (first !== '{' && first !== '[')
    throw adminBodyError(400, notAnObjectMessage(text, first), 'entity.parse.failed');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw adminBodyError(400, (err as Error).message, 'entity.parse.failed');
  }
}

// A top-level scalar ("123", "null") is valid JSON, so JSON.parse has no
// message for it. body-parser made V8 write one: the text from the scalar on
// replaced by "#", parsed, and the "#"s in the message put back. Same here, so
// the message reads as it always did ("Unexpected token '1', "123" is not valid JSON").
function notAnObjectMessage(text: string, first: string): string {
  const at = first === '' ? -1 : text.indexOf(first);
  try {
    JSON.parse(at === -1 ? '' : text.slice(0, at) + '#'.repeat(text.length - at));
    return 'the body must be a JSON object';
  } catch (err) {
    return (err as Error).message.replace(/#+/g, (run) => text.substring(at, at + run.length));
  }
}

function charsetOf(contentType: string | undefined): string | undefined {
  return /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(contentType ?? '')?.[1]?.toLowerCase();
}

function textDecoder(charset: string): TextDecoder | undefined {
  try {
    return new TextDecoder(charset);
  } catch {
    return undefined; // a label TextDecoder does not know, e.g. "utf-foo"
  }
}

function tooLarge(): ProxyError {
  const headers = { connection: 'close' };
  return new ProxyError(
    413,
    'body larger than 16mb',
    'invalid_request_error',
    'entity.too.large',
    null,
    headers,
  );
}

/** The admin port's old "bad request: …" messages, with body-parser's error type as the code. */
function adminBodyError(status: number, message: string, code: string): ProxyError {
  return new ProxyError(status, `bad request: ${message}`, 'invalid_request_error', code);
}
