// Adapter for OpenAI and OpenAI-compatible servers: the wire format already is
// the client's, so requests get the backend's model and responses pass through.
import { SseParser, type SseEvent } from '../shared/sse.js';
import {
  DONE_EVENT,
  isRecord,
  jsonHeaders,
  openaiErrorMessage,
  preview,
  usageFromOpenAI,
} from '../shared/openai-shape.js';
import type {
  BufferedResult,
  BuildRequestArgs,
  CompletableStreamTranslator,
  Endpoint,
  OpenAIRequestBody,
  ProbeArgs,
  ProbeRequest,
  SyncProviderAdapter,
  StreamTranslatorArgs,
  Usage,
  UpstreamAuth,
} from '../types.js';

export const OPENAI_PATHS: Record<Endpoint, string> = {
  chat: 'chat/completions',
  completions: 'completions',
  embeddings: 'embeddings',
};

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

/** An API key or an OAuth token both travel as a Bearer token in OpenAI's dialect. */
export function bearerHeader(auth: UpstreamAuth | undefined): string | undefined {
  if (auth?.kind === 'api-key') return `Bearer ${auth.key}`;
  if (auth?.kind === 'bearer') return `Bearer ${auth.token}`;
  return undefined;
}

/** A 1-token chat completion: what the completion probe of every OpenAI-shaped API sends. */
export function pingBody(model: string): string {
  return JSON.stringify({ model, max_tokens: 1, messages: [{ role: 'user', content: 'ping' }] });
}

function probeRequest({ backend, kind, auth }: ProbeArgs): ProbeRequest {
  const headers: Record<string, string> = {};
  const authorization = bearerHeader(auth);
  if (authorization !== undefined) headers.authorization = authorization;
  if (kind === 'models') return { url: `${backend.baseUrl}/models`, method: 'GET', headers };
  headers['content-type'] = 'application/json';
  return {
    url: `${backend.baseUrl}/chat/completions`,
    method: 'POST',
    headers,
    body: pingBody(backend.model),
  };
}

export const openaiAdapter: SyncProviderAdapter = {
  // Also for openai-compatible servers (vLLM, TGI, Ollama, ...): the
  // conventions define gen_ai.provider.name as the telemetry *flavour*, set on
  // best knowledge, that "may differ from the actual model provider";
  // gen_ai.request.model, server.address and modelroute.backend identify the
  // real system. There is no generic "self-hosted" value.
  telemetryName: 'openai',
  supports: () => true,
  probeRequest,
  buildRequest(args) {
    const headers = jsonHeaders(args.stream);
    const authorization = bearerHeader(args.auth);
    if (authorization !== undefined) headers.authorization = authorization;
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
