// Adapter for Anthropic's Messages API: translates Chat Completions requests
// into Messages requests and Messages answers (buffered or streamed) back.
import { z } from 'zod';
import {
  DONE_EVENT,
  isRecord,
  jsonHeaders,
  openaiErrorMessage,
  preview,
  usageToOpenAI,
} from '../shared/openai-shape.js';
import { chatRequestSchema, type ChatMessage, type ChatRequest } from '../shared/chat-request.js';
import { ChatChunks, nowSeconds, streamErrorEvent } from '../shared/chat-chunks.js';
import { SseParser, type SseEvent } from '../shared/sse.js';
import type {
  BufferedResult,
  BuildRequestArgs,
  BuildResult,
  CompletableStreamTranslator,
  ProbeArgs,
  ProbeRequest,
  SyncProviderAdapter,
  StreamTranslatorArgs,
  Usage,
} from '../types.js';

const DEFAULT_VERSION = '2023-06-01';
const DEFAULT_MAX_TOKENS = 4096;

// ---------------------------------------------------------------------------
// Request: Chat Completions -> Messages

const chatRequest = chatRequestSchema('anthropic');

type ImageSource =
  { type: 'base64'; media_type: string; data: string } | { type: 'url'; url: string };
type TextBlock = { type: 'text'; text: string };
type Block =
  | TextBlock
  | { type: 'image'; source: ImageSource }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> }
  | { type: 'tool_result'; tool_use_id: string; content: string | TextBlock[] };
interface AnthropicMessage {
  role: 'user' | 'assistant';
  content: Block[];
}

/** A client mistake, reported as a 400 naming the field. */
class BadRequest extends Error {}

function fieldPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (acc, key) =>
      typeof key === 'number'
        ? `${acc}[${key}]`
        : acc === ''
          ? String(key)
          : `${acc}.${String(key)}`,
    '',
  );
}

/**
 * The most telling issue: a union (string or parts, say) reports only its own
 * summary, so look into its options for the one that got furthest, e.g. to an
 * unsupported part type, and report that instead.
 */
function deepestIssue(issue: z.core.$ZodIssue): { path: PropertyKey[]; message: string } {
  // Paths inside a union's options are relative to the union.
  let deepest: { path: PropertyKey[]; message: string } | undefined;
  if (issue.code === 'invalid_union') {
    for (const inner of issue.errors.flat()) {
      const found = deepestIssue(inner);
      if (found.path.length > (deepest?.path.length ?? 0)) deepest = found;
    }
  }
  if (deepest === undefined) return { path: issue.path, message: issue.message };
  return { path: [...issue.path, ...deepest.path], message: deepest.message };
}

export function describeError(error: z.ZodError): string {
  const first = error.issues[0];
  if (first === undefined) return 'invalid request body';
  const { path, message } = deepestIssue(first);
  return `${fieldPath(path) || 'body'}: ${message}`;
}

function unsupported(request: ChatRequest): string | undefined {
  if (request.n != null && request.n > 1) {
    return 'the anthropic backend cannot return several choices (n > 1)';
  }
  if (request.logprobs === true || request.top_logprobs != null) {
    return 'the anthropic backend cannot return log probabilities (logprobs, top_logprobs)';
  }
  const format = request.response_format?.type;
  if (format !== undefined && format !== 'text') {
    return `the anthropic backend does not support response_format ${format}`;
  }
  return undefined;
}

const DATA_URL = /^data:([^;,]+)(?:;[^;,]*)*;base64,(.*)$/s;

function imageSource(url: string, path: string): ImageSource {
  const data = DATA_URL.exec(url);
  if (data) return { type: 'base64', media_type: data[1] ?? '', data: data[2] ?? '' };
  if (/^https?:\/\//i.test(url)) return { type: 'url', url };
  throw new BadRequest(
    `${path}: the anthropic backend accepts images as base64 data: URLs or http(s) URLs`,
  );
}

function textBlocks(content: string | { text: string }[]): TextBlock[] {
  const texts = typeof content === 'string' ? [content] : content.map((p) => p.text);
  // Anthropic rejects empty text blocks; an empty string carries nothing anyway.
  return texts.filter((t) => t !== '').map((text) => ({ type: 'text', text }));
}

function toolInput(args: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(args);
    return isRecord(parsed) ? parsed : {};
  } catch {
    return {};
  }
}

/** One chat message's Anthropic blocks; system text is collected separately. */
function blocksOf(message: ChatMessage, index: number): Block[] {
  switch (message.role) {
    case 'system':
    case 'developer':
      return [];
    case 'user':
      if (typeof message.content === 'string') return textBlocks(message.content);
      return message.content.flatMap((part, j): Block[] =>
        part.type === 'text'
          ? textBlocks(part.text)
          : [
              {
                type: 'image',
                source: imageSource(
                  part.image_url.url,
                  `messages[${index}].content[${j}].image_url.url`,
                ),
              },
            ],
      );
    case 'assistant': {
      const content = message.content ?? [];
      const texts =
        typeof content === 'string'
          ? textBlocks(content)
          : textBlocks(content.map((p) => ({ text: p.type === 'text' ? p.text : p.refusal })));
      const calls = (message.tool_calls ?? []).map((call): Block => ({
        type: 'tool_use',
        id: call.id,
        name: call.function.name,
        input: toolInput(call.function.arguments),
      }));
      return [...texts, ...calls];
    }
    case 'tool':
      return [
        {
          type: 'tool_result',
          tool_use_id: message.tool_call_id,
          content:
            typeof message.content === 'string' ? message.content : textBlocks(message.content),
        },
      ];
  }
}

/** Anthropic wants strictly alternating roles: consecutive same-role messages become one. */
function toAnthropicMessages(messages: ChatMessage[]): {
  system: string[];
  messages: AnthropicMessage[];
} {
  const system: string[] = [];
  const out: AnthropicMessage[] = [];
  messages.forEach((message, i) => {
    if (message.role === 'system' || message.role === 'developer') {
      const text = textBlocks(message.content)
        .map((b) => b.text)
        .join('\n\n');
      if (text !== '') system.push(text);
      return;
    }
    const content = blocksOf(message, i);
    if (content.length === 0) return;
    const role = message.role === 'assistant' ? 'assistant' : 'user';
    const last = out.at(-1);
    if (last?.role === role) last.content.push(...content);
    else out.push({ role, content });
  });
  return { system, messages: out };
}

function toolChoice(request: ChatRequest): Record<string, unknown> | undefined {
  const choice = request.tool_choice;
  let out: Record<string, unknown> | undefined;
  if (choice === 'auto') out = { type: 'auto' };
  else if (choice === 'required') out = { type: 'any' };
  else if (choice === 'none') return { type: 'none' };
  else if (choice != null) out = { type: 'tool', name: choice.function.name };
  if (request.parallel_tool_calls === false && request.tools != null && request.tools.length > 0) {
    out = { ...(out ?? { type: 'auto' }), disable_parallel_tool_use: true };
  }
  return out;
}

function anthropicBody(args: BuildRequestArgs, request: ChatRequest): Record<string, unknown> {
  const { system, messages } = toAnthropicMessages(request.messages);
  const body: Record<string, unknown> = {
    model: args.backend.model,
    max_tokens:
      request.max_tokens ??
      request.max_completion_tokens ??
      args.backend.maxOutputTokens ??
      DEFAULT_MAX_TOKENS,
  };
  if (system.length > 0) body.system = system.join('\n\n');
  body.messages = messages;
  if (request.temperature != null) body.temperature = request.temperature;
  if (request.top_p != null) body.top_p = request.top_p;
  if (request.stop != null) {
    body.stop_sequences = typeof request.stop === 'string' ? [request.stop] : request.stop;
  }
  if (request.tools != null && request.tools.length > 0) {
    body.tools = request.tools.map(({ function: fn }) => {
      const tool: Record<string, unknown> = { name: fn.name };
      if (fn.description != null) tool.description = fn.description;
      tool.input_schema = fn.parameters ?? { type: 'object' };
      return tool;
    });
  }
  const choice = toolChoice(request);
  if (choice !== undefined) body.tool_choice = choice;
  if (request.user != null) body.metadata = { user_id: request.user };
  if (args.stream) body.stream = true;
  return body;
}

/**
 * The Messages request body for a chat request (with `model`, and `stream`
 * when streaming), or the 400 to answer. Also used by Claude on Bedrock and
 * Vertex, which send this body to their own URLs.
 */
export function anthropicMessagesBody(
  args: BuildRequestArgs,
): { ok: true; body: Record<string, unknown> } | { ok: false; status: number; message: string } {
  if (args.endpoint !== 'chat') {
    return {
      ok: false,
      status: 400,
      message: `the anthropic backend ${args.backend.id} serves only chat completions`,
    };
  }
  const parsed = chatRequest.safeParse(args.body);
  if (!parsed.success) {
    return {
      ok: false,
      status: 400,
      message: `invalid request for the anthropic backend: ${describeError(parsed.error)}`,
    };
  }
  const problem = unsupported(parsed.data);
  if (problem !== undefined) return { ok: false, status: 400, message: problem };
  try {
    return { ok: true, body: anthropicBody(args, parsed.data) };
  } catch (err) {
    if (err instanceof BadRequest) return { ok: false, status: 400, message: err.message };
    throw err;
  }
}

function buildRequest(args: BuildRequestArgs): BuildResult {
  const built = anthropicMessagesBody(args);
  if (!built.ok) return built;
  const { body } = built;
  const { baseUrl } = args.backend;
  const headers = jsonHeaders(args.stream);
  headers['anthropic-version'] = args.backend.anthropic?.version ?? DEFAULT_VERSION;
  if (args.auth?.kind === 'api-key') headers['x-api-key'] = args.auth.key;
  return {
    ok: true,
    request: {
      url: `${apiRoot(baseUrl)}/messages`,
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    },
  };
}

// ---------------------------------------------------------------------------
// Response: Messages -> Chat Completions

const anthropicUsage = z.looseObject({
  input_tokens: z.number().nullish(),
  output_tokens: z.number().nullish(),
  cache_read_input_tokens: z.number().nullish(),
  cache_creation_input_tokens: z.number().nullish(),
});
type AnthropicUsage = z.infer<typeof anthropicUsage>;

const textBlock = z.looseObject({ type: z.literal('text'), text: z.string() });
const toolUseBlock = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string(),
  name: z.string(),
  input: z.unknown(),
});

const messageResponse = z.looseObject({
  id: z.string(),
  content: z.array(z.looseObject({ type: z.string() })),
  stop_reason: z.string().nullish(),
  usage: anthropicUsage,
});

const FINISH_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  pause_turn: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  refusal: 'content_filter',
};

function finishReason(stopReason: string | null | undefined): string {
  return (stopReason != null ? FINISH_REASONS[stopReason] : undefined) ?? 'stop';
}

/** Anthropic counts cached prompt tokens apart from input_tokens; OpenAI includes them. */
function toUsage(u: AnthropicUsage): Usage {
  const cached = u.cache_read_input_tokens ?? 0;
  const promptTokens = (u.input_tokens ?? 0) + cached + (u.cache_creation_input_tokens ?? 0);
  const completionTokens = u.output_tokens ?? 0;
  const usage: Usage = {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
  };
  if (u.cache_read_input_tokens != null) usage.cachedPromptTokens = u.cache_read_input_tokens;
  if (u.cache_creation_input_tokens) usage.cacheWritePromptTokens = u.cache_creation_input_tokens;
  return usage;
}

/** A buffered Messages answer as a chat.completion (also Claude on Bedrock and Vertex). */
export function parseMessagesResponse(args: {
  body: string;
  responseModel: string;
}): BufferedResult {
  let json: unknown;
  try {
    json = JSON.parse(args.body);
  } catch {
    throw new Error(`anthropic returned a body that is not JSON: ${preview(args.body)}`);
  }
  const parsed = messageResponse.safeParse(json);
  if (!parsed.success) {
    throw new Error(`anthropic returned an unexpected message shape: ${preview(args.body)}`);
  }
  const message = parsed.data;
  let text: string | null = null;
  const toolCalls: Record<string, unknown>[] = [];
  for (const block of message.content) {
    const asText = textBlock.safeParse(block);
    if (asText.success) text = (text ?? '') + asText.data.text;
    const asTool = toolUseBlock.safeParse(block);
    if (asTool.success) {
      const { id, name, input } = asTool.data;
      toolCalls.push({
        id,
        type: 'function',
        function: { name, arguments: JSON.stringify(input ?? {}) },
      });
    }
  }
  const usage = toUsage(message.usage);
  const reply: Record<string, unknown> = { role: 'assistant', content: text };
  if (toolCalls.length > 0) reply.tool_calls = toolCalls;
  const body = {
    id: message.id,
    object: 'chat.completion',
    created: nowSeconds(),
    model: args.responseModel,
    choices: [{ index: 0, message: reply, finish_reason: finishReason(message.stop_reason) }],
    usage: usageToOpenAI(usage),
  };
  return { body: JSON.stringify(body), usage };
}

// ---------------------------------------------------------------------------
// Streams: Messages events -> chat.completion.chunk events

const streamEvent = z.looseObject({ type: z.string() });
const messageStart = z.looseObject({
  message: z.looseObject({ id: z.string(), usage: anthropicUsage.nullish() }),
});
const blockStart = z.looseObject({
  index: z.int(),
  content_block: z.looseObject({
    type: z.string(),
    id: z.string().optional(),
    name: z.string().optional(),
    text: z.string().optional(),
  }),
});
const blockDelta = z.looseObject({
  index: z.int(),
  delta: z.looseObject({
    type: z.string(),
    text: z.string().optional(),
    partial_json: z.string().optional(),
  }),
});
const messageDelta = z.looseObject({
  delta: z.looseObject({ stop_reason: z.string().nullish() }),
  usage: anthropicUsage.nullish(),
});
const errorEvent = z.looseObject({
  error: z.looseObject({ type: z.string().optional(), message: z.string().optional() }).optional(),
});

class MalformedEvent extends Error {}

function must<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new MalformedEvent(`anthropic sent a malformed ${what} event`);
  return parsed.data;
}

/**
 * Messages stream events -> chat.completion.chunk events. `push` takes SSE
 * bytes; `pushEvent` takes one event's JSON text, for transports that frame
 * events themselves (Bedrock's event stream).
 */
export class AnthropicStreamTranslator implements CompletableStreamTranslator {
  private readonly parser = new SseParser();
  private readonly out: ChatChunks;
  private usage: AnthropicUsage | undefined;
  /** Anthropic content block index -> OpenAI tool call index. */
  private readonly toolIndex = new Map<number, number>();
  private done = false;
  private failed = false;

  constructor(private readonly args: StreamTranslatorArgs) {
    this.out = new ChatChunks(args.responseModel);
  }

  get complete(): boolean {
    return this.done && !this.failed;
  }

  push(chunk: Buffer): string {
    return this.translateAll(() => this.parser.push(chunk));
  }

  /** One event's JSON text (its `type` field names it). */
  pushEvent(data: string): string {
    return this.translateAll(() => [{ data, raw: data }]);
  }

  /** Ends the stream with an error event, as an upstream error would (e.g. a transport-level exception). */
  pushError(message: string, type: string): string {
    if (this.done || this.failed) return '';
    return this.fail(message, type);
  }

  end(): { tail: string; usage: Usage | undefined } {
    let tail = this.translateAll(() => this.parser.end());
    if (this.complete) tail += DONE_EVENT;
    return { tail, usage: this.usage ? toUsage(this.usage) : undefined };
  }

  private translateAll(next: () => SseEvent[]): string {
    let out = '';
    try {
      for (const event of next()) {
        if (this.done || this.failed) break; // nothing after message_stop or an error counts
        out += this.translate(event);
      }
    } catch (err) {
      if (this.failed) return out;
      const message = err instanceof Error ? err.message : String(err);
      out += this.fail(message, 'invalid_upstream_stream');
    }
    return out;
  }

  private translate(event: SseEvent): string {
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      throw new MalformedEvent(`anthropic sent an event that is not JSON: ${preview(event.data)}`);
    }
    const type = must(streamEvent, data, event.event ?? 'stream').type;
    switch (type) {
      case 'message_start': {
        const { message } = must(messageStart, data, type);
        this.out.id = message.id;
        this.usage = { ...message.usage };
        return this.out.delta({ role: 'assistant', content: '' });
      }
      case 'content_block_start': {
        const { index, content_block: block } = must(blockStart, data, type);
        if (block.type === 'text') return block.text ? this.out.delta({ content: block.text }) : '';
        if (block.type !== 'tool_use') return ''; // thinking and server tools have no Chat Completions form
        if (block.id === undefined || block.name === undefined)
          throw new MalformedEvent(`anthropic sent a malformed ${type} event`);
        const toolIndex = this.toolIndex.size;
        this.toolIndex.set(index, toolIndex);
        return this.out.delta({
          tool_calls: [
            {
              index: toolIndex,
              id: block.id,
              type: 'function',
              function: { name: block.name, arguments: '' },
            },
          ],
        });
      }
      case 'content_block_delta': {
        const { index, delta } = must(blockDelta, data, type);
        if (delta.type === 'text_delta') {
          if (delta.text === undefined)
            throw new MalformedEvent(`anthropic sent a malformed ${type} event`);
          return this.out.delta({ content: delta.text });
        }
        if (delta.type === 'input_json_delta') {
          const toolIndex = this.toolIndex.get(index);
          if (toolIndex === undefined || delta.partial_json === undefined) {
            throw new MalformedEvent(`anthropic sent a malformed ${type} event`);
          }
          if (delta.partial_json === '') return '';
          return this.out.delta({
            tool_calls: [{ index: toolIndex, function: { arguments: delta.partial_json } }],
          });
        }
        return ''; // thinking, signature and citation deltas
      }
      case 'message_delta': {
        const { delta, usage } = must(messageDelta, data, type);
        // message_delta usage is cumulative: later counts replace earlier ones.
        if (usage) this.usage = { ...this.usage, ...stripNullish(usage) };
        return this.out.delta({}, finishReason(delta.stop_reason));
      }
      case 'message_stop': {
        this.done = true;
        if (!this.args.clientWantsUsage || this.usage === undefined) return '';
        return this.out.event({ choices: [], usage: usageToOpenAI(toUsage(this.usage)) });
      }
      case 'error': {
        const { error } = must(errorEvent, data, type);
        return this.fail(
          error?.message ?? 'anthropic reported an error mid-stream',
          error?.type ?? 'api_error',
        );
      }
      default:
        return ''; // ping, content_block_stop, and event types added later
    }
  }

  private fail(message: string, type: string): string {
    this.failed = true;
    return streamErrorEvent(message, type);
  }
}

function stripNullish(usage: AnthropicUsage): AnthropicUsage {
  return Object.fromEntries(Object.entries(usage).filter(([, v]) => v != null));
}

// ---------------------------------------------------------------------------

/** Anthropic's API root: endpoints are written with or without the trailing /v1. */
function apiRoot(baseUrl: string): string {
  return baseUrl.endsWith('/v1') ? baseUrl : `${baseUrl}/v1`;
}

function probeRequest({ backend, kind, auth }: ProbeArgs): ProbeRequest {
  const headers: Record<string, string> = {
    'anthropic-version': backend.anthropic?.version ?? DEFAULT_VERSION,
  };
  if (auth?.kind === 'api-key') headers['x-api-key'] = auth.key;
  if (kind === 'models')
    return { url: `${apiRoot(backend.baseUrl)}/models`, method: 'GET', headers };
  return {
    url: `${apiRoot(backend.baseUrl)}/messages`,
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify({
      model: backend.model,
      max_tokens: 1,
      messages: [{ role: 'user', content: 'ping' }],
    }),
  };
}

export const anthropicAdapter: SyncProviderAdapter = {
  telemetryName: 'anthropic',
  probeRequest,
  supports: (endpoint) => endpoint === 'chat',
  buildRequest,
  parseResponse: parseMessagesResponse,
  createStreamTranslator: (args) => new AnthropicStreamTranslator(args),
  // Anthropic's {"type":"error","error":{"type","message"}} has OpenAI's error.message path.
  errorMessage: openaiErrorMessage,
};
