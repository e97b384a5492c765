// The contract every provider adapter fulfils: turn an OpenAI-shaped client
// request into the provider's HTTP request, and the provider's answer
// (buffered or streamed) back into OpenAI's shape, reporting token usage.
import type { CompiledBackend } from '../routing/table.js';

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
  /** The credential for this call, resolved by the proxy (auth/upstream-auth.ts); undefined: none. */
  auth: UpstreamAuth | undefined;
}

/**
 * A credential, resolved and ready to use. Carries secrets: never log it.
 * - `api-key`: a static key from the backend's Secret; where it goes (a
 *   header name, Bearer) is the adapter's business.
 * - `bearer`: an OAuth 2 access token (Entra ID, Google), sent as
 *   `authorization: Bearer <token>`; the token source refreshes it before expiry.
 * - `aws`: AWS credentials; the adapter signs the finished request with SigV4.
 */
export type UpstreamAuth =
  | { kind: 'api-key'; key: string }
  | { kind: 'bearer'; token: string }
  | { kind: 'aws'; credentials: AwsCredentials; region: string };

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
  /** When temporary credentials stop working (ms since the epoch); absent: long-lived. */
  expiresAtMs?: number | undefined;
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

/** The health probe an adapter asks for; the prober sends it on the backend's own origin. */
export interface ProbeRequest {
  /** Full URL; the prober refuses one that leaves the backend's origin. */
  url: string;
  method: 'GET' | 'POST';
  /** Header names in lower case; credentials included when `auth` was given. */
  headers: Record<string, string>;
  body?: string | undefined;
}

export interface ProbeArgs {
  backend: CompiledBackend;
  /** models: the cheapest authenticated read the API has; completion: a 1-token answer. */
  kind: 'models' | 'completion';
  /** The credential, when the prober has one (proxies' local mode does; the controller never reads keys). */
  auth: UpstreamAuth | undefined;
}

export interface ProviderAdapter {
  /**
   * The OpenTelemetry `gen_ai.provider.name` of this provider (semantic
   * conventions' well-known values where one exists: openai, azure.ai.openai,
   * anthropic, aws.bedrock, gcp.vertex_ai).
   */
  readonly telemetryName: string;
  /** Which endpoints this provider can serve (e.g. anthropic has no embeddings). */
  supports(endpoint: Endpoint): boolean;
  /** Synchronous except where signing is (SigV4): callers await only a Promise. */
  buildRequest(args: BuildRequestArgs): BuildResult | Promise<BuildResult>;
  /** The health probe of this provider, or an error message when the backend's settings cannot make one. */
  probeRequest(args: ProbeArgs): ProbeRequest | Promise<ProbeRequest>;
  /** Translates a successful (2xx) buffered upstream body. Throws on an unparseable body. */
  parseResponse(args: { endpoint: Endpoint; body: string; responseModel: string }): BufferedResult;
  createStreamTranslator(args: StreamTranslatorArgs): CompletableStreamTranslator;
  /** Extracts a human-readable message from an upstream error body (never echoing credentials). */
  errorMessage(status: number, body: string): string;
}

/** Stream translator plus whether the upstream finished its answer (else the stream broke). */
export interface CompletableStreamTranslator extends StreamTranslator {
  /** True once the upstream signalled the end of its answer and sent no error after. */
  readonly complete: boolean;
}

/** An adapter that builds requests and probes without waiting (no signing): most of them. */
export interface SyncProviderAdapter extends ProviderAdapter {
  buildRequest(args: BuildRequestArgs): BuildResult;
  probeRequest(args: ProbeArgs): ProbeRequest;
}
