// Reads what routing needs from an OpenAI-shaped request body: the prompt
// text (for token counting and difficulty), images, and the capabilities the
// request implies. Lenient by design: shapes are validated elsewhere.
import { CAPABILITIES, type Capability } from '../../api/v1alpha1/index.js';
import type { Endpoint, OpenAIRequestBody } from '../../providers/types.js';

export interface PromptInfo {
  /**
   * All prompt text, joined by newlines. Chat: every message's text content
   * (system included), tool call names and arguments, tool results.
   * Completions: the prompt string(s). Embeddings: the input string(s).
   */
  text: string;
  /** Chat messages (0 for completions and embeddings). */
  messageCount: number;
  imageCount: number;
  /** In CAPABILITIES order, so equal requests give equal lists. */
  impliedCapabilities: Capability[];
  /** max_completion_tokens, else max_tokens, if a positive integer. */
  maxOutputTokens?: number;
  /**
   * Tool/function definitions as JSON. They cost prompt tokens (the provider
   * injects them), but are kept out of `text` because schemas are not what the
   * user asks and would skew difficulty scoring.
   */
  toolsText?: string;
  /** Tokens of pre-tokenized prompts/inputs (arrays of token ids), which have no text. */
  tokenIdCount?: number;
}

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isTokenIds(v: unknown): v is number[] {
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number');
}

function positiveInt(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined;
}

/** Collects the pieces while reading the body. */
class Collector {
  readonly parts: string[] = [];
  readonly capabilities = new Set<Capability>();
  messageCount = 0;
  imageCount = 0;
  tokenIdCount = 0;

  text(v: unknown): void {
    if (typeof v === 'string' && v.length > 0) this.parts.push(v);
  }

  /** A prompt/input field: a string, strings, token ids, or lists of token ids. */
  promptField(v: unknown): void {
    if (typeof v === 'string') return this.text(v);
    if (isTokenIds(v)) {
      this.tokenIdCount += v.length;
      return;
    }
    if (!Array.isArray(v)) return;
    for (const item of v) {
      if (typeof item === 'string') this.text(item);
      else if (isTokenIds(item)) this.tokenIdCount += item.length;
    }
  }

  /** Message content: a string or an array of typed parts. */
  content(v: unknown): void {
    if (typeof v === 'string') return this.text(v);
    if (!Array.isArray(v)) return;
    for (const part of v) {
      if (typeof part === 'string') {
        this.text(part);
        continue;
      }
      if (!isObject(part)) continue;
      switch (part.type) {
        case 'text':
        case 'input_text':
          this.text(part.text);
          break;
        case 'image_url':
        case 'input_image':
          this.imageCount++;
          this.capabilities.add('vision');
          break;
        case 'input_audio':
          this.capabilities.add('audio');
          break;
        default:
          // refusal, file, ...: nothing routing can use
          break;
      }
    }
  }

  toolCalls(v: unknown): void {
    if (!Array.isArray(v) || v.length === 0) return;
    this.capabilities.add('tools');
    for (const call of v) {
      if (isObject(call)) this.functionCall(call.function);
    }
  }

  /** `{ name, arguments }` of a tool call, or of a legacy `function_call`. */
  functionCall(fn: unknown): void {
    if (!isObject(fn)) return;
    this.capabilities.add('tools');
    this.text(fn.name);
    this.text(fn.arguments);
  }

  message(m: unknown): void {
    if (!isObject(m)) return;
    this.messageCount++;
    if (m.role === 'tool' || m.role === 'function') this.capabilities.add('tools');
    this.content(m.content);
    this.toolCalls(m.tool_calls);
    this.functionCall(m.function_call);
  }
}

function toolsText(body: OpenAIRequestBody): string | undefined {
  const defs: unknown[] = [];
  for (const field of [body.tools, body.functions]) {
    if (Array.isArray(field)) defs.push(...(field as unknown[]));
  }
  if (defs.length === 0) return undefined;
  try {
    return JSON.stringify(defs);
  } catch {
    return undefined; // parsed JSON always serialises; this only guards odd callers
  }
}

function isJsonMode(responseFormat: unknown): boolean {
  return (
    isObject(responseFormat) &&
    (responseFormat.type === 'json_object' || responseFormat.type === 'json_schema')
  );
}

/** Never throws on odd shapes: whatever cannot be read is skipped. */
export function extractPrompt(endpoint: Endpoint, body: OpenAIRequestBody): PromptInfo {
  const c = new Collector();
  const b: Json = isObject(body) ? body : {};
  c.capabilities.add(endpoint);
  if (b.stream === true) c.capabilities.add('streaming');

  switch (endpoint) {
    case 'chat':
      if (Array.isArray(b.messages)) for (const m of b.messages) c.message(m);
      break;
    case 'completions':
      c.promptField(b.prompt);
      c.text(b.suffix);
      break;
    case 'embeddings':
      c.promptField(b.input);
      break;
  }

  const tools = toolsText(b);
  if (tools !== undefined) c.capabilities.add('tools');
  if (isJsonMode(b.response_format)) c.capabilities.add('json-mode');

  const info: PromptInfo = {
    text: c.parts.join('\n'),
    messageCount: c.messageCount,
    imageCount: c.imageCount,
    impliedCapabilities: CAPABILITIES.filter((cap) => c.capabilities.has(cap)),
  };
  const maxOutputTokens = positiveInt(b.max_completion_tokens) ?? positiveInt(b.max_tokens);
  if (maxOutputTokens !== undefined) info.maxOutputTokens = maxOutputTokens;
  if (tools !== undefined) info.toolsText = tools;
  if (c.tokenIdCount > 0) info.tokenIdCount = c.tokenIdCount;
  return info;
}
