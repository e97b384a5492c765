// Vertex AI model endpoints: Gemini's generateContent, streamGenerateContent
// (SSE) and countTokens, and Claude's rawPredict / streamRawPredict (the
// Messages API with anthropic_version in the body, the model in the URL).
import { messages } from './anthropic-dialect.js';
import { dataEvent, namedEvent, sendBuffered, sendJson, sendStream } from './respond.js';
import { contentText, isRecord, plannedTokens, tokensForChars } from './text.js';
import type { OperationHandler, Problem, RequestContext } from './types.js';

const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

const invalid = (message: string): Problem => ({ status: 400, message });

/** Text of Gemini `contents` (and systemInstruction), for token counts. */
function partsText(content: unknown): string {
  if (!isRecord(content) || !Array.isArray(content.parts)) return '';
  return content.parts
    .map((p) => (isRecord(p) && typeof p.text === 'string' ? p.text : ''))
    .join('');
}

function lastUserText(contents: unknown[]): string {
  for (let i = contents.length - 1; i >= 0; i--) {
    const c = contents[i];
    if (isRecord(c) && c.role === 'user') return partsText(c);
  }
  return '';
}

function checkContents(body: Record<string, unknown>): Problem | undefined {
  const { contents } = body;
  if (!Array.isArray(contents) || contents.length === 0)
    return invalid('* GenerateContentRequest.contents: contents is not specified');
  for (const [i, c] of contents.entries()) {
    if (!isRecord(c) || !Array.isArray(c.parts) || c.parts.length === 0)
      return invalid(
        `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`,
      );
    if (c.role !== undefined && c.role !== 'user' && c.role !== 'model')
      return invalid(`Please use a valid role: user, model.`);
  }
  return undefined;
}

/** The function Gemini is made to call: toolConfig mode ANY forces one. */
function forcedFunction(body: Record<string, unknown>): string | undefined {
  const config = isRecord(body.toolConfig) ? body.toolConfig.functionCallingConfig : undefined;
  if (!isRecord(config) || config.mode !== 'ANY') return undefined;
  const allowed = Array.isArray(config.allowedFunctionNames) ? config.allowedFunctionNames : [];
  if (typeof allowed[0] === 'string') return allowed[0];
  const tools = Array.isArray(body.tools) ? body.tools : [];
  for (const tool of tools) {
    const declarations = isRecord(tool) ? tool.functionDeclarations : undefined;
    const first: unknown = Array.isArray(declarations) ? declarations[0] : undefined;
    if (isRecord(first) && typeof first.name === 'string') return first.name;
  }
  return undefined;
}

export const generateContent: OperationHandler = {
  validate(ctx) {
    const problem = checkContents(ctx.body);
    if (problem) return problem;
    const config = ctx.body.generationConfig;
    const max = isRecord(config) ? config.maxOutputTokens : undefined;
    if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1))
      return invalid('Unable to submit request because maxOutputTokens must be an integer >= 1.');
    return undefined;
  },

  respond(ctx) {
    const { body, behavior, state, route } = ctx;
    const contents = body.contents as unknown[];
    const config = isRecord(body.generationConfig) ? body.generationConfig : {};
    const planned = plannedTokens(behavior.outputTokens, config.maxOutputTokens);
    const promptTokenCount = tokensForChars(
      contents.map(partsText).join('').length + partsText(body.systemInstruction).length,
    );
    const responseId = `vtx${state.nextId()}`;
    const modelVersion = route.modelId ?? '';
    const usage = (count: number) => ({
      promptTokenCount,
      candidatesTokenCount: count,
      totalTokenCount: promptTokenCount + count,
    });
    const call = forcedFunction(body);
    if (call !== undefined) {
      const answer = {
        candidates: [
          {
            content: { role: 'model', parts: [{ functionCall: { name: call, args: {} } }] },
            finishReason: 'STOP',
            index: 0,
          },
        ],
        usageMetadata: usage(1),
        modelVersion,
        responseId,
      };
      if (route.stream)
        sendStream(ctx.res, behavior, { head: '', tokens: [sseEvent(answer)], tail: '' });
      else sendBuffered(ctx.res, behavior, () => JSON.stringify(answer));
      return;
    }
    const chatBody = { messages: [{ role: 'user', content: lastUserText(contents) }] };
    const pieces = state.answer(chatBody, planned.count);
    const finishReason = planned.truncated ? 'MAX_TOKENS' : 'STOP';
    if (!route.stream) {
      sendBuffered(ctx.res, behavior, () =>
        JSON.stringify({
          candidates: [
            {
              content: { role: 'model', parts: [{ text: pieces.join('') }] },
              finishReason,
              index: 0,
            },
          ],
          usageMetadata: usage(pieces.length),
          modelVersion,
          responseId,
        }),
      );
      return;
    }
    sendStream(ctx.res, behavior, {
      head: '',
      tokens: pieces.map((text) =>
        sseEvent({
          candidates: [{ content: { role: 'model', parts: [{ text }] }, index: 0 }],
          usageMetadata: { promptTokenCount, totalTokenCount: promptTokenCount },
          modelVersion,
          responseId,
        }),
      ),
      tail: sseEvent({
        candidates: [{ content: { role: 'model', parts: [{ text: '' }] }, finishReason, index: 0 }],
        usageMetadata: usage(pieces.length),
        modelVersion,
        responseId,
      }),
    });
  },
};

/** Gemini's SSE events end in CRLF CRLF. */
function sseEvent(payload: unknown): string {
  return dataEvent(payload).replace(/\n\n$/, '\r\n\r\n');
}

export const countGeminiTokens: OperationHandler = {
  validate: (ctx) => checkContents(ctx.body),
  respond(ctx) {
    const contents = ctx.body.contents as unknown[];
    const chars = contents.map(partsText).join('').length;
    sendJson(
      ctx.res,
      200,
      JSON.stringify({ totalTokens: tokensForChars(chars), totalBillableCharacters: chars }),
    );
  },
};

/** The Messages body with what Vertex moved out of it put back: the model, and stream from the path. */
function asMessages(ctx: RequestContext): RequestContext {
  return {
    ...ctx,
    headers: { ...ctx.headers, 'anthropic-version': VERTEX_ANTHROPIC_VERSION },
    body: { ...ctx.body, model: ctx.route.modelId ?? '', stream: ctx.route.stream === true },
  };
}

export const rawPredict: OperationHandler = {
  validate(ctx) {
    if (ctx.body.anthropic_version !== VERTEX_ANTHROPIC_VERSION)
      return invalid(`anthropic_version: must be "${VERTEX_ANTHROPIC_VERSION}"`);
    if (ctx.route.modelId === 'count-tokens') {
      return typeof ctx.body.model === 'string' && Array.isArray(ctx.body.messages)
        ? undefined
        : invalid('model and messages: Field required');
    }
    return messages.validate(asMessages(ctx));
  },
  respond(ctx) {
    if (ctx.route.modelId === 'count-tokens') {
      const text = (ctx.body.messages as unknown[])
        .map((m) => (isRecord(m) ? contentText(m.content) : ''))
        .join('');
      sendJson(ctx.res, 200, JSON.stringify({ input_tokens: tokensForChars(text.length) }));
      return;
    }
    const tool = forcedTool(ctx.body);
    if (tool !== undefined) respondToolUse(ctx, tool);
    else messages.respond(asMessages(ctx));
  },
};

/** The tool Claude is made to use: tool_choice any (the first tool) or tool (that one). */
function forcedTool(body: Record<string, unknown>): string | undefined {
  const choice = isRecord(body.tool_choice) ? body.tool_choice : undefined;
  const first: unknown = Array.isArray(body.tools) ? body.tools[0] : undefined;
  if (choice?.type === 'tool' && typeof choice.name === 'string') return choice.name;
  if (choice?.type === 'any' && isRecord(first) && typeof first.name === 'string')
    return first.name;
  return undefined;
}

/** A message whose only content is a tool_use block with empty input, buffered or streamed. */
function respondToolUse(ctx: RequestContext, name: string): void {
  const { behavior, state, route } = ctx;
  const id = `msg_vrtx_sim${state.nextId()}`;
  const block = { type: 'tool_use', id: `toolu_sim${state.nextId()}`, name, input: {} };
  const inputTokens = tokensForChars(JSON.stringify(ctx.body.messages ?? '').length);
  const message = (content: unknown[], stop: string | null, output: number) => ({
    id,
    type: 'message',
    role: 'assistant',
    model: route.modelId ?? '',
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: { input_tokens: inputTokens, output_tokens: output },
  });
  if (!route.stream) {
    sendBuffered(ctx.res, behavior, () => JSON.stringify(message([block], 'tool_use', 1)));
    return;
  }
  sendStream(ctx.res, behavior, {
    head: namedEvent('message_start', { type: 'message_start', message: message([], null, 1) }),
    tokens: [
      namedEvent('content_block_start', {
        type: 'content_block_start',
        index: 0,
        content_block: { ...block, input: {} },
      }),
      namedEvent('content_block_delta', {
        type: 'content_block_delta',
        index: 0,
        delta: { type: 'input_json_delta', partial_json: '{}' },
      }),
    ],
    tail:
      namedEvent('content_block_stop', { type: 'content_block_stop', index: 0 }) +
      namedEvent('message_delta', {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: { output_tokens: 1 },
      }) +
      namedEvent('message_stop', { type: 'message_stop' }),
  });
}
