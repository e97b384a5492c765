// OpenAI (and Azure OpenAI) bodies: chat completions, legacy completions, embeddings, model list.
import { dataEvent, sendBuffered, sendStream } from './respond.js';
import {
  embedText,
  isRecord,
  messagesChars,
  plannedTokens,
  tokensForChars,
  vectorToBase64,
} from './text.js';
import type { OperationHandler, Problem, RequestContext } from './types.js';

/** Largest embedding the simulator produces (real models stop at a few thousand). */
const MAX_DIMENSIONS = 65_536;

/** The model to echo: the body's, else (Azure) the deployment's name. */
function modelOf(ctx: RequestContext): string {
  const model = ctx.body.model;
  return typeof model === 'string' ? model : (ctx.route.deployment ?? '');
}

function checkModel(ctx: RequestContext): Problem | undefined {
  // Azure names the model by deployment in the path; OpenAI needs it in the body.
  if (ctx.route.dialect === 'azure' || typeof ctx.body.model === 'string') return undefined;
  return {
    status: 400,
    message: 'you must provide a model parameter',
    param: 'model',
  };
}

function checkMaxTokens(body: Record<string, unknown>, field: string): Problem | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value >= 1) return undefined;
  return {
    status: 400,
    message: `Invalid '${field}': expected an integer >= 1.`,
    param: field,
    code: 'invalid_value',
  };
}

function wantsUsage(body: Record<string, unknown>): boolean {
  const options = body.stream_options;
  return isRecord(options) && options.include_usage === true;
}

function usage(prompt: number, completion: number) {
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
  };
}

export const chat: OperationHandler = {
  validate(ctx) {
    if (!Array.isArray(ctx.body.messages)) {
      return {
        status: 400,
        message: "Missing required parameter: 'messages'.",
        param: 'messages',
        code: 'missing_required_parameter',
      };
    }
    return (
      checkModel(ctx) ??
      checkMaxTokens(ctx.body, 'max_tokens') ??
      checkMaxTokens(ctx.body, 'max_completion_tokens')
    );
  },

  respond(ctx) {
    const { body, behavior, state } = ctx;
    const model = modelOf(ctx);
    const planned = plannedTokens(
      behavior.outputTokens,
      body.max_completion_tokens ?? body.max_tokens,
    );
    const finishReason = planned.truncated ? 'length' : 'stop';
    const pieces = state.answer(body, planned.count);
    const count = pieces.length;
    const promptTokens = tokensForChars(messagesChars(body.messages));
    const id = `chatcmpl-sim${state.nextId()}`;
    const created = Math.floor(Date.now() / 1000);

    if (body.stream !== true) {
      sendBuffered(ctx.res, behavior, () =>
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: pieces.join(''), refusal: null },
              logprobs: null,
              finish_reason: finishReason,
            },
          ],
          usage: usage(promptTokens, count),
          system_fingerprint: null,
        }),
      );
      return;
    }

    const includeUsage = wantsUsage(body);
    // Real OpenAI puts `usage: null` on every chunk once include_usage is asked for.
    const extra = includeUsage ? { usage: null } : {};
    const chunk = (delta: Record<string, unknown>, finish: string | null) =>
      dataEvent({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        system_fingerprint: null,
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
        ...extra,
      });
    let tail = chunk({}, finishReason);
    if (includeUsage) {
      tail += dataEvent({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        system_fingerprint: null,
        choices: [],
        usage: usage(promptTokens, count),
      });
    }
    sendStream(ctx.res, behavior, {
      head: chunk({ role: 'assistant', content: '', refusal: null }, null),
      tokens: pieces.map((piece) => chunk({ content: piece }, null)),
      tail: tail + 'data: [DONE]\n\n',
    });
  },
};

/** Characters (or, for pre-tokenized prompts, tokens) of a completions prompt. */
function promptTokensOf(prompt: unknown): number {
  if (typeof prompt === 'string') return tokensForChars(prompt.length);
  if (!Array.isArray(prompt)) return 0;
  let chars = 0;
  let tokens = 0;
  for (const item of prompt) {
    if (typeof item === 'string') chars += item.length;
    else if (typeof item === 'number') tokens += 1;
    else if (Array.isArray(item)) tokens += item.length;
  }
  return tokensForChars(chars) + tokens;
}

export const completions: OperationHandler = {
  validate(ctx) {
    return checkModel(ctx) ?? checkMaxTokens(ctx.body, 'max_tokens');
  },

  respond(ctx) {
    const { body, behavior, state } = ctx;
    const model = modelOf(ctx);
    const { count, truncated } = plannedTokens(behavior.outputTokens, body.max_tokens);
    const finishReason = truncated ? 'length' : 'stop';
    const promptTokens = promptTokensOf(body.prompt);
    const id = `cmpl-sim${state.nextId()}`;
    const created = Math.floor(Date.now() / 1000);

    if (body.stream !== true) {
      sendBuffered(ctx.res, behavior, () =>
        JSON.stringify({
          id,
          object: 'text_completion',
          created,
          model,
          choices: [
            { text: state.text.text(count), index: 0, logprobs: null, finish_reason: finishReason },
          ],
          usage: usage(promptTokens, count),
        }),
      );
      return;
    }

    const includeUsage = wantsUsage(body);
    const extra = includeUsage ? { usage: null } : {};
    const chunk = (text: string, finish: string | null) =>
      dataEvent({
        id,
        object: 'text_completion',
        created,
        model,
        choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
        ...extra,
      });
    let tail = chunk('', finishReason);
    if (includeUsage) {
      tail += dataEvent({
        id,
        object: 'text_completion',
        created,
        model,
        choices: [],
        usage: usage(promptTokens, count),
      });
    }
    sendStream(ctx.res, behavior, {
      head: '',
      tokens: state.text.pieces(count).map((piece) => chunk(piece, null)),
      tail: tail + 'data: [DONE]\n\n',
    });
  },
};

/** The texts to embed: one per input item; token arrays are embedded by their numbers. */
function embeddingInputs(input: unknown): string[] | undefined {
  if (typeof input === 'string') return [input];
  if (!Array.isArray(input) || input.length === 0) return undefined;
  if (input.every((item) => typeof item === 'number')) return [input.join(',')];
  const texts: string[] = [];
  for (const item of input) {
    if (typeof item === 'string') texts.push(item);
    else if (Array.isArray(item)) texts.push(item.join(','));
    else return undefined;
  }
  return texts;
}

export const embeddings: OperationHandler = {
  validate(ctx) {
    if (embeddingInputs(ctx.body.input) === undefined) {
      return {
        status: 400,
        message: "'input' must be a non-empty string or array of strings or token arrays.",
        param: 'input',
        code: 'invalid_value',
      };
    }
    const dims = ctx.body.dimensions;
    if (
      dims !== undefined &&
      !(typeof dims === 'number' && Number.isInteger(dims) && dims >= 1 && dims <= MAX_DIMENSIONS)
    ) {
      return {
        status: 400,
        message: `Invalid 'dimensions': expected an integer from 1 to ${MAX_DIMENSIONS}.`,
        param: 'dimensions',
      };
    }
    return checkModel(ctx);
  },

  respond(ctx) {
    const { body, behavior } = ctx;
    const texts = embeddingInputs(body.input) ?? [];
    const dims =
      typeof body.dimensions === 'number' ? body.dimensions : behavior.embeddingDimensions;
    // The OpenAI SDK asks for base64 by default and decodes it itself.
    const base64 = body.encoding_format === 'base64';
    let chars = 0;
    for (const text of texts) chars += text.length;
    const promptTokens = tokensForChars(chars);
    sendBuffered(ctx.res, behavior, () =>
      JSON.stringify({
        object: 'list',
        data: texts.map((text, index) => {
          const vector = embedText(text, dims);
          return {
            object: 'embedding',
            index,
            embedding: base64 ? vectorToBase64(vector) : vector,
          };
        }),
        model: modelOf(ctx),
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      }),
    );
  },
};

export function modelsBody(models: string[]): string {
  return JSON.stringify({
    object: 'list',
    data: models.map((id) => ({
      id,
      object: 'model',
      created: 1_700_000_000,
      owned_by: 'modelroute-simulator',
    })),
  });
}
