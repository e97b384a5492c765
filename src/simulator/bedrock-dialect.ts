// Bedrock runtime bodies: Converse / ConverseStream (any model) and
// InvokeModel / InvokeModelWithResponseStream for Claude (Anthropic Messages
// bodies; the stream's `chunk` frames carry base64 Anthropic events), with
// streams as binary AWS event-stream frames. A request that forces a tool
// (Converse toolChoice any/tool, Anthropic tool_choice any/tool) gets a call
// of that tool.
import { encodeEvent } from '../providers/shared/event-stream.js';
import { sendBuffered, sendStream, type StreamFormat } from './respond.js';
import { contentText, isRecord, messagesChars, plannedTokens, tokensForChars } from './text.js';
import type { OperationHandler, Problem, RequestContext } from './types.js';

const EVENT_STREAM: StreamFormat = {
  headers: { 'content-type': 'application/vnd.amazon.eventstream' },
  encoding: 'latin1',
};
const TOOL_INPUT = { query: 'simulated' };

/** A frame as the latin1 string sendStream writes byte for byte. */
const frame = (eventType: string, payload: unknown): string =>
  encodeEvent(eventType, payload).toString('latin1');

const validation = (message: string): Problem => ({
  status: 400,
  message,
  code: 'ValidationException',
});

/** What an answer says (a forced tool call or text pieces), why it stops, and its token counts. */
function planAnswer(ctx: RequestContext, maxTokens: unknown, tool: string | undefined) {
  const { body, behavior, state } = ctx;
  const planned = plannedTokens(behavior.outputTokens, maxTokens);
  const pieces = tool === undefined ? state.answer(body, planned.count) : [];
  return {
    pieces,
    outputTokens: tool === undefined ? pieces.length : 1,
    stopReason: tool !== undefined ? 'tool_use' : planned.truncated ? 'max_tokens' : 'end_turn',
    inputTokens: tokensForChars(messagesChars(body.messages) + contentText(body.system).length),
  };
}

function hasToolBlocks(messages: unknown[]): boolean {
  return messages.some(
    (m) =>
      isRecord(m) &&
      Array.isArray(m.content) &&
      m.content.some((b) => isRecord(b) && (b.toolUse !== undefined || b.toolResult !== undefined)),
  );
}

/** The tool a Converse request forces (toolChoice any: the first), if any. */
function forcedConverseTool(body: Record<string, unknown>): string | undefined {
  const config = body.toolConfig;
  if (!isRecord(config) || !Array.isArray(config.tools) || !isRecord(config.toolChoice))
    return undefined;
  const choice = config.toolChoice;
  if (isRecord(choice.tool) && typeof choice.tool.name === 'string') return choice.tool.name;
  const first: unknown = config.tools[0];
  if (isRecord(choice.any) && isRecord(first) && isRecord(first.toolSpec))
    return String(first.toolSpec.name);
  return undefined;
}

export const converse: OperationHandler = {
  validate({ body }) {
    if (!Array.isArray(body.messages) || body.messages.length === 0)
      return validation(
        "1 validation error detected: Value null at 'messages' failed to satisfy constraint: Member must not be null",
      );
    if (hasToolBlocks(body.messages) && body.toolConfig === undefined)
      return validation(
        'The toolConfig field must be defined when using toolUse and toolResult content blocks.',
      );
    const max = isRecord(body.inferenceConfig) ? body.inferenceConfig.maxTokens : undefined;
    if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1))
      return validation(
        "1 validation error detected: Value at 'inferenceConfig.maxTokens' failed to satisfy constraint: Member must have value greater than or equal to 1",
      );
    return undefined;
  },

  respond(ctx) {
    const { body, behavior, state } = ctx;
    const max = isRecord(body.inferenceConfig) ? body.inferenceConfig.maxTokens : undefined;
    const tool = forcedConverseTool(body);
    const { pieces, outputTokens, stopReason, inputTokens } = planAnswer(ctx, max, tool);
    const usage = { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens };
    const toolUseId = `tooluse_sim${state.nextId()}`;

    if (!ctx.route.stream) {
      const content =
        tool !== undefined
          ? [{ toolUse: { toolUseId, name: tool, input: TOOL_INPUT } }]
          : pieces.length > 0
            ? [{ text: pieces.join('') }]
            : [];
      sendBuffered(ctx.res, behavior, () =>
        JSON.stringify({
          output: { message: { role: 'assistant', content } },
          stopReason,
          usage,
          metrics: { latencyMs: behavior.latencyMs },
        }),
      );
      return;
    }
    const head =
      frame('messageStart', { role: 'assistant' }) +
      (tool !== undefined
        ? frame('contentBlockStart', {
            contentBlockIndex: 0,
            start: { toolUse: { toolUseId, name: tool } },
          })
        : '');
    const tokens =
      tool !== undefined
        ? [
            frame('contentBlockDelta', {
              contentBlockIndex: 0,
              delta: { toolUse: { input: JSON.stringify(TOOL_INPUT) } },
            }),
          ]
        : pieces.map((text) =>
            frame('contentBlockDelta', { contentBlockIndex: 0, delta: { text } }),
          );
    const tail =
      frame('contentBlockStop', { contentBlockIndex: 0 }) +
      frame('messageStop', { stopReason }) +
      frame('metadata', { usage, metrics: { latencyMs: behavior.ttftMs } });
    sendStream(ctx.res, behavior, { head, tokens, tail }, EVENT_STREAM);
  },
};

/** The tool an Anthropic body forces (tool_choice any: the first). */
function forcedAnthropicTool(body: Record<string, unknown>): string | undefined {
  const choice = body.tool_choice;
  if (!isRecord(choice) || !Array.isArray(body.tools)) return undefined;
  if (choice.type === 'tool' && typeof choice.name === 'string') return choice.name;
  const first: unknown = body.tools[0];
  if (choice.type === 'any' && isRecord(first)) return String(first.name);
  return undefined;
}

export const invoke: OperationHandler = {
  validate({ body }) {
    if (body.anthropic_version === undefined)
      return validation(
        'Malformed input request: #: required key [anthropic_version] not found, please reformat your input and try again.',
      );
    if (body.anthropic_version !== 'bedrock-2023-05-31')
      return validation(
        'Invalid API version: the only supported anthropic_version is bedrock-2023-05-31',
      );
    if (body.model !== undefined || body.stream !== undefined)
      return validation(
        `Malformed input request: #: extraneous key [${body.model !== undefined ? 'model' : 'stream'}] is not permitted, please reformat your input and try again.`,
      );
    if (!Array.isArray(body.messages))
      return validation(
        'Malformed input request: #: required key [messages] not found, please reformat your input and try again.',
      );
    const max = body.max_tokens;
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1)
      return validation(
        'Malformed input request: #: required key [max_tokens] not found, please reformat your input and try again.',
      );
    return undefined;
  },

  respond(ctx: RequestContext) {
    const { body, behavior, state } = ctx;
    const model = ctx.route.modelId ?? 'unknown';
    const tool = forcedAnthropicTool(body);
    const { pieces, outputTokens, stopReason, inputTokens } = planAnswer(
      ctx,
      body.max_tokens,
      tool,
    );
    const id = `msg_bdrk_sim${state.nextId()}`;
    const toolBlock = {
      type: 'tool_use',
      id: `toolu_sim${state.nextId()}`,
      name: tool,
      input: TOOL_INPUT,
    };

    if (!ctx.route.stream) {
      const content =
        tool !== undefined
          ? [toolBlock]
          : pieces.length > 0
            ? [{ type: 'text', text: pieces.join('') }]
            : [];
      sendBuffered(ctx.res, behavior, () =>
        JSON.stringify({
          id,
          type: 'message',
          role: 'assistant',
          model,
          content,
          stop_reason: stopReason,
          stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: outputTokens },
        }),
      );
      return;
    }
    const chunk = (event: Record<string, unknown>): string =>
      frame('chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64'), p: 'abcd' });
    const head =
      chunk({
        type: 'message_start',
        message: {
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: 1 },
        },
      }) +
      chunk({
        type: 'content_block_start',
        index: 0,
        content_block:
          tool !== undefined ? { ...toolBlock, input: {} } : { type: 'text', text: '' },
      });
    const tokens =
      tool !== undefined
        ? [
            chunk({
              type: 'content_block_delta',
              index: 0,
              delta: { type: 'input_json_delta', partial_json: JSON.stringify(TOOL_INPUT) },
            }),
          ]
        : pieces.map((text) =>
            chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }),
          );
    const tail =
      chunk({ type: 'content_block_stop', index: 0 }) +
      chunk({
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: outputTokens },
      }) +
      chunk({
        type: 'message_stop',
        'amazon-bedrock-invocationMetrics': {
          inputTokenCount: inputTokens,
          outputTokenCount: outputTokens,
          invocationLatency: behavior.latencyMs,
          firstByteLatency: behavior.ttftMs,
        },
      });
    sendStream(ctx.res, behavior, { head, tokens, tail }, EVENT_STREAM);
  },
};

/** CountTokens (the free call health probes use): the input's token count. */
export const countTokens: OperationHandler = {
  validate({ body }) {
    if (!isRecord(body.input))
      return validation(
        "1 validation error detected: Value null at 'input' failed to satisfy constraint: Member must not be null",
      );
    return undefined;
  },
  respond({ res, body, behavior }) {
    const input = body.input as Record<string, unknown>;
    const messages = isRecord(input.converse) ? input.converse.messages : [];
    sendBuffered(res, behavior, () =>
      JSON.stringify({ inputTokens: tokensForChars(messagesChars(messages)) }),
    );
  },
};
