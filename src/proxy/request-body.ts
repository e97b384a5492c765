// Reads and validates client request bodies: size limit, JSON, and the
// minimal shape each endpoint needs. Unknown fields pass through untouched.
import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { ProxyError, badRequest } from './errors.js';
import type { Endpoint, OpenAIRequestBody } from '../providers/types.js';

export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Too large: answered at once with "Connection: close", and the rest of
    // the body is never read. Node closes the connection once the 413 is
    // out, instead of taking in a 200 MB body only to throw it away.
    const refuse = (): void => {
      req.removeAllListeners('data');
      req.pause();
      reject(tooLarge(maxBytes));
    };
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) return refuse();
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) return refuse();
      chunks.push(chunk);
    });
    req.on('end', () =>
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)),
    );
    // The client hung up (or Node's requestTimeout cut it off) mid-body: its
    // fault, not the proxy's, so a 4xx rather than an internal error.
    req.on('error', (err: NodeJS.ErrnoException) =>
      reject(
        new ProxyError(
          400,
          `the request body ended early (${err.code ?? err.message}): the client closed the connection or was too slow`,
          'invalid_request_error',
          'incomplete_body',
        ),
      ),
    );
  });
}

function tooLarge(maxBytes: number): ProxyError {
  return new ProxyError(
    413,
    `request body is larger than the proxy's limit of ${maxBytes} bytes; send a smaller request or raise --max-body-bytes`,
    'invalid_request_error',
    'request_too_large',
    null,
    { connection: 'close' },
  );
}

const role = z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
const positiveInt = z.int().min(1);
const common = {
  model: z.string().min(1, { message: 'model must be a non-empty string' }),
  stream: z.boolean().optional(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullable().optional(),
  max_tokens: positiveInt.nullable().optional(),
  max_completion_tokens: positiveInt.nullable().optional(),
  temperature: z.number().min(0).max(2).nullable().optional(),
  top_p: z.number().min(0).max(1).nullable().optional(),
  n: positiveInt.nullable().optional(),
};

const chatBody = z.looseObject({
  ...common,
  messages: z
    .array(
      z.looseObject({
        role,
        content: z
          .union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()])
          .optional(),
      }),
    )
    .min(1, { message: 'messages must contain at least one message' }),
  tools: z.array(z.looseObject({ type: z.string() })).optional(),
});

const completionsBody = z.looseObject({
  ...common,
  prompt: z.union([z.string(), z.array(z.string()), z.array(z.int()), z.array(z.array(z.int()))]),
});

const embeddingsBody = z.looseObject({
  model: common.model,
  input: z.union([
    z.string(),
    z.array(z.string()).min(1),
    z.array(z.int()).min(1),
    z.array(z.array(z.int())).min(1),
  ]),
  dimensions: positiveInt.optional(),
  encoding_format: z.enum(['float', 'base64']).optional(),
});

const schemas: Record<Endpoint, z.ZodType<OpenAIRequestBody>> = {
  chat: chatBody,
  completions: completionsBody,
  embeddings: embeddingsBody,
};

export interface ParsedRequest {
  body: OpenAIRequestBody;
  model: string;
  stream: boolean;
}

/** Parses and checks a body; throws ProxyError(400) naming the offending field. */
export function parseRequestBody(
  endpoint: Endpoint,
  raw: Buffer,
  contentType: string | undefined,
): ParsedRequest {
  return checkRequestBody(endpoint, parseJsonObject(raw, contentType));
}

/**
 * The body as a JSON object, before any endpoint's shape is checked (the
 * ingress dialects check their own); throws ProxyError 400 or 415.
 */
export function parseJsonObject(
  raw: Buffer,
  contentType: string | undefined,
): Record<string, unknown> {
  if (
    contentType !== undefined &&
    !/^application\/json\b/i.test(contentType) &&
    !/\+json\b/i.test(contentType)
  ) {
    throw new ProxyError(
      415,
      `unsupported content-type "${contentType}": send the request body as application/json`,
      'invalid_request_error',
      'unsupported_media_type',
    );
  }
  if (raw.length === 0)
    throw badRequest('request body is empty: send a JSON object', null, 'invalid_json');
  // JSON.parse takes any depth, but JSON.stringify (forwarding the body)
  // overflows the stack somewhere past a few thousand levels. Checked on the
  // bytes, before JSON.parse would build all of an 8 MiB "[[[[…" (two seconds
  // on the event loop) only to have it refused.
  if (bytesNestedDeeperThan(raw, MAX_JSON_DEPTH)) {
    throw badRequest(
      `request body is nested more than ${MAX_JSON_DEPTH} levels deep`,
      null,
      'invalid_json',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw badRequest(
      `request body is not valid JSON: ${(err as Error).message}`,
      null,
      'invalid_json',
    );
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw badRequest('request body must be a JSON object', null, 'invalid_json');
  }
  return json as Record<string, unknown>;
}

/** Checks a JSON object against an endpoint's shape; throws ProxyError(400) naming the field. */
export function checkRequestBody(endpoint: Endpoint, json: Record<string, unknown>): ParsedRequest {
  const parsed = schemas[endpoint].safeParse(json);
  if (!parsed.success) throw zodBadRequest(parsed.error);
  const body = parsed.data;
  return {
    body,
    model: body.model as string,
    stream: endpoint !== 'embeddings' && body.stream === true,
  };
}

/** A 400 for a zod failure: its first issue, prefixed by the field it is about. */
export function zodBadRequest(error: z.ZodError): ProxyError {
  const issue = error.issues[0];
  const param = issue ? formatParam(issue.path) : null;
  const message = issue ? `${param ? `${param}: ` : ''}${issue.message}` : 'invalid request body';
  return badRequest(message, param, 'invalid_value');
}

const MAX_JSON_DEPTH = 128;

/**
 * Whether JSON text opens more than `max` arrays/objects at once, outside
 * strings: one pass over the bytes (multi-byte UTF-8 never contains the ASCII
 * bytes looked at). Malformed JSON is left for JSON.parse to describe.
 */
function bytesNestedDeeperThan(raw: Buffer, max: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    if (inString) {
      if (b === 0x5c)
        i++; // backslash: skip the escaped byte
      else if (b === 0x22) inString = false;
    } else if (b === 0x22) inString = true;
    else if (b === 0x5b || b === 0x7b) {
      if (++depth > max) return true;
    } else if (b === 0x5d || b === 0x7d) depth--;
  }
  return false;
}

/** A field's path as clients write it: messages[0].content. */
export function formatParam(path: readonly PropertyKey[]): string | null {
  if (path.length === 0) return null;
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}
