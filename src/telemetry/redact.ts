// The one place secrets are taken out of text that leaves the process: client
// error bodies, in-stream error events, span status and attributes, logs and
// anything reported to the controller all pass through `redactSecrets`.
// Providers echo keys back in errors ("Incorrect API key provided: sk-…"), so
// upstream text is never trusted to be clean.

export const REDACTED = '[REDACTED]';

/**
 * Credentials by shape, for keys this process never saw (a client's own key
 * echoed back, a key from another system). Minimum lengths keep prose such as
 * "Bearer token missing" or "sk-learn" intact.
 * - `sk-…` covers OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-…),
 *   including OpenAI's masked echo (sk-abc1****wxyz);
 * - Bearer and Basic credentials;
 * - `api-key=…`, `api_key: "…"`, `x-api-key: …`, `key=…`, `token=…` pairs, in
 *   query strings, headers or JSON;
 * - Azure keys: 32 hex digits, or the newer 84-character base62 keys.
 */
const SHAPES: readonly RegExp[] = [
  /\bsk-[A-Za-z0-9_*-]{8,}/g,
  /\b(Bearer|Basic)(\s+)[A-Za-z0-9._~+/*-]{8,}=*/gi,
  /\b((?:x-)?api[-_]?key|access[-_]?token|auth[-_]?token|secret|key|token|password)(["']?\s*[:=]\s*["']?)[^\s"'&,;}]{6,}/gi,
  // Not after "_" or "-": request ids such as req_<32 hex> stay readable.
  /(?<![A-Za-z0-9_-])[0-9a-fA-F]{32}(?![A-Za-z0-9_-])/g,
  /(?<![A-Za-z0-9_-])[A-Za-z0-9]{84}(?![A-Za-z0-9_-])/g,
];

/** Shorter known values are not redacted by value: "abc" would blank half the text. */
const MIN_KNOWN_LENGTH = 8;

/**
 * Redacts known secret values (exact, URL-encoded and base64 forms) and
 * anything shaped like a credential. One instance per process holds the keys
 * the proxy has read (see `rememberSecret`); tests make their own.
 */
export class Redactor {
  private readonly known = new Set<string>();
  /** Longest first, so a key containing another is replaced whole. */
  private forms: string[] = [];

  /** Adds a value to redact wherever it appears, in its plain, URL-encoded and base64 forms. */
  remember(value: string): void {
    if (value.length < MIN_KNOWN_LENGTH || this.known.has(value)) return;
    this.known.add(value);
    const bytes = Buffer.from(value, 'utf8');
    const next = new Set(this.forms);
    for (const form of [
      value,
      encodeURIComponent(value),
      encodeURIComponent(value).replace(/%20/g, '+'),
      bytes.toString('base64'),
      bytes.toString('base64').replace(/=+$/, ''),
      bytes.toString('base64url'),
      JSON.stringify(value).slice(1, -1),
    ])
      if (form.length >= MIN_KNOWN_LENGTH) next.add(form);
    this.forms = [...next].sort((a, b) => b.length - a.length);
  }

  /** `text` with every known value and credential-shaped run replaced by [REDACTED]. */
  text(text: string): string {
    let out = this.knownOnly(text);
    for (const shape of SHAPES) out = out.replace(shape, replaceShape);
    return out;
  }

  /** `text` with the known values replaced, shapes left alone. */
  knownOnly(text: string): string {
    let out = text;
    for (const form of this.forms) if (out.includes(form)) out = out.split(form).join(REDACTED);
    return out;
  }
}

function replaceShape(_match: string, ...groups: unknown[]): string {
  const [first, second] = groups;
  // Keyed forms keep their key name and separator: "api-key=[REDACTED]".
  return typeof first === 'string' && typeof second === 'string'
    ? `${first}${second}${REDACTED}`
    : REDACTED;
}

/** The process's redactor: every key the proxy reads is remembered here. */
const processRedactor = new Redactor();

/** Remembers a secret value of this process, so it is redacted everywhere from now on. */
export function rememberSecret(value: string): void {
  processRedactor.remember(value);
}

/**
 * A W3C trace or span id kept readable: 32 hex digits are also an Azure key's
 * shape, so only a value this process knows as a secret is redacted from it.
 * Anything else is redacted as usual.
 */
export function redactTraceId(text: string): string {
  return /^[0-9a-f]{16}$|^[0-9a-f]{32}$/.test(text)
    ? processRedactor.knownOnly(text)
    : processRedactor.text(text);
}

/** Redacts with the process's redactor: known keys and credential shapes. */
export function redactSecrets(text: string): string {
  return processRedactor.text(text);
}
