// The contract every provider adapter fulfils: turn an OpenAI-shaped client
// request into the provider's HTTP request, and the provider's answer
// (buffered or streamed) back into OpenAI's shape, reporting token usage.
import type { CompiledBackend } from '../../routing/table.js';

/** The OpenAI-compatible endpoints the proxy serves. */
export type Endpoint = 'chat' | 'completions' | 'embeddings';

/** A parsed client request body (already checked to be a JSON object). */
export type OpenAIRequestBody = Record<string, unknown>;

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
  /** Prompt tokens served from the provider's cache, when it says. */
  cachedPromptTokens?: number;
  /** Prompt tokens written to the provider's cache (Anthropic's cache_creation_input_tokens). */
  cacheWritePromptTokens?: number;
}

export interface UpstreamRequest {
  /** Full URL, including any query string (e.g. Azure's api-version). */
  url: string;
  method: 'POST';
  /** Header names in lower case. Carries credentials: never log it. */
  headers: Record<string, string>;
  body: string;
}

export interface BuildRequestArgs {
  backend: CompiledBackend;
  endpoint: Endpoint;
  body: OpenAIRequestBody;
  stream: boolean;
  /** The API key resolved from the backend's credentials reference, if any. */
  apiKey: string | undefined;
}

export type BuildResult =
  { ok: true; request: UpstreamRequest } | { ok: false; status: number; message: string };

export interface BufferedResult {
  /** The response body to send to the client, in OpenAI's shape. */
  body: string;
  usage: Usage | undefined;
}

/**
 * Incremental translation of a streaming response. `push` takes raw upstream
 * bytes as they arrive and returns bytes to write to the client (complete
 * SSE events in OpenAI's format, `data: {...}\n\n`); `end` flushes and
 * returns the final bytes (ending with `data: [DONE]\n\n`) and the usage seen.
 */
export interface StreamTranslator {
  push(chunk: Buffer): string;
  end(): { tail: string; usage: Usage | undefined };
}

export interface StreamTranslatorArgs {
  endpoint: Endpoint;
  /** Whether the client itself asked for `stream_options.include_usage`; if not, usage-only chunks are not forwarded. */
  clientWantsUsage: boolean;
  /** Model name to report to the client in translated responses. */
  responseModel: string;
}

export interface ProviderAdapter {
  /** Which endpoints this provider can serve (e.g. anthropic has no embeddings). */
  supports(endpoint: Endpoint): boolean;
  buildRequest(args: BuildRequestArgs): BuildResult;
  /** Translates a successful (2xx) buffered upstream body. Throws on an unparseable body. */
  parseResponse(args: { endpoint: Endpoint; body: string; responseModel: string }): BufferedResult;
  createStreamTranslator(args: StreamTranslatorArgs): StreamTranslator;
  /** Extracts a human-readable message from an upstream error body (never echoing credentials). */
  errorMessage(status: number, body: string): string;
}
