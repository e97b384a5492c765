// POST /v1/messages: Anthropic's Messages API over the chat machinery. The
// answer is a Message (buffered) or its named-event stream (message_start ...
// message_stop), built from the chat answer the adapter produced.
import type { Usage } from '../../providers/types.js';
import {
  argumentsObject,
  readChatCompletion,
  type ChatAnswer,
  type FinishReason,
} from './chat-answer.js';
import { DialectStream, type ToolPiece } from './dialect-stream.js';
import type { IngressContext, IngressDialect, IngressRequest } from './dialect.js';
import { anthropicErrorBody, anthropicErrorShape } from './error-shapes.js';
import { chatFromMessages, type MessagesBody } from './messages-request.js';

export const MESSAGES_PATH = '/v1/messages';

type Json = Record<string, unknown>;

const STOP_REASONS: Record<string, string> = {
  stop: 'end_turn',
  length: 'max_tokens',
  tool_calls: 'tool_use',
  function_call: 'tool_use',
  content_filter: 'refusal',
};

export function stopReason(finish: FinishReason): string {
  return STOP_REASONS[finish] ?? 'end_turn';
}

/** Anthropic counts cached prompt tokens apart from input_tokens; the proxy's count includes them. */
export function messagesUsage(usage: Usage | undefined): Json {
  if (!usage) return { input_tokens: 0, output_tokens: 0 };
  const cacheRead = usage.cachedPromptTokens ?? 0;
  const cacheWrite = usage.cacheWritePromptTokens ?? 0;
  return {
    input_tokens: Math.max(0, usage.promptTokens - cacheRead - cacheWrite),
    cache_creation_input_tokens: cacheWrite,
    cache_read_input_tokens: cacheRead,
    output_tokens: usage.completionTokens,
  };
}

interface MessageFrame {
  id: string;
  model: string;
}

function frameOf(body: MessagesBody, ctx: IngressContext): MessageFrame {
  return { id: `msg_${ctx.requestId}`, model: body.model };
}

/** The buffered answer: one Message. */
export function messageFromChat(
  frame: MessageFrame,
  answer: ChatAnswer,
  usage: Usage | undefined,
): Json {
  const content: Json[] = [];
  const text = (answer.text ?? '') + (answer.refusal ?? '');
  if (text !== '') content.push({ type: 'text', text });
  for (const call of answer.toolCalls)
    content.push({
      type: 'tool_use',
      id: call.id,
      name: call.name,
      input: argumentsObject(call.arguments),
    });
  return {
    id: frame.id,
    type: 'message',
    role: 'assistant',
    model: frame.model,
    content,
    stop_reason: stopReason(answer.finishReason),
    stop_sequence: null,
    usage: messagesUsage(usage),
  };
}

/**
 * The event stream. Anthropic's content blocks come one at a time (a delta
 * belongs to the last block opened), so a block closes when the next opens;
 * a tool call that comes back after another began cannot be expressed and
 * ends the stream with an error event rather than a wrong answer.
 */
export class MessagesStream extends DialectStream {
  private blocks = 0;
  /** The open block: 'text', or the chat tool call index it carries. */
  private open: 'text' | number | undefined;
  private readonly seenTools = new Set<number>();

  constructor(private readonly frame: MessageFrame) {
    super();
  }

  protected opening(): string {
    return event('message_start', {
      type: 'message_start',
      message: {
        id: this.frame.id,
        type: 'message',
        role: 'assistant',
        model: this.frame.model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        // Known only at the end (message_delta carries the whole count).
        usage: { input_tokens: 0, output_tokens: 0 },
      },
    });
  }

  protected closing(usage: Usage | undefined): string {
    return (
      this.close() +
      event('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: stopReason(this.finishReason), stop_sequence: null },
        usage: messagesUsage(usage),
      }) +
      event('message_stop', { type: 'message_stop' })
    );
  }

  protected failure(message: string): string {
    return event('error', anthropicErrorBody(500, message));
  }

  protected text(delta: string): string {
    let out = '';
    if (this.open !== 'text') {
      out += this.close();
      out += this.begin('text', { type: 'text', text: '' });
    }
    return (
      out +
      event('content_block_delta', {
        type: 'content_block_delta',
        index: this.blocks - 1,
        delta: { type: 'text_delta', text: delta },
      })
    );
  }

  protected tool(piece: ToolPiece): string {
    let out = '';
    if (this.open !== piece.index) {
      if (this.seenTools.has(piece.index))
        return this.broken(
          'the upstream interleaved tool calls, which the Messages API cannot express',
        );
      this.seenTools.add(piece.index);
      out += this.close();
      out += this.begin(piece.index, {
        type: 'tool_use',
        id: piece.id ?? `toolu_${this.frame.id}_${piece.index}`,
        name: piece.name ?? '',
        input: {},
      });
    }
    if (piece.arguments === '') return out;
    return (
      out +
      event('content_block_delta', {
        type: 'content_block_delta',
        index: this.blocks - 1,
        delta: { type: 'input_json_delta', partial_json: piece.arguments },
      })
    );
  }

  private begin(open: 'text' | number, block: Json): string {
    this.open = open;
    const index = this.blocks++;
    return event('content_block_start', {
      type: 'content_block_start',
      index,
      content_block: block,
    });
  }

  private close(): string {
    if (this.open === undefined) return '';
    this.open = undefined;
    return event('content_block_stop', { type: 'content_block_stop', index: this.blocks - 1 });
  }
}

/** Anthropic's SSE: every event is named, and clients skip unnamed ones. */
function event(type: string, data: Json): string {
  return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export const messagesDialect: IngressDialect = {
  name: 'messages',
  path: MESSAGES_PATH,
  errors: anthropicErrorShape,
  authorization(headers) {
    const key = headers['x-api-key'];
    return headers.authorization === undefined && key !== undefined && key !== ''
      ? `Bearer ${key}`
      : undefined;
  },
  translate(json, ctx): IngressRequest {
    const { body, chat } = chatFromMessages(json);
    const frame = frameOf(body, ctx);
    return {
      chat,
      stream: body.stream === true,
      errors: anthropicErrorShape,
      answer: (chatCompletion, usage) =>
        JSON.stringify(messageFromChat(frame, readChatCompletion(chatCompletion), usage)),
      openStream: () => new MessagesStream(frame),
    };
  },
};
