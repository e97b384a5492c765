// Adapter for AWS Bedrock's Converse API (any Bedrock chat model): Chat
// Completions requests become Converse requests, signed with SigV4 or sent
// with a Bedrock API key; Converse answers and ConverseStream's binary event
// stream come back as OpenAI chat completions and chunks.
import { ChatChunks, nowSeconds, streamErrorEvent } from '../shared/chat-chunks.js';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { EventStreamDecoder, type EventStreamMessage } from '../shared/event-stream.js';
import {
  DONE_EVENT,
  isRecord,
  openaiErrorMessage,
  preview,
  usageToOpenAI,
} from '../shared/openai-shape.js';
import type {
  BufferedResult,
  BuildRequestArgs,
  BuildResult,
  CompletableStreamTranslator,
  ProviderAdapter,
  StreamTranslatorArgs,
  Usage,
} from '../types.js';
import { messagesBodyFor, modelCall, runtimeProbe } from './runtime.js';

// ---------------------------------------------------------------------------
// Request: Chat Completions -> Converse (through the Messages translation,
// whose blocks map one to one onto Converse's)

type Json = Record<string, unknown>;

const IMAGE_FORMATS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpeg',
  'image/jpg': 'jpeg',
  'image/gif': 'gif',
  'image/webp': 'webp',
};

class BadRequest extends Error {}

function converseBlock(block: Json, where: string): Json {
  switch (block.type) {
    case 'text':
      return { text: block.text };
    case 'image': {
      const source = isRecord(block.source) ? block.source : {};
      const format = IMAGE_FORMATS[String(source.media_type)];
      if (source.type !== 'base64' || format === undefined)
        throw new BadRequest(
          `${where}: the bedrock backend accepts images only as base64 data: URLs of PNG, JPEG, GIF or WebP`,
        );
      return { image: { format, source: { bytes: source.data } } };
    }
    case 'tool_use':
      return { toolUse: { toolUseId: block.id, name: block.name, input: block.input } };
    case 'tool_result': {
      const content =
        typeof block.content === 'string'
          ? [{ text: block.content }]
          : (block.content as Json[]).map((b) => ({ text: b.text }));
      return { toolResult: { toolUseId: block.tool_use_id, content } };
    }
    default:
      throw new BadRequest(`${where}: unsupported content for the bedrock backend`);
  }
}

function toolChoice(choice: unknown): Json | undefined {
  if (!isRecord(choice)) return undefined;
  if (choice.type === 'any') return { any: {} };
  if (choice.type === 'tool') return { tool: { name: choice.name } };
  if (choice.type === 'auto') return { auto: {} };
  return undefined; // 'none' has no Converse form: see converseBody
}

const hasToolBlocks = (messages: Json[]): boolean =>
  messages.some((m) => (m.content as Json[]).some((b) => 'toolUse' in b || 'toolResult' in b));

function converseBody(args: BuildRequestArgs, messages: Json): Json {
  const body: Json = {
    messages: (messages.messages as Json[]).map((m, i) => ({
      role: m.role,
      content: (m.content as Json[]).map((b, j) =>
        converseBlock(b, `messages[${i}].content[${j}]`),
      ),
    })),
  };
  if (typeof messages.system === 'string') body.system = [{ text: messages.system }];
  const inference: Json = {};
  // Only a limit someone set: models' own limits differ (the Messages default would not fit all).
  const requested = args.body.max_tokens ?? args.body.max_completion_tokens;
  const maxTokens = typeof requested === 'number' ? requested : args.backend.maxOutputTokens;
  if (maxTokens !== undefined) inference.maxTokens = maxTokens;
  if (messages.temperature !== undefined) inference.temperature = messages.temperature;
  if (messages.top_p !== undefined) inference.topP = messages.top_p;
  if (messages.stop_sequences !== undefined) inference.stopSequences = messages.stop_sequences;
  if (Object.keys(inference).length > 0) body.inferenceConfig = inference;
  // tool_choice none: no tools offered, unless the history has tool blocks, which
  // Bedrock refuses without a toolConfig (then the model may still call one).
  const noTools =
    isRecord(messages.tool_choice) &&
    messages.tool_choice.type === 'none' &&
    !hasToolBlocks(body.messages as Json[]);
  if (Array.isArray(messages.tools) && !noTools) {
    const toolConfig: Json = {
      tools: (messages.tools as Json[]).map((t) => ({
        toolSpec: {
          name: t.name,
          ...(t.description !== undefined ? { description: t.description } : {}),
          inputSchema: { json: t.input_schema },
        },
      })),
    };
    const choice = toolChoice(messages.tool_choice);
    if (choice) toolConfig.toolChoice = choice;
    body.toolConfig = toolConfig;
  }
  return body;
}

async function buildRequest(args: BuildRequestArgs): Promise<BuildResult> {
  if (args.endpoint !== 'chat') {
    return {
      ok: false,
      status: 400,
      message: `the bedrock backend ${args.backend.id} serves only chat completions`,
    };
  }
  const translated = messagesBodyFor(args, 'bedrock');
  if (!translated.ok) return translated;
  let body: Json;
  try {
    body = converseBody(args, translated.body);
  } catch (err) {
    if (err instanceof BadRequest) return { ok: false, status: 400, message: err.message };
    throw err;
  }
  const operation = args.stream ? 'converse-stream' : 'converse';
  return { ok: true, request: await modelCall({ ...args, operation, body }) };
}

// ---------------------------------------------------------------------------
// Response: Converse -> Chat Completions

const converseUsage = z.looseObject({
  inputTokens: z.number().nullish(),
  outputTokens: z.number().nullish(),
  cacheReadInputTokens: z.number().nullish(),
  cacheWriteInputTokens: z.number().nullish(),
});
type ConverseUsage = z.infer<typeof converseUsage>;

const converseResponse = z.looseObject({
  output: z.looseObject({
    message: z.looseObject({ content: z.array(z.looseObject({})) }),
  }),
  stopReason: z.string().nullish(),
  usage: converseUsage.nullish(),
});

const FINISH_REASONS: Record<string, string> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  max_tokens: 'length',
  model_context_window_exceeded: 'length',
  tool_use: 'tool_calls',
  guardrail_intervened: 'content_filter',
  content_filtered: 'content_filter',
};

export function converseFinishReason(stopReason: string | null | undefined): string {
  return (stopReason != null ? FINISH_REASONS[stopReason] : undefined) ?? 'stop';
}

/** Bedrock counts cache reads and writes apart from inputTokens; OpenAI's prompt count includes them. */
export function converseUsageToUsage(u: ConverseUsage): Usage {
  const cached = u.cacheReadInputTokens ?? 0;
  const written = u.cacheWriteInputTokens ?? 0;
  const promptTokens = (u.inputTokens ?? 0) + cached + written;
  const completionTokens = u.outputTokens ?? 0;
  const usage: Usage = {
    promptTokens,
    completionTokens,
    totalTokens: promptTokens + completionTokens,
  };
  if (u.cacheReadInputTokens != null) usage.cachedPromptTokens = cached;
  if (written > 0) usage.cacheWritePromptTokens = written;
  return usage;
}

const completionId = (): string => `chatcmpl-bedrock-${randomUUID()}`;

function parseResponse(args: { body: string; responseModel: string }): BufferedResult {
  let json: unknown;
  try {
    json = JSON.parse(args.body);
  } catch {
    throw new Error(`bedrock returned a body that is not JSON: ${preview(args.body)}`);
  }
  const parsed = converseResponse.safeParse(json);
  if (!parsed.success)
    throw new Error(`bedrock returned an unexpected Converse shape: ${preview(args.body)}`);
  let text: string | null = null;
  const toolCalls: Json[] = [];
  for (const block of parsed.data.output.message.content) {
    if (typeof block.text === 'string') text = (text ?? '') + block.text;
    const use = block.toolUse;
    if (isRecord(use) && typeof use.toolUseId === 'string' && typeof use.name === 'string') {
      toolCalls.push({
        id: use.toolUseId,
        type: 'function',
        function: { name: use.name, arguments: JSON.stringify(use.input ?? {}) },
      });
    }
  }
  const usage = converseUsageToUsage(parsed.data.usage ?? {});
  const message: Json = { role: 'assistant', content: text };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  const body = {
    id: completionId(),
    object: 'chat.completion',
    created: nowSeconds(),
    model: args.responseModel,
    choices: [{ index: 0, message, finish_reason: converseFinishReason(parsed.data.stopReason) }],
    usage: usageToOpenAI(usage),
  };
  return { body: JSON.stringify(body), usage };
}

// ---------------------------------------------------------------------------
// ConverseStream: event-stream frames -> chat.completion.chunk events

const blockStart = z.looseObject({
  contentBlockIndex: z.int(),
  start: z.looseObject({
    toolUse: z.looseObject({ toolUseId: z.string(), name: z.string() }).optional(),
  }),
});
const blockDelta = z.looseObject({
  contentBlockIndex: z.int(),
  delta: z.looseObject({
    text: z.string().optional(),
    toolUse: z.looseObject({ input: z.string() }).optional(),
  }),
});
const messageStop = z.looseObject({ stopReason: z.string().nullish() });
const metadata = z.looseObject({ usage: converseUsage.nullish() });

class MalformedEvent extends Error {}

function must<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new MalformedEvent(`bedrock sent a malformed ${what} event`);
  return parsed.data;
}

/** The message of an exception frame or an event's payload text. */
function exceptionMessage(payload: Buffer): string | undefined {
  try {
    const json: unknown = JSON.parse(payload.toString('utf8'));
    if (isRecord(json) && typeof json.message === 'string') return json.message;
    if (isRecord(json) && typeof json.Message === 'string') return json.Message;
  } catch {
    // not JSON: no message
  }
  return undefined;
}

/**
 * Decodes Bedrock's event-stream frames and hands each event to `onEvent`;
 * exception frames (and corrupt frames) end the stream with an OpenAI-style
 * error event. Shared by Converse and InvokeModel streams.
 */
export abstract class EventStreamTranslator implements CompletableStreamTranslator {
  private readonly decoder = new EventStreamDecoder();
  protected failed = false;

  abstract get complete(): boolean;
  protected abstract onEvent(eventType: string, payload: Buffer): string;
  protected abstract onError(message: string, type: string): string;
  abstract end(): { tail: string; usage: Usage | undefined };

  push(chunk: Buffer): string {
    if (this.failed) return ''; // nothing after an error counts
    let out = '';
    let messages: EventStreamMessage[];
    try {
      messages = this.decoder.push(chunk);
    } catch (err) {
      return this.fail(
        `bedrock sent a corrupt event stream: ${(err as Error).message}`,
        'invalid_upstream_stream',
      );
    }
    for (const message of messages) {
      // Subclasses ignore what follows the end themselves (Converse's metadata follows messageStop).
      if (this.failed) break;
      const kind = message.headers[':message-type'];
      if (kind === 'exception' || kind === 'error') {
        const type = String(
          message.headers[':exception-type'] ?? message.headers[':error-code'] ?? 'bedrock_error',
        );
        const text =
          exceptionMessage(message.payload) ??
          String(message.headers[':error-message'] ?? `bedrock reported ${type} mid-stream`);
        out += this.fail(text, type);
        break;
      }
      try {
        out += this.onEvent(String(message.headers[':event-type'] ?? ''), message.payload);
      } catch (err) {
        out += this.fail(
          err instanceof MalformedEvent
            ? err.message
            : `bedrock sent an unreadable event: ${(err as Error).message}`,
          'invalid_upstream_stream',
        );
        break;
      }
    }
    return out;
  }

  private fail(message: string, type: string): string {
    if (this.failed) return '';
    this.failed = true;
    return this.onError(message, type);
  }
}

class ConverseStreamTranslator extends EventStreamTranslator {
  private readonly out: ChatChunks;
  private usage: ConverseUsage | undefined;
  private readonly toolIndex = new Map<number, number>();
  private stopped = false;
  private usageSent = false;

  constructor(private readonly args: StreamTranslatorArgs) {
    super();
    this.out = new ChatChunks(args.responseModel, completionId());
  }

  get complete(): boolean {
    return this.stopped && !this.failed;
  }

  protected onEvent(eventType: string, payload: Buffer): string {
    if (this.usageSent || (this.stopped && eventType !== 'metadata')) return '';
    let data: unknown;
    try {
      data = JSON.parse(payload.toString('utf8'));
    } catch {
      throw new MalformedEvent(`bedrock sent a ${eventType} event that is not JSON`);
    }
    switch (eventType) {
      case 'messageStart':
        return this.out.delta({ role: 'assistant', content: '' });
      case 'contentBlockStart': {
        const { contentBlockIndex, start } = must(blockStart, data, eventType);
        if (!start.toolUse) return '';
        const index = this.toolIndex.size;
        this.toolIndex.set(contentBlockIndex, index);
        return this.out.delta({
          tool_calls: [
            {
              index,
              id: start.toolUse.toolUseId,
              type: 'function',
              function: { name: start.toolUse.name, arguments: '' },
            },
          ],
        });
      }
      case 'contentBlockDelta': {
        const { contentBlockIndex, delta } = must(blockDelta, data, eventType);
        if (delta.text !== undefined)
          return delta.text === '' ? '' : this.out.delta({ content: delta.text });
        if (delta.toolUse !== undefined) {
          const index = this.toolIndex.get(contentBlockIndex);
          if (index === undefined)
            throw new MalformedEvent(`bedrock sent a tool delta for an unstarted block`);
          if (delta.toolUse.input === '') return '';
          return this.out.delta({
            tool_calls: [{ index, function: { arguments: delta.toolUse.input } }],
          });
        }
        return ''; // reasoning content and citations have no Chat Completions form
      }
      case 'messageStop': {
        const { stopReason } = must(messageStop, data, eventType);
        this.stopped = true;
        return this.out.delta({}, converseFinishReason(stopReason));
      }
      case 'metadata': {
        const { usage } = must(metadata, data, eventType);
        if (usage) this.usage = usage;
        return this.usageChunk();
      }
      default:
        return ''; // contentBlockStop and event types added later
    }
  }

  private usageChunk(): string {
    if (this.usageSent) return '';
    this.usageSent = true;
    if (!this.args.clientWantsUsage || this.usage === undefined) return '';
    return this.out.event({ choices: [], usage: usageToOpenAI(converseUsageToUsage(this.usage)) });
  }

  protected onError(message: string, type: string): string {
    return streamErrorEvent(message, type);
  }

  end(): { tail: string; usage: Usage | undefined } {
    const tail = this.complete ? DONE_EVENT : '';
    return { tail, usage: this.usage ? converseUsageToUsage(this.usage) : undefined };
  }
}

// ---------------------------------------------------------------------------

/** Bedrock's errors are `{"message": "..."}` (sometimes `Message`), the type in x-amzn-errortype. */
export function bedrockErrorMessage(status: number, body: string): string {
  try {
    const json: unknown = JSON.parse(body);
    if (isRecord(json) && typeof json.Message === 'string' && typeof json.message !== 'string')
      return openaiErrorMessage(status, JSON.stringify({ message: json.Message }));
  } catch {
    // fall through: the generic reader names the status
  }
  return openaiErrorMessage(status, body);
}

export const bedrockAdapter: ProviderAdapter = {
  telemetryName: 'aws.bedrock',
  supports: (endpoint) => endpoint === 'chat',
  buildRequest,
  probeRequest: (args) =>
    runtimeProbe(args, {
      operation: 'converse',
      body: {
        messages: [{ role: 'user', content: [{ text: 'ping' }] }],
        inferenceConfig: { maxTokens: 1 },
      },
    }),
  parseResponse,
  createStreamTranslator: (args) => new ConverseStreamTranslator(args),
  errorMessage: bedrockErrorMessage,
};
