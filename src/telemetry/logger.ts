// Structured JSON-lines logger (one object per line on stderr) that never writes a secret.
import { types } from 'node:util';
import { REDACTED, redactSecrets, redactTraceId } from './redact.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line (a call's own fields win on a clash). */
  child(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** Lines below this level are dropped before any work is done. Default: info. */
  level?: LogLevel;
  /** Receives one JSON document per call, without the trailing newline. Default: stderr. */
  write?: (line: string) => void;
  now?: () => Date;
}

export { REDACTED };

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const RESERVED = new Set(['time', 'level', 'msg']);
/** Fields holding W3C trace/span ids: hex that would otherwise read as an Azure key (redact.ts). */
const TRACE_ID_KEYS = new Set(['traceId', 'spanId']);
const MAX_DEPTH = 8;

// Keys whose value is a credential whatever its type.
const SECRET_KEY =
  /authorization|api[-_]?key|secret|password|passwd|credential|cookie|private[-_]?key|bearer/i;
// "token" names a credential (access_token, x-auth-token, sessionToken) but also,
// all over an LLM proxy, a count (prompt_tokens, maxTokens, tokensPerSecond). The
// plural and the count/tokenizer words are stripped first: if "token" is still
// there, the key names a credential. A "token" key holding a number is a count.
const TOKEN_COUNT_WORDS = /tokens|token[-_]?count|tokeniz/gi;
const TOKEN = /token/i;
/**
 * Whether a field with this key must be redacted. `value` matters only for
 * "token" keys: a number there is a count, never a credential.
 */
export function isSecretKey(key: string, value?: unknown): boolean {
  if (SECRET_KEY.test(key)) return true;
  if (!TOKEN.test(key)) return false;
  if (typeof value === 'number' || typeof value === 'bigint') return false;
  return TOKEN.test(key.replace(TOKEN_COUNT_WORDS, ''));
}

/**
 * Replaces credentials embedded in free text (upstream error messages): the
 * proxy's own keys by value and anything shaped like a key. The same redactor
 * guards client error bodies and spans, so logs never differ from them.
 */
export const scrubText = redactSecrets;

/**
 * A JSON-safe copy of `value` with secrets redacted at any depth, Errors as
 * {name, message[, code][, stack]}, cycles as "[Circular]", bigints as strings.
 */
export function toLogValue(value: unknown, options: { stack?: boolean } = {}): unknown {
  return convert(value, 0, new WeakSet<object>(), options.stack ?? false);
}

function convert(value: unknown, depth: number, path: WeakSet<object>, stack: boolean): unknown {
  switch (typeof value) {
    case 'string':
      return scrubText(value);
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    case 'undefined':
      return undefined;
    case 'symbol':
      return value.toString();
    case 'function':
      return `[Function ${value.name || 'anonymous'}]`;
  }
  if (value === null) return null;
  const obj = value as object;
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? 'Invalid Date' : obj.toISOString();
  if (obj instanceof URL) return redactUrl(obj);
  if (ArrayBuffer.isView(obj)) return `[${obj.constructor.name} ${obj.byteLength} bytes]`;
  if (path.has(obj)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[Truncated]';
  // Only the current path is tracked, so an object referenced twice (not
  // cyclically) is printed twice rather than marked circular.
  path.add(obj);
  try {
    if (obj instanceof Error || types.isNativeError(obj))
      return convertError(obj, depth, path, stack);
    if (Array.isArray(obj)) return obj.map((v) => convert(v, depth + 1, path, stack) ?? null);
    if (obj instanceof Set) return [...obj].map((v) => convert(v, depth + 1, path, stack) ?? null);
    if (obj instanceof Map) return convertEntries(obj.entries(), depth, path, stack);
    // fetch/undici Headers serialise as {} with JSON.stringify, hiding (or, via
    // a custom serialiser, leaking) the authorization header: walk the entries.
    if (typeof Headers !== 'undefined' && obj instanceof Headers) {
      return convertEntries(obj.entries(), depth, path, stack);
    }
    return convertEntries(Object.entries(obj), depth, path, stack);
  } finally {
    path.delete(obj);
  }
}

function convertEntries(
  entries: Iterable<[unknown, unknown]>,
  depth: number,
  path: WeakSet<object>,
  stack: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of entries) {
    const key = String(k);
    out[key] = isSecretKey(key, v)
      ? REDACTED
      : TRACE_ID_KEYS.has(key) && typeof v === 'string'
        ? redactTraceId(v)
        : convert(v, depth + 1, path, stack);
  }
  return out;
}

function convertError(
  err: Error,
  depth: number,
  path: WeakSet<object>,
  stack: boolean,
): Record<string, unknown> {
  const out: Record<string, unknown> = { name: err.name, message: scrubText(err.message) };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') out.code = code;
  const status = (err as { status?: unknown }).status;
  if (typeof status === 'number') out.status = status;
  if (stack && err.stack) out.stack = scrubText(err.stack);
  if (err.cause !== undefined) out.cause = convert(err.cause, depth + 1, path, stack);
  return out;
}

function redactUrl(url: URL): string {
  const copy = new URL(url.href);
  if (copy.username) copy.username = REDACTED;
  if (copy.password) copy.password = REDACTED;
  for (const key of [...copy.searchParams.keys()]) {
    if (isSecretKey(key)) copy.searchParams.set(key, REDACTED);
  }
  return copy.href;
}

function defaultWrite(line: string): void {
  process.stderr.write(`${line}\n`);
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const write = options.write ?? defaultWrite;
  const now = options.now ?? (() => new Date());
  return makeLogger(LEVELS[level], level === 'debug', write, now, {});
}

function makeLogger(
  threshold: number,
  stack: boolean,
  write: (line: string) => void,
  now: () => Date,
  bindings: Record<string, unknown>,
): Logger {
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (LEVELS[level] < threshold) return;
    write(render(level, msg, bindings, fields, now, stack));
  };
  return {
    debug: (msg, fields) => emit('debug', msg, fields),
    info: (msg, fields) => emit('info', msg, fields),
    warn: (msg, fields) => emit('warn', msg, fields),
    error: (msg, fields) => emit('error', msg, fields),
    child: (fields) =>
      makeLogger(threshold, stack, write, now, {
        ...bindings,
        // Converted once here, so a child's fields cost nothing per line.
        ...(toLogValue(fields, { stack }) as Record<string, unknown>),
      }),
  };
}

function render(
  level: LogLevel,
  msg: string,
  bindings: Record<string, unknown>,
  fields: Record<string, unknown> | undefined,
  now: () => Date,
  stack: boolean,
): string {
  const line: Record<string, unknown> = { time: now().toISOString(), level, msg: scrubText(msg) };
  try {
    const own = fields ? (toLogValue(fields, { stack }) as Record<string, unknown>) : {};
    for (const [key, value] of Object.entries({ ...bindings, ...own })) {
      // time/level/msg stay what the logger says; a clashing field is kept under another name.
      line[RESERVED.has(key) ? `field.${key}` : key] = value;
    }
    return JSON.stringify(line);
  } catch (err) {
    // A getter that throws, or similar: still say what was being logged.
    line.logError = err instanceof Error ? err.message : String(err);
    return JSON.stringify(line);
  }
}
