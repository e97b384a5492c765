// Reads the OpenAI-shaped answers provider adapters produce (a buffered
// chat.completion body, or chat.completion.chunk SSE text) into the few facts
// the ingress dialects write back: text, tool calls, why the answer ended.
import { isRecord } from '../../providers/shared/openai-shape.js';
import { SseParser } from '../../providers/shared/sse.js';

export interface ChatToolCall {
  id: string;
  name: string;
  /** JSON text, as the model wrote it. */
  arguments: string;
}

/** Why a chat answer ended, in Chat Completions' words (stop, length, tool_calls, content_filter). */
export type FinishReason = string;

export interface ChatAnswer {
  text: string | null;
  refusal: string | null;
  toolCalls: ChatToolCall[];
  finishReason: FinishReason;
  /** completion_tokens_details.reasoning_tokens, when the upstream said. */
  reasoningTokens?: number;
}

/** Reads the first choice of a chat.completion body; throws when it has none. */
export function readChatCompletion(body: string): ChatAnswer {
  const parsed: unknown = JSON.parse(body);
  const choice: unknown =
    isRecord(parsed) && Array.isArray(parsed.choices) ? parsed.choices[0] : undefined;
  if (!isRecord(choice) || !isRecord(choice.message))
    throw new Error('the chat completion has no choices[0].message');
  const { message } = choice;
  const toolCalls: ChatToolCall[] = [];
  if (Array.isArray(message.tool_calls)) {
    message.tool_calls.forEach((call: unknown, i) => {
      if (!isRecord(call) || !isRecord(call.function)) return;
      const fn = call.function;
      toolCalls.push({
        id: typeof call.id === 'string' ? call.id : `call_${i}`,
        name: typeof fn.name === 'string' ? fn.name : '',
        arguments: typeof fn.arguments === 'string' ? fn.arguments : '',
      });
    });
  }
  const answer: ChatAnswer = {
    text: typeof message.content === 'string' ? message.content : null,
    refusal: typeof message.refusal === 'string' ? message.refusal : null,
    toolCalls,
    finishReason: typeof choice.finish_reason === 'string' ? choice.finish_reason : 'stop',
  };
  const usage = isRecord(parsed) ? parsed.usage : undefined;
  const details = isRecord(usage) ? usage.completion_tokens_details : undefined;
  if (isRecord(details) && typeof details.reasoning_tokens === 'number')
    answer.reasoningTokens = details.reasoning_tokens;
  return answer;
}

/** One thing a chat stream said, in the order it said it. */
export type ChatStreamEvent =
  | { kind: 'text'; text: string }
  | { kind: 'refusal'; text: string }
  /** A piece of tool call `index`: its id and name come with its first piece. */
  | { kind: 'tool'; index: number; id?: string; name?: string; arguments: string }
  | { kind: 'finish'; reason: FinishReason }
  | { kind: 'error'; message: string };

/**
 * Incremental reader of chat.completion.chunk SSE text. Only choice 0 counts
 * (neither ingress API has `n`); usage chunks are skipped (the proxy's own
 * count is passed at the end) and so is `[DONE]`.
 */
export class ChatStreamReader {
  private readonly parser = new SseParser();

  push(text: string): ChatStreamEvent[] {
    return this.read(this.parser.push(text));
  }

  end(): ChatStreamEvent[] {
    return this.read(this.parser.end());
  }

  private read(events: { data: string }[]): ChatStreamEvent[] {
    const out: ChatStreamEvent[] = [];
    for (const { data } of events) {
      if (data.trim() === '[DONE]') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(data);
      } catch {
        continue; // not a chunk; nothing a client of another dialect could use
      }
      if (!isRecord(parsed)) continue;
      if (parsed.error !== undefined) {
        const { error } = parsed;
        out.push({
          kind: 'error',
          message:
            isRecord(error) && typeof error.message === 'string'
              ? error.message
              : 'the upstream reported an error mid-stream',
        });
        continue;
      }
      if (Array.isArray(parsed.choices)) this.choice(parsed.choices, out);
    }
    return out;
  }

  private choice(choices: unknown[], out: ChatStreamEvent[]): void {
    const choice = choices.find((c) => isRecord(c) && (c.index ?? 0) === 0);
    if (!isRecord(choice)) return;
    const { delta } = choice;
    if (isRecord(delta)) {
      if (typeof delta.content === 'string' && delta.content !== '')
        out.push({ kind: 'text', text: delta.content });
      if (typeof delta.refusal === 'string' && delta.refusal !== '')
        out.push({ kind: 'refusal', text: delta.refusal });
      if (Array.isArray(delta.tool_calls)) {
        delta.tool_calls.forEach((call: unknown, position) => {
          if (!isRecord(call)) return;
          const fn = isRecord(call.function) ? call.function : {};
          const piece: ChatStreamEvent = {
            kind: 'tool',
            index: typeof call.index === 'number' ? call.index : position,
            arguments: typeof fn.arguments === 'string' ? fn.arguments : '',
          };
          if (typeof call.id === 'string') piece.id = call.id;
          if (typeof fn.name === 'string') piece.name = fn.name;
          out.push(piece);
        });
      }
    }
    if (typeof choice.finish_reason === 'string')
      out.push({ kind: 'finish', reason: choice.finish_reason });
  }
}

/** Tool arguments as an object (Anthropic's `input`); text that is not a JSON object becomes {}. */
export function argumentsObject(args: string): Record<string, unknown> {
  if (args.trim() === '') return {};
  try {
    const parsed: unknown = JSON.parse(args);
    return isRecord(parsed) ? parsed : {};
  } catch {
    return {};
  }
}
