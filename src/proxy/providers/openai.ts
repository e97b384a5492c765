// Adapter for OpenAI and OpenAI-compatible servers: the wire format already is
// the client's, so requests get the backend's model and responses pass through.
import { SseParser, type SseEvent } from './sse.js';
import type {
  BufferedResult,
  BuildRequestArgs,
  Endpoint,
  OpenAIRequestBody,
  ProviderAdapter,
  StreamTranslator,
  StreamTranslatorArgs,
  Usage,
} from './types.js';

/** Stream translator plus whether the upstream finished its answer (else the stream broke). */
export interface CompletableStreamTranslator extends StreamTranslator {
  /** True once the upstream signalled the end of its answer and sent no error after. */
  readonly complete: boolean;
}

/** A ProviderAdapter whose stream translators report `complete`. */
export interface CompletableProviderAdapter extends ProviderAdapter {
  createStreamTranslator(args: StreamTranslatorArgs): CompletableStreamTranslator;
}

export const OPENAI_PATHS: Record<Endpoint, string> = {
  chat: 'chat/completions',
  completions: 'completions',
  embeddings: 'embeddings',
};

const MAX_ERROR_MESSAGE = 500;
export const DONE_EVENT = 'data: [DONE]\n\n';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function jsonHeaders(stream: boolean): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json',
  };
}

/**
 * The client body with the backend's model. Streams always ask for usage, which
 * the proxy needs for accounting; the translator hides it from clients that
 * did not ask themselves.
 */
export function openaiRequestBody(args: BuildRequestArgs): string {
  const body: OpenAIRequestBody = { ...args.body, model: args.backend.model };
  if (args.stream && args.endpoint !== 'embeddings') {
    const clientOptions = isRecord(args.body.stream_options) ? args.body.stream_options : {};
    body.stream_options = { ...clientOptions, include_usage: true };
  }
  return JSON.stringify(body);
}

const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;

/** Reads an OpenAI `usage` object; undefined unless it has at least the prompt count. */
export function usageFromOpenAI(value: unknown): Usage | undefined {
  if (!isRecord(value)) return undefined;
  const promptTokens = count(value.prompt_tokens);
  if (promptTokens === undefined) return undefined;
  // Embeddings report no completion tokens.
  const completionTokens = count(value.completion_tokens) ?? 0;
  const usage: Usage = {
    promptTokens,
    completionTokens,
    totalTokens: count(value.total_tokens) ?? promptTokens + completionTokens,
  };
  const details = value.prompt_tokens_details;
  const cached = isRecord(details) ? count(details.cached_tokens) : undefined;
  if (cached !== undefined) usage.cachedPromptTokens = cached;
  return usage;
}

/** The body is already the client's format: only usage is read from it. */
export function parseOpenAIResponse(args: { body: string }): BufferedResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(args.body);
  } catch {
    throw new Error(`upstream returned a body that is not JSON: ${preview(args.body)}`);
  }
  return { body: args.body, usage: isRecord(parsed) ? usageFromOpenAI(parsed.usage) : undefined };
}

/** Shortens upstream text for messages, dropping control characters. */
export function preview(text: string, max = 100): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** The final error text: the upstream's own message if any, else a generic one naming the status. */
export function errorText(status: number, message: string | undefined): string {
  return message !== undefined && message.trim() !== ''
    ? preview(message, MAX_ERROR_MESSAGE)
    : `upstream returned HTTP ${status}`;
}

/** Finds the message in OpenAI's error shape and the variants compatible servers use. */
export function openaiErrorMessage(status: number, body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return errorText(status, undefined);
  }
  if (!isRecord(parsed)) return errorText(status, undefined);
  const { error } = parsed;
  if (isRecord(error) && typeof error.message === 'string') return errorText(status, error.message);
  if (typeof error === 'string') return errorText(status, error);
  // FastAPI-based servers (vLLM and friends) use these.
  for (const key of ['message', 'detail'] as const) {
    const value = parsed[key];
    if (typeof value === 'string') return errorText(status, value);
  }
  return errorText(status, undefined);
}

// Cheap pre-checks so only the few chunks that matter are JSON-parsed: with
// include_usage every chunk carries `"usage":null`, so look for an object.
const USAGE_OBJECT = /"usage"\s*:\s*\{/;
const FINISH_REASON = /"finish_reason"\s*:\s*"/;
const ERROR_FIELD = /^\s*\{\s*"error"\s*:/;

/**
 * Forwards upstream events byte for byte, except that usage-only chunks are
 * dropped when the client did not ask for them (the proxy asked on its
 * behalf), and `[DONE]` is held back for `end()` so the caller can append
 * its own events before it.
 */
class OpenAIStreamTranslator implements CompletableStreamTranslator {
  private readonly parser = new SseParser();
  private usage: Usage | undefined;
  private sawDone = false;
  private sawFinish = false;
  private failed = false;

  constructor(private readonly clientWantsUsage: boolean) {}

  get complete(): boolean {
    return (this.sawDone || this.sawFinish) && !this.failed;
  }

  push(chunk: Buffer): string {
    return this.forward(this.parser.push(chunk));
  }

  end(): { tail: string; usage: Usage | undefined } {
    let tail = this.forward(this.parser.end());
    // A final event without its blank line (see SseParser.end) still needs one for the client.
    if (tail !== '' && !/(\r\n|\n|\r)(\r\n|\n|\r)$/.test(tail)) tail += '\n';
    // [DONE] promises a clean end: never after an in-band error.
    if (this.sawDone && !this.failed) tail += DONE_EVENT;
    return { tail, usage: this.usage };
  }

  private forward(events: SseEvent[]): string {
    let out = '';
    for (const event of events) {
      if (this.sawDone) continue; // nothing may follow [DONE]
      if (event.data.trim() === '[DONE]') {
        this.sawDone = true;
        continue;
      }
      if (this.keep(event.data)) out += event.raw;
    }
    return out;
  }

  private keep(data: string): boolean {
    if (ERROR_FIELD.test(data)) {
      // An in-band error ends the answer, whatever came before.
      this.failed = true;
      return true;
    }
    if (!USAGE_OBJECT.test(data) && !FINISH_REASON.test(data)) return true;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return true; // not ours to judge; the client sees what the upstream sent
    }
    if (!isRecord(parsed)) return true;
    const { choices } = parsed;
    if (Array.isArray(choices) && choices.some((c) => isRecord(c) && c.finish_reason != null)) {
      this.sawFinish = true;
    }
    const usage = usageFromOpenAI(parsed.usage);
    if (usage === undefined) return true;
    this.usage = usage;
    const usageOnly = Array.isArray(choices) && choices.length === 0;
    return !usageOnly || this.clientWantsUsage;
  }
}

export function createOpenAIStreamTranslator(
  args: StreamTranslatorArgs,
): CompletableStreamTranslator {
  return new OpenAIStreamTranslator(args.clientWantsUsage);
}

export const openaiAdapter: CompletableProviderAdapter = {
  supports: () => true,
  buildRequest(args) {
    const headers = jsonHeaders(args.stream);
    if (args.apiKey !== undefined) headers.authorization = `Bearer ${args.apiKey}`;
    return {
      ok: true,
      request: {
        url: `${args.backend.baseUrl}/${OPENAI_PATHS[args.endpoint]}`,
        method: 'POST',
        headers,
        body: openaiRequestBody(args),
      },
    };
  },
  parseResponse: parseOpenAIResponse,
  createStreamTranslator: createOpenAIStreamTranslator,
  errorMessage: openaiErrorMessage,
};
