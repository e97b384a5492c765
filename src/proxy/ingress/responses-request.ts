// OpenAI Responses API request -> Chat Completions request. Function tools,
// messages, images, function calls and their outputs translate; what needs
// OpenAI's servers (stored responses, built-in tools, files by id) is a 400
// that names the field.
import { z } from 'zod';
import { badRequest, type ProxyError } from '../errors.js';
import { isRecord } from '../../providers/shared/openai-shape.js';
import type { OpenAIRequestBody } from '../../providers/types.js';
import { zodBadRequest } from '../request-body.js';

const nullish = <T extends z.ZodType>(schema: T) => schema.nullish();

const functionToolChoice = z.looseObject({ type: z.literal('function'), name: z.string() });

export const responsesBody = z.looseObject({
  model: z.string().min(1, { message: 'model must be a non-empty string' }),
  input: z.union([z.string(), z.array(z.unknown())], {
    error: 'input must be a string or an array of input items',
  }),
  instructions: nullish(z.string()),
  max_output_tokens: nullish(z.int().min(1)),
  temperature: nullish(z.number().min(0).max(2)),
  top_p: nullish(z.number().min(0).max(1)),
  stream: nullish(z.boolean()),
  tools: nullish(z.array(z.looseObject({ type: z.string() }))),
  tool_choice: nullish(
    z.union([z.enum(['auto', 'none', 'required']), functionToolChoice], {
      error:
        "tool_choice must be 'auto', 'none', 'required' or {type: 'function', name}: this proxy serves function tools only",
    }),
  ),
  parallel_tool_calls: nullish(z.boolean()),
  text: nullish(
    z.looseObject({
      format: z
        .discriminatedUnion(
          'type',
          [
            z.looseObject({ type: z.literal('text') }),
            z.looseObject({ type: z.literal('json_object') }),
            z.looseObject({
              type: z.literal('json_schema'),
              name: z.string(),
              schema: z.record(z.string(), z.unknown()),
              strict: nullish(z.boolean()),
              description: z.string().optional(),
            }),
          ],
          { error: "text.format.type must be 'text', 'json_object' or 'json_schema'" },
        )
        .optional(),
    }),
  ),
  reasoning: nullish(z.looseObject({ effort: nullish(z.string()) })),
  user: z.string().optional(),
  metadata: nullish(z.record(z.string(), z.string())),
  service_tier: nullish(z.string()),
  store: nullish(z.boolean()),
  background: nullish(z.boolean()),
  previous_response_id: nullish(z.string()),
  conversation: z.unknown().optional(),
  prompt: z.unknown().optional(),
  top_logprobs: nullish(z.int()),
});
export type ResponsesBody = z.infer<typeof responsesBody>;

type ChatMessage = Record<string, unknown> & { role: string };

const unsupported = (param: string, message: string): ProxyError =>
  badRequest(`${param}: ${message}`, param, 'unsupported_parameter');

/** Features that need OpenAI's own servers: refused up front, each naming its field. */
function refuseServerFeatures(body: ResponsesBody): void {
  if (body.previous_response_id != null)
    throw unsupported(
      'previous_response_id',
      'this proxy keeps no responses; send the whole conversation in input instead',
    );
  if (body.store === true)
    throw unsupported(
      'store',
      'this proxy keeps no responses; send store: false (or leave it out) and the whole conversation in input',
    );
  if (body.background === true)
    throw unsupported('background', 'background responses are not supported by this proxy');
  if (body.conversation != null)
    throw unsupported(
      'conversation',
      'this proxy keeps no conversations; send the whole conversation in input',
    );
  if (body.prompt != null)
    throw unsupported('prompt', 'stored prompt templates are not supported by this proxy');
  if (body.top_logprobs != null && body.top_logprobs > 0)
    throw unsupported('top_logprobs', 'log probabilities are not supported by this proxy');
}

function tools(body: ResponsesBody): Record<string, unknown>[] | undefined {
  if (body.tools == null || body.tools.length === 0) return undefined;
  return body.tools.map((tool, i) => {
    const param = `tools[${i}]`;
    if (tool.type !== 'function')
      throw unsupported(
        `${param}.type`,
        `${tool.type} is a built-in tool that runs on OpenAI's servers; this proxy serves function tools only (type: 'function')`,
      );
    if (typeof tool.name !== 'string' || tool.name === '')
      throw badRequest(`${param}.name: a function tool needs a name`, `${param}.name`);
    const fn: Record<string, unknown> = { name: tool.name };
    if (typeof tool.description === 'string') fn.description = tool.description;
    if (isRecord(tool.parameters)) fn.parameters = tool.parameters;
    if (typeof tool.strict === 'boolean') fn.strict = tool.strict;
    return { type: 'function', function: fn };
  });
}

/** A content part of a user, system or developer message as a chat content part. */
function inputPart(part: unknown, param: string): Record<string, unknown> {
  if (!isRecord(part) || typeof part.type !== 'string')
    throw badRequest(`${param}: expected a content part with a type`, param);
  switch (part.type) {
    case 'input_text':
    case 'output_text':
      if (typeof part.text !== 'string')
        throw badRequest(`${param}.text: expected a string`, `${param}.text`);
      return { type: 'text', text: part.text };
    case 'input_image': {
      if (typeof part.image_url !== 'string')
        throw unsupported(
          `${param}.image_url`,
          'images are accepted as an image_url (an http(s) or data: URL); files by id are not',
        );
      const image: Record<string, unknown> = { url: part.image_url };
      if (typeof part.detail === 'string') image.detail = part.detail;
      return { type: 'image_url', image_url: image };
    }
    default:
      throw unsupported(
        `${param}.type`,
        `${part.type} content is not supported by this proxy; send input_text or input_image parts`,
      );
  }
}

/** One part's text when only text fits (system messages, assistant turns, tool outputs). */
function textOf(part: unknown, param: string, allowed: readonly string[]): string {
  if (isRecord(part) && typeof part.type === 'string' && allowed.includes(part.type)) {
    const text = part.type === 'refusal' ? part.refusal : part.text;
    if (typeof text === 'string') return text;
  }
  throw badRequest(
    `${param}: only ${allowed.join(' and ')} parts are accepted here`,
    param,
    'unsupported_parameter',
  );
}

function message(item: Record<string, unknown>, param: string): ChatMessage {
  const { role, content } = item;
  if (role !== 'user' && role !== 'system' && role !== 'developer' && role !== 'assistant')
    throw badRequest(
      `${param}.role: expected user, system, developer or assistant`,
      `${param}.role`,
    );
  if (typeof content === 'string') return { role, content };
  if (!Array.isArray(content))
    throw badRequest(
      `${param}.content: expected a string or an array of content parts`,
      `${param}.content`,
    );
  if (role === 'user') {
    const parts = content.map((part, j) => inputPart(part, `${param}.content[${j}]`));
    const only = parts.length === 1 ? parts[0] : undefined;
    // One text part is sent as a plain string: every compatible server reads that.
    return { role, content: only?.type === 'text' ? only.text : parts };
  }
  const allowed = role === 'assistant' ? ['output_text', 'refusal'] : ['input_text'];
  return {
    role,
    content: content.map((part, j) => textOf(part, `${param}.content[${j}]`, allowed)).join(''),
  };
}

function functionCallOutput(item: Record<string, unknown>, param: string): ChatMessage {
  if (typeof item.call_id !== 'string')
    throw badRequest(`${param}.call_id: expected a string`, `${param}.call_id`);
  const { output } = item;
  let content: string;
  if (typeof output === 'string') content = output;
  else if (Array.isArray(output))
    content = output
      .map((part, j) => textOf(part, `${param}.output[${j}]`, ['input_text']))
      .join('');
  else throw badRequest(`${param}.output: expected a string`, `${param}.output`);
  return { role: 'tool', tool_call_id: item.call_id, content };
}

/** A function call the model made earlier, joined to the assistant turn it belongs to. */
function addFunctionCall(
  messages: ChatMessage[],
  item: Record<string, unknown>,
  param: string,
): void {
  for (const field of ['call_id', 'name', 'arguments'] as const)
    if (typeof item[field] !== 'string')
      throw badRequest(`${param}.${field}: expected a string`, `${param}.${field}`);
  const call = {
    id: item.call_id,
    type: 'function',
    function: { name: item.name, arguments: item.arguments },
  };
  const last = messages.at(-1);
  if (last?.role === 'assistant') {
    const calls: unknown[] = Array.isArray(last.tool_calls) ? last.tool_calls : [];
    last.tool_calls = [...calls, call];
    if (last.content === '') last.content = null;
    return;
  }
  messages.push({ role: 'assistant', content: null, tool_calls: [call] });
}

function messages(body: ResponsesBody): ChatMessage[] {
  const out: ChatMessage[] = [];
  if (body.instructions != null && body.instructions !== '')
    out.push({ role: 'system', content: body.instructions });
  if (typeof body.input === 'string') {
    out.push({ role: 'user', content: body.input });
    return out;
  }
  body.input.forEach((item, i) => {
    const param = `input[${i}]`;
    if (!isRecord(item)) throw badRequest(`${param}: expected an input item object`, param);
    const type = item.type ?? 'message';
    switch (type) {
      case 'message':
        out.push(message(item, param));
        return;
      case 'function_call':
        addFunctionCall(out, item, param);
        return;
      case 'function_call_output':
        out.push(functionCallOutput(item, param));
        return;
      case 'reasoning':
        return; // a model's reasoning has no Chat Completions form; the answer it led to is kept
      default:
        throw unsupported(
          `${param}.type`,
          `${typeof type === 'string' ? type : JSON.stringify(type)} items are not supported by this proxy; send messages, function_call and function_call_output items`,
        );
    }
  });
  if (out.every((m) => m.role === 'system'))
    throw badRequest('input: send at least one message', 'input');
  return out;
}

function toolChoice(choice: ResponsesBody['tool_choice']): unknown {
  if (choice == null || typeof choice === 'string') return choice ?? undefined;
  return { type: 'function', function: { name: choice.name } };
}

function responseFormat(body: ResponsesBody): unknown {
  const format = body.text?.format;
  if (format === undefined || format.type === 'text') return undefined;
  if (format.type === 'json_object') return { type: 'json_object' };
  const schema: Record<string, unknown> = { name: format.name, schema: format.schema };
  if (format.strict != null) schema.strict = format.strict;
  if (format.description !== undefined) schema.description = format.description;
  return { type: 'json_schema', json_schema: schema };
}

/** A Responses API body (already a JSON object) as a Chat Completions body. */
export function chatFromResponses(json: Record<string, unknown>): {
  body: ResponsesBody;
  chat: OpenAIRequestBody;
} {
  const parsed = responsesBody.safeParse(json);
  if (!parsed.success) throw zodBadRequest(parsed.error);
  const body = parsed.data;
  refuseServerFeatures(body);
  const chat: OpenAIRequestBody = { model: body.model, messages: messages(body) };
  const set = (field: string, value: unknown): void => {
    if (value !== undefined && value !== null) chat[field] = value;
  };
  set('max_completion_tokens', body.max_output_tokens);
  set('temperature', body.temperature);
  set('top_p', body.top_p);
  set('tools', tools(body));
  if (chat.tools !== undefined) {
    set('tool_choice', toolChoice(body.tool_choice));
    set('parallel_tool_calls', body.parallel_tool_calls);
  } else if (body.tool_choice != null && body.tool_choice !== 'none' && body.tool_choice !== 'auto')
    throw badRequest('tool_choice: it names a tool, but tools is empty', 'tool_choice');
  set('response_format', responseFormat(body));
  set('reasoning_effort', body.reasoning?.effort);
  set('user', body.user);
  set('service_tier', body.service_tier);
  if (body.stream === true) chat.stream = true;
  return { body, chat };
}
