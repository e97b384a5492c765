// Anthropic Messages API request -> Chat Completions request. Text, images,
// custom tools, tool_use and tool_result blocks translate; server tools,
// documents and MCP servers are a 400 naming the field. Extended thinking and
// cache_control are hints a chat request has no place for: they are dropped.
import { z } from 'zod';
import { badRequest, type ProxyError } from '../errors.js';
import { isRecord } from '../../providers/shared/openai-shape.js';
import type { OpenAIRequestBody } from '../../providers/types.js';
import { zodBadRequest } from '../request-body.js';

const textBlock = z.looseObject({ type: z.literal('text'), text: z.string() });

export const messagesBody = z.looseObject({
  model: z.string().min(1, { message: 'model must be a non-empty string' }),
  max_tokens: z.int({ error: 'max_tokens: Field required (an integer >= 1)' }).min(1),
  messages: z
    .array(
      z.looseObject({
        role: z.enum(['user', 'assistant'], { error: "role must be 'user' or 'assistant'" }),
        content: z.union([z.string(), z.array(z.looseObject({ type: z.string() }))], {
          error: 'content must be a string or an array of content blocks',
        }),
      }),
    )
    .min(1, { message: 'messages must contain at least one message' }),
  system: z
    .union([z.string(), z.array(textBlock)], {
      error: 'system must be a string or an array of text blocks',
    })
    .nullish(),
  stop_sequences: z.array(z.string()).nullish(),
  temperature: z.number().min(0).max(1).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  stream: z.boolean().nullish(),
  tools: z.array(z.looseObject({ name: z.string().min(1), type: z.string().nullish() })).nullish(),
  tool_choice: z
    .discriminatedUnion(
      'type',
      [
        z.looseObject({
          type: z.literal('auto'),
          disable_parallel_tool_use: z.boolean().optional(),
        }),
        z.looseObject({
          type: z.literal('any'),
          disable_parallel_tool_use: z.boolean().optional(),
        }),
        z.looseObject({
          type: z.literal('tool'),
          name: z.string(),
          disable_parallel_tool_use: z.boolean().optional(),
        }),
        z.looseObject({ type: z.literal('none') }),
      ],
      { error: "tool_choice.type must be 'auto', 'any', 'tool' or 'none'" },
    )
    .nullish(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).nullish(),
  mcp_servers: z.unknown().optional(),
  container: z.unknown().optional(),
});
export type MessagesBody = z.infer<typeof messagesBody>;

type ChatMessage = Record<string, unknown> & { role: string };
type Block = Record<string, unknown> & { type: string };

const unsupported = (param: string, message: string): ProxyError =>
  badRequest(`${param}: ${message}`, param, 'unsupported_parameter');

function imagePart(block: Block, param: string): Record<string, unknown> {
  const { source } = block;
  if (isRecord(source)) {
    if (
      source.type === 'base64' &&
      typeof source.media_type === 'string' &&
      typeof source.data === 'string'
    )
      return {
        type: 'image_url',
        image_url: { url: `data:${source.media_type};base64,${source.data}` },
      };
    if (source.type === 'url' && typeof source.url === 'string')
      return { type: 'image_url', image_url: { url: source.url } };
  }
  throw unsupported(
    `${param}.source`,
    'images are accepted as base64 data or a url source; files by id are not',
  );
}

function textOf(block: Block, param: string): string {
  if (typeof block.text !== 'string')
    throw badRequest(`${param}.text: expected a string`, `${param}.text`);
  return block.text;
}

function toolResult(block: Block, param: string): ChatMessage {
  if (typeof block.tool_use_id !== 'string')
    throw badRequest(`${param}.tool_use_id: expected a string`, `${param}.tool_use_id`);
  const { content } = block;
  let text: string;
  if (content === undefined || content === null) text = '';
  else if (typeof content === 'string') text = content;
  else if (Array.isArray(content))
    text = content
      .map((part: unknown, k) => {
        const where = `${param}.content[${k}]`;
        if (isRecord(part) && part.type === 'text') return textOf(part as Block, where);
        throw unsupported(where, 'tool results are accepted as text only by this proxy');
      })
      .join('');
  else throw badRequest(`${param}.content: expected a string or text blocks`, `${param}.content`);
  // Chat has no error flag on a tool message: the model reads it in the text instead.
  return {
    role: 'tool',
    tool_call_id: block.tool_use_id,
    content: block.is_error === true ? `Error: ${text}` : text,
  };
}

/** A user turn: its tool results first (they answer the turn before), then its text and images. */
function userMessages(content: Block[], param: string): ChatMessage[] {
  const tools: ChatMessage[] = [];
  const parts: Record<string, unknown>[] = [];
  content.forEach((block, j) => {
    const where = `${param}.content[${j}]`;
    switch (block.type) {
      case 'text':
        parts.push({ type: 'text', text: textOf(block, where) });
        return;
      case 'image':
        parts.push(imagePart(block, where));
        return;
      case 'tool_result':
        tools.push(toolResult(block, where));
        return;
      default:
        throw unsupported(
          `${where}.type`,
          `${block.type} blocks are not supported by this proxy; send text, image, tool_use and tool_result blocks`,
        );
    }
  });
  if (parts.length === 0) return tools;
  const only = parts.length === 1 ? parts[0] : undefined;
  return [...tools, { role: 'user', content: only?.type === 'text' ? only.text : parts }];
}

function assistantMessage(content: Block[], param: string): ChatMessage | undefined {
  let text = '';
  const calls: Record<string, unknown>[] = [];
  content.forEach((block, j) => {
    const where = `${param}.content[${j}]`;
    switch (block.type) {
      case 'text':
        text += textOf(block, where);
        return;
      case 'tool_use':
        if (typeof block.id !== 'string' || typeof block.name !== 'string')
          throw badRequest(`${where}: a tool_use block needs an id and a name`, where);
        calls.push({
          id: block.id,
          type: 'function',
          function: { name: block.name, arguments: JSON.stringify(block.input ?? {}) },
        });
        return;
      case 'thinking':
      case 'redacted_thinking':
        return; // reasoning has no Chat Completions form; the answer it led to is kept
      default:
        throw unsupported(
          `${where}.type`,
          `${block.type} blocks are not supported by this proxy; send text and tool_use blocks`,
        );
    }
  });
  if (text === '' && calls.length === 0) return undefined;
  const message: ChatMessage = { role: 'assistant', content: text === '' ? null : text };
  if (calls.length > 0) message.tool_calls = calls;
  return message;
}

function systemText(system: MessagesBody['system']): string | undefined {
  if (system == null) return undefined;
  const text = typeof system === 'string' ? system : system.map((b) => b.text).join('\n\n');
  return text === '' ? undefined : text;
}

function chatMessages(body: MessagesBody): ChatMessage[] {
  const out: ChatMessage[] = [];
  const system = systemText(body.system);
  if (system !== undefined) out.push({ role: 'system', content: system });
  body.messages.forEach((message, i) => {
    const param = `messages[${i}]`;
    const content: Block[] =
      typeof message.content === 'string'
        ? [{ type: 'text', text: message.content }]
        : message.content;
    if (message.role === 'user') out.push(...userMessages(content, param));
    else {
      const assistant = assistantMessage(content, param);
      if (assistant) out.push(assistant);
    }
  });
  return out;
}

function tools(body: MessagesBody): Record<string, unknown>[] | undefined {
  if (body.tools == null || body.tools.length === 0) return undefined;
  return body.tools.map((tool, i) => {
    if (tool.type != null && tool.type !== 'custom')
      throw unsupported(
        `tools[${i}].type`,
        `${tool.type} is a server tool that runs on Anthropic's servers; this proxy serves custom tools only (name, description, input_schema)`,
      );
    const fn: Record<string, unknown> = { name: tool.name };
    if (typeof tool.description === 'string') fn.description = tool.description;
    fn.parameters = isRecord(tool.input_schema) ? tool.input_schema : { type: 'object' };
    return { type: 'function', function: fn };
  });
}

function toolChoice(choice: NonNullable<MessagesBody['tool_choice']>): unknown {
  switch (choice.type) {
    case 'auto':
      return 'auto';
    case 'any':
      return 'required';
    case 'none':
      return 'none';
    case 'tool':
      return { type: 'function', function: { name: choice.name } };
  }
}

/** An Anthropic Messages body (already a JSON object) as a Chat Completions body. */
export function chatFromMessages(json: Record<string, unknown>): {
  body: MessagesBody;
  chat: OpenAIRequestBody;
} {
  const parsed = messagesBody.safeParse(json);
  if (!parsed.success) throw zodBadRequest(parsed.error);
  const body = parsed.data;
  if (body.mcp_servers != null)
    throw unsupported(
      'mcp_servers',
      "MCP servers run on Anthropic's servers; this proxy cannot reach them",
    );
  if (body.container != null)
    throw unsupported('container', 'code execution containers are not supported by this proxy');
  const messages = chatMessages(body);
  if (!messages.some((m) => m.role !== 'system'))
    throw badRequest('messages: every message is empty', 'messages');
  const chat: OpenAIRequestBody = {
    model: body.model,
    messages,
    max_completion_tokens: body.max_tokens,
  };
  if (body.temperature != null) chat.temperature = body.temperature;
  if (body.top_p != null) chat.top_p = body.top_p;
  if (body.stop_sequences != null && body.stop_sequences.length > 0)
    chat.stop = body.stop_sequences;
  const chatTools = tools(body);
  if (chatTools) {
    chat.tools = chatTools;
    const choice = body.tool_choice;
    if (choice) chat.tool_choice = toolChoice(choice);
    if (
      choice &&
      'disable_parallel_tool_use' in choice &&
      choice.disable_parallel_tool_use === true
    )
      chat.parallel_tool_calls = false;
  }
  if (body.metadata?.user_id != null) chat.user = body.metadata.user_id;
  if (body.stream === true) chat.stream = true;
  return { body, chat };
}
