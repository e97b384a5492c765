// The client APIs the proxy speaks besides Chat Completions (OpenAI's
// Responses API, Anthropic's Messages API). An ingress request IS a chat
// request inside: its body is translated to Chat Completions before routing,
// so rules, strategies, fallback, accounting and learning are the chat ones,
// and the OpenAI-shaped answer the provider adapter produces is translated
// back into the client's dialect at the very end.
import type { ErrorShape } from '../errors.js';
import type { OpenAIRequestBody, Usage } from '../../providers/types.js';

export type IngressName = 'responses' | 'messages';

/** What a dialect needs of the request beyond its body, injected so tests are deterministic. */
export interface IngressContext {
  /** The proxy's request id: response and item ids are derived from it. */
  requestId: string;
  /** Epoch ms when the request arrived. */
  nowMs: number;
}

export interface IngressDialect {
  readonly name: IngressName;
  /** The path clients POST to, e.g. /v1/responses. */
  readonly path: string;
  readonly errors: ErrorShape;
  /**
   * The client's credential as a Bearer token when it sent it elsewhere
   * (Anthropic clients send x-api-key), so API-key identity works unchanged.
   */
  authorization?(headers: Readonly<Record<string, string | undefined>>): string | undefined;
  /** Translates the client's JSON body; throws ProxyError(400) naming the client's field. */
  translate(body: Record<string, unknown>, ctx: IngressContext): IngressRequest;
}

/** One client request in a dialect, with what its answer needs to echo. */
export interface IngressRequest {
  /** The Chat Completions body routed and forwarded. */
  readonly chat: OpenAIRequestBody;
  readonly stream: boolean;
  readonly errors: ErrorShape;
  /** A buffered chat.completion body (as the adapter produced it) as the client's answer. */
  answer(chatCompletion: string, usage: Usage | undefined): string;
  /** A translator from chat.completion.chunk events to the client's stream events. */
  openStream(): IngressStream;
}

/**
 * Translates the OpenAI-shaped SSE text a provider adapter's stream
 * translator produces (in pieces split anywhere) into the client's events.
 */
export interface IngressStream {
  push(openaiEvents: string): string;
  /** The adapter's last text and the usage the proxy counted: the client's closing events. */
  end(openaiTail: string, usage: Usage | undefined): string;
  /** The stream broke after the client got bytes: the client's error event ('' if one was sent). */
  broken(message: string): string;
}
