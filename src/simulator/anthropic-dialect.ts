// Anthropic Messages API bodies: buffered `message` and the named-event SSE stream.
import { namedEvent, sendBuffered, sendStream } from './respond.js';
import { contentText, messagesChars, plannedTokens, tokensForChars } from './text.js';
import type { OperationHandler } from './types.js';

export const messages: OperationHandler = {
  validate(ctx) {
    if (!ctx.headers['anthropic-version']) {
      return { status: 400, message: 'anthropic-version: header is required' };
    }
    const { body } = ctx;
    if (typeof body.model !== 'string') return { status: 400, message: 'model: Field required' };
    if (!Array.isArray(body.messages)) return { status: 400, message: 'messages: Field required' };
    const max = body.max_tokens;
    if (max === undefined) return { status: 400, message: 'max_tokens: Field required' };
    if (typeof max !== 'number' || !Number.isInteger(max) || max < 1) {
      return { status: 400, message: 'max_tokens: Input should be an integer >= 1' };
    }
    return undefined;
  },

  respond(ctx) {
    const { body, behavior, state } = ctx;
    const model = body.model as string;
    const planned = plannedTokens(behavior.outputTokens, body.max_tokens);
    const stopReason = planned.truncated ? 'max_tokens' : 'end_turn';
    const pieces = state.answer(body, planned.count);
    const count = pieces.length;
    const inputTokens = tokensForChars(
      messagesChars(body.messages) + contentText(body.system).length,
    );
    const id = `msg_sim${state.nextId()}`;

    if (body.stream !== true) {
      sendBuffered(ctx.res, behavior, () =>
        JSON.stringify({
          id,
          type: 'message',
          role: 'assistant',
          model,
          content: count > 0 ? [{ type: 'text', text: pieces.join('') }] : [],
          stop_reason: stopReason,
          stop_sequence: null,
          usage: { input_tokens: inputTokens, output_tokens: count },
        }),
      );
      return;
    }

    const head =
      namedEvent('message_start', {
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
      namedEvent('content_block_start', {
        type: 'content_block_start',
        index: 0,
        content_block: { type: 'text', text: '' },
      }) +
      namedEvent('ping', { type: 'ping' });
    const tail =
      namedEvent('content_block_stop', { type: 'content_block_stop', index: 0 }) +
      namedEvent('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: stopReason, stop_sequence: null },
        usage: { output_tokens: count },
      }) +
      namedEvent('message_stop', { type: 'message_stop' });
    sendStream(ctx.res, behavior, {
      head,
      tokens: pieces.map((text) =>
        namedEvent('content_block_delta', {
          type: 'content_block_delta',
          index: 0,
          delta: { type: 'text_delta', text },
        }),
      ),
      tail,
    });
  },
};
