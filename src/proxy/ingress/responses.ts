// POST /v1/responses: OpenAI's Responses API over the chat machinery. The
// answer is a Response object (buffered) or its event stream (response.created
// ... response.completed), built from the chat answer the adapter produced.
import { OPENAI_ERROR_SHAPE } from '../errors.js';
import type { Usage } from '../../providers/types.js';
import { readChatCompletion, type ChatAnswer, type FinishReason } from './chat-answer.js';
import { DialectStream, type ToolPiece } from './dialect-stream.js';
import type { IngressContext, IngressDialect, IngressRequest } from './dialect.js';
import { chatFromResponses, type ResponsesBody } from './responses-request.js';

export const RESPONSES_PATH = '/v1/responses';

type Item = Record<string, unknown>;

/** What every Response object of one request repeats: its id, time, and the request's settings. */
class ResponseFrame {
  readonly id: string;
  private readonly createdAt: number;

  constructor(
    private readonly body: ResponsesBody,
    private readonly ctx: IngressContext,
  ) {
    this.id = `resp_${ctx.requestId}`;
    this.createdAt = Math.floor(ctx.nowMs / 1000);
  }

  messageId(): string {
    return `msg_${this.ctx.requestId}`;
  }

  functionCallId(n: number): string {
    return `fc_${this.ctx.requestId}_${n}`;
  }

  response(fields: {
    status: 'in_progress' | 'completed' | 'incomplete' | 'failed';
    output: Item[];
    finishReason?: FinishReason;
    usage?: Usage | undefined;
    reasoningTokens?: number | undefined;
    error?: { code: string; message: string };
  }): Item {
    const { body } = this;
    const reason =
      fields.finishReason === undefined ? undefined : incompleteReason(fields.finishReason);
    return {
      id: this.id,
      object: 'response',
      created_at: this.createdAt,
      status: fields.status,
      background: false,
      error: fields.error ?? null,
      incomplete_details: reason ? { reason } : null,
      instructions: body.instructions ?? null,
      max_output_tokens: body.max_output_tokens ?? null,
      metadata: body.metadata ?? {},
      model: body.model,
      output: fields.output,
      parallel_tool_calls: body.parallel_tool_calls ?? true,
      previous_response_id: null,
      reasoning: { effort: body.reasoning?.effort ?? null, summary: null },
      service_tier: body.service_tier ?? 'default',
      store: false,
      temperature: body.temperature ?? 1,
      text: { format: body.text?.format ?? { type: 'text' } },
      tool_choice: toolChoiceEcho(body.tool_choice),
      tools: body.tools ?? [],
      top_p: body.top_p ?? 1,
      truncation: 'disabled',
      usage: fields.usage ? responseUsage(fields.usage, fields.reasoningTokens) : null,
      user: body.user ?? null,
    };
  }
}

function toolChoiceEcho(choice: ResponsesBody['tool_choice']): unknown {
  if (choice == null) return 'auto';
  return typeof choice === 'string' ? choice : { type: 'function', name: choice.name };
}

function incompleteReason(finish: FinishReason): string | undefined {
  if (finish === 'length') return 'max_output_tokens';
  if (finish === 'content_filter') return 'content_filter';
  return undefined;
}

function statusOf(finish: FinishReason): 'completed' | 'incomplete' {
  return incompleteReason(finish) ? 'incomplete' : 'completed';
}

export function responseUsage(usage: Usage, reasoningTokens = 0): Item {
  return {
    input_tokens: usage.promptTokens,
    input_tokens_details: { cached_tokens: usage.cachedPromptTokens ?? 0 },
    output_tokens: usage.completionTokens,
    output_tokens_details: { reasoning_tokens: reasoningTokens },
    total_tokens: usage.totalTokens,
  };
}

const outputText = (text: string): Item => ({
  type: 'output_text',
  text,
  annotations: [],
  logprobs: [],
});

function messageItem(id: string, status: string, content: Item[]): Item {
  return { id, type: 'message', status, role: 'assistant', content };
}

function functionCallItem(
  id: string,
  status: string,
  call: { id: string; name: string; arguments: string },
): Item {
  return {
    id,
    type: 'function_call',
    status,
    call_id: call.id,
    name: call.name,
    arguments: call.arguments,
  };
}

/** The buffered answer: one Response object. */
export function responseFromChat(
  frame: ResponseFrame,
  answer: ChatAnswer,
  usage: Usage | undefined,
): Item {
  const status = statusOf(answer.finishReason);
  const output: Item[] = [];
  const content: Item[] = [];
  if (answer.text !== null && answer.text !== '') content.push(outputText(answer.text));
  if (answer.refusal !== null) content.push({ type: 'refusal', refusal: answer.refusal });
  if (content.length > 0) output.push(messageItem(frame.messageId(), status, content));
  answer.toolCalls.forEach((call, n) =>
    output.push(functionCallItem(frame.functionCallId(n), 'completed', call)),
  );
  return frame.response({
    status,
    output,
    finishReason: answer.finishReason,
    usage,
    reasoningTokens: answer.reasoningTokens,
  });
}

interface OpenItem {
  outputIndex: number;
  id: string;
  kind: 'message' | 'function_call';
  text: string;
  callId: string;
  name: string;
}

/**
 * The event stream. Items open as their first delta arrives and close, in
 * output order, when the answer ends; deltas name their item, so text and
 * several tool calls may interleave as the upstream sends them.
 */
export class ResponsesStream extends DialectStream {
  private sequence = 0;
  private readonly items: OpenItem[] = [];
  private message: OpenItem | undefined;
  private readonly tools = new Map<number, OpenItem>();

  constructor(private readonly frame: ResponseFrame) {
    super();
  }

  protected opening(): string {
    const response = this.frame.response({ status: 'in_progress', output: [] });
    return (
      this.event('response.created', { response }) +
      this.event('response.in_progress', { response })
    );
  }

  protected closing(usage: Usage | undefined): string {
    let out = '';
    const status = statusOf(this.finishReason);
    const output: Item[] = [];
    for (const item of this.items) {
      const done = this.closed(item, status);
      output.push(done);
      if (item.kind === 'message') {
        const part = outputText(item.text);
        out += this.event('response.output_text.done', {
          ...this.at(item),
          content_index: 0,
          text: item.text,
          logprobs: [],
        });
        out += this.event('response.content_part.done', {
          ...this.at(item),
          content_index: 0,
          part,
        });
      } else {
        out += this.event('response.function_call_arguments.done', {
          ...this.at(item),
          name: item.name,
          arguments: item.text,
        });
      }
      out += this.event('response.output_item.done', {
        output_index: item.outputIndex,
        item: done,
      });
    }
    const response = this.frame.response({
      status,
      output,
      finishReason: this.finishReason,
      usage,
    });
    out += this.event(status === 'completed' ? 'response.completed' : 'response.incomplete', {
      response,
    });
    return out;
  }

  protected failure(message: string): string {
    return this.event('response.failed', {
      response: this.frame.response({
        status: 'failed',
        output: this.items.map((item) => this.closed(item, 'incomplete')),
        error: { code: 'server_error', message },
      }),
    });
  }

  protected text(delta: string): string {
    let out = '';
    let item = this.message;
    if (!item) {
      item = this.open('message', this.frame.messageId());
      this.message = item;
      out += this.event('response.output_item.added', {
        output_index: item.outputIndex,
        item: messageItem(item.id, 'in_progress', []),
      });
      out += this.event('response.content_part.added', {
        ...this.at(item),
        content_index: 0,
        part: outputText(''),
      });
    }
    item.text += delta;
    return (
      out +
      this.event('response.output_text.delta', {
        ...this.at(item),
        content_index: 0,
        delta,
        logprobs: [],
      })
    );
  }

  protected tool(piece: ToolPiece): string {
    let out = '';
    let item = this.tools.get(piece.index);
    if (!item) {
      item = this.open('function_call', this.frame.functionCallId(this.tools.size));
      item.callId = piece.id ?? `call_${item.id}`;
      item.name = piece.name ?? '';
      this.tools.set(piece.index, item);
      out += this.event('response.output_item.added', {
        output_index: item.outputIndex,
        item: functionCallItem(item.id, 'in_progress', {
          id: item.callId,
          name: item.name,
          arguments: '',
        }),
      });
    }
    if (piece.arguments === '') return out;
    item.text += piece.arguments;
    return (
      out +
      this.event('response.function_call_arguments.delta', {
        ...this.at(item),
        delta: piece.arguments,
      })
    );
  }

  private open(kind: OpenItem['kind'], id: string): OpenItem {
    const item: OpenItem = {
      outputIndex: this.items.length,
      id,
      kind,
      text: '',
      callId: '',
      name: '',
    };
    this.items.push(item);
    return item;
  }

  private closed(item: OpenItem, status: string): Item {
    return item.kind === 'message'
      ? messageItem(item.id, status, [outputText(item.text)])
      : functionCallItem(item.id, 'completed', {
          id: item.callId,
          name: item.name,
          arguments: item.text,
        });
  }

  private at(item: OpenItem): Item {
    return { item_id: item.id, output_index: item.outputIndex };
  }

  private event(type: string, fields: Item): string {
    const data = { type, sequence_number: this.sequence++, ...fields };
    return `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
  }
}

export const responsesDialect: IngressDialect = {
  name: 'responses',
  path: RESPONSES_PATH,
  errors: OPENAI_ERROR_SHAPE,
  translate(json, ctx): IngressRequest {
    const { body, chat } = chatFromResponses(json);
    const frame = new ResponseFrame(body, ctx);
    return {
      chat,
      stream: body.stream === true,
      errors: OPENAI_ERROR_SHAPE,
      answer: (chatCompletion, usage) =>
        JSON.stringify(responseFromChat(frame, readChatCompletion(chatCompletion), usage)),
      openStream: () => new ResponsesStream(frame),
    };
  },
};

export { ResponseFrame };
