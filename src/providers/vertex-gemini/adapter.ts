// Adapter for Gemini on Google Vertex AI (generateContent and
// streamGenerateContent): Chat Completions requests become Gemini `contents`,
// Gemini answers (buffered or SSE) become Chat Completions, with a Google
// OAuth 2 access token as Bearer.
import { z } from 'zod';
import { describeError } from '../anthropic/adapter.js';
import { chatRequestSchema, type ChatMessage, type ChatRequest } from '../shared/chat-request.js';
import {
  DONE_EVENT,
  errorText,
  isRecord,
  jsonHeaders,
  preview,
  usageToOpenAI,
} from '../shared/openai-shape.js';
import { ChatChunks, nowSeconds, streamErrorEvent } from '../shared/chat-chunks.js';
import { SseParser, type SseEvent } from '../shared/sse.js';
import type {
  BufferedResult,
  BuildRequestArgs,
  BuildResult,
  CompletableStreamTranslator,
  ProbeArgs,
  ProbeRequest,
  StreamTranslatorArgs,
  SyncProviderAdapter,
  UpstreamAuth,
  Usage,
} from '../types.js';
import type { CompiledBackend } from '../../routing/table.js';

// ---------------------------------------------------------------------------
// Where: Vertex AI's publisher model paths

/** Vertex AI's REST root: the endpoint is written with or without the trailing /v1. */
export function vertexRoot(baseUrl: string): string {
  const trimmed = baseUrl.replace(/\/+$/, '');
  return trimmed.endsWith('/v1') ? trimmed : `${trimmed}/v1`;
}

/**
 * `{root}/projects/{p}/locations/{l}/publishers/{publisher}/models/{model}`;
 * undefined when the backend has no spec.vertex (admission requires it).
 */
export function publisherModelUrl(
  backend: CompiledBackend,
  publisher: 'google' | 'anthropic',
  model = backend.model,
): string | undefined {
  const { vertex } = backend;
  if (vertex === undefined) return undefined;
  // '@' is a path character (RFC 3986) and how Vertex writes model versions: claude-...@20250929.
  const seg = (part: string): string => encodeURIComponent(part).replace(/%40/g, '@');
  return (
    `${vertexRoot(backend.baseUrl)}/projects/${seg(vertex.project)}/locations/${seg(vertex.location)}` +
    `/publishers/${publisher}/models/${seg(model)}`
  );
}

export const missingVertexSettings = (backend: CompiledBackend): string =>
  `backend ${backend.id} has no spec.vertex (project, location): Vertex AI needs both`;

/** The Authorization header of a Google access token (other credentials are never sent to Google). */
export function googleAuthHeaders(auth: UpstreamAuth | undefined): Record<string, string> {
  return auth?.kind === 'bearer' ? { authorization: `Bearer ${auth.token}` } : {};
}

// ---------------------------------------------------------------------------
// Request: Chat Completions -> generateContent

const chatRequest = chatRequestSchema('vertex-gemini');

type GeminiPart =
  | { text: string }
  | { inlineData: { mimeType: string; data: string } }
  | { functionCall: { name: string; args: Record<string, unknown> }; thoughtSignature?: string }
  | { functionResponse: { name: string; response: Record<string, unknown> } };
interface GeminiContent {
  role: 'user' | 'model';
  parts: GeminiPart[];
}

/** A client mistake, reported as a 400 naming the field. */
class BadRequest extends Error {}

const DATA_URL = /^data:([^;,]+)(?:;[^;,]*)*;base64,(.*)$/s;

function inlineImage(url: string, path: string): GeminiPart {
  const data = DATA_URL.exec(url);
  if (!data) {
    throw new BadRequest(
      `${path}: the vertex-gemini backend accepts images only as base64 data: URLs (data:image/png;base64,...)`,
    );
  }
  return { inlineData: { mimeType: data[1] ?? '', data: data[2] ?? '' } };
}

function textParts(content: string | { text: string }[]): GeminiPart[] {
  const texts = typeof content === 'string' ? [content] : content.map((p) => p.text);
  return texts.filter((t) => t !== '').map((text) => ({ text }));
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

function partsOf(
  message: ChatMessage,
  index: number,
  toolNames: Map<string, string>,
): GeminiPart[] {
  switch (message.role) {
    case 'system':
    case 'developer':
      return [];
    case 'user':
      if (typeof message.content === 'string') return textParts(message.content);
      return message.content.flatMap((part, j) =>
        part.type === 'text'
          ? textParts(part.text)
          : [inlineImage(part.image_url.url, `messages[${index}].content[${j}].image_url.url`)],
      );
    case 'assistant': {
      const content = message.content ?? [];
      const texts =
        typeof content === 'string'
          ? textParts(content)
          : textParts(content.map((p) => ({ text: p.type === 'text' ? p.text : p.refusal })));
      const calls = (message.tool_calls ?? []).map((call): GeminiPart => {
        toolNames.set(call.id, call.function.name);
        const signature = thoughtSignatureOf(call.id);
        return {
          functionCall: {
            name: call.function.name,
            args: jsonObject(call.function.arguments) ?? {},
          },
          ...(signature !== undefined ? { thoughtSignature: signature } : {}),
        };
      });
      return [...texts, ...calls];
    }
    case 'tool': {
      // Gemini matches a result to its call by the function's name.
      const name = toolNames.get(message.tool_call_id);
      if (name === undefined) {
        throw new BadRequest(
          `messages[${index}].tool_call_id: no earlier assistant message has a tool call with id ${message.tool_call_id}`,
        );
      }
      const text =
        typeof message.content === 'string'
          ? message.content
          : message.content.map((p) => p.text).join('');
      return [{ functionResponse: { name, response: jsonObject(text) ?? { content: text } } }];
    }
  }
}

/** Gemini's turns: consecutive same-role messages (parallel tool results) become one. */
function toContents(messages: ChatMessage[]): { system: string[]; contents: GeminiContent[] } {
  const system: string[] = [];
  const contents: GeminiContent[] = [];
  const toolNames = new Map<string, string>();
  messages.forEach((message, i) => {
    if (message.role === 'system' || message.role === 'developer') {
      const text = textParts(message.content)
        .map((p) => ('text' in p ? p.text : ''))
        .join('\n\n');
      if (text !== '') system.push(text);
      return;
    }
    const parts = partsOf(message, i, toolNames);
    if (parts.length === 0) return;
    const role = message.role === 'assistant' ? 'model' : 'user';
    const last = contents.at(-1);
    if (last?.role === role) last.parts.push(...parts);
    else contents.push({ role, parts });
  });
  return { system, contents };
}

function unsupported(request: ChatRequest): string | undefined {
  if (request.n != null && request.n > 1)
    return 'the vertex-gemini backend cannot return several choices (n > 1)';
  if (request.logprobs === true || request.top_logprobs != null)
    return 'the vertex-gemini backend does not return log probabilities (logprobs, top_logprobs)';
  const format = request.response_format?.type;
  if (format !== undefined && !['text', 'json_object', 'json_schema'].includes(format))
    return `the vertex-gemini backend does not support response_format ${format}`;
  return undefined;
}

function toolConfig(request: ChatRequest): Record<string, unknown> | undefined {
  const choice = request.tool_choice;
  if (choice == null) return undefined;
  const config =
    choice === 'auto'
      ? { mode: 'AUTO' }
      : choice === 'none'
        ? { mode: 'NONE' }
        : choice === 'required'
          ? { mode: 'ANY' }
          : { mode: 'ANY', allowedFunctionNames: [choice.function.name] };
  return { functionCallingConfig: config };
}

function generationConfig(args: BuildRequestArgs, request: ChatRequest): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  const max = request.max_tokens ?? request.max_completion_tokens ?? args.backend.maxOutputTokens;
  if (max != null) config.maxOutputTokens = max;
  if (request.temperature != null) config.temperature = request.temperature;
  if (request.top_p != null) config.topP = request.top_p;
  if (request.presence_penalty != null) config.presencePenalty = request.presence_penalty;
  if (request.frequency_penalty != null) config.frequencyPenalty = request.frequency_penalty;
  if (request.seed != null) config.seed = request.seed;
  if (request.stop != null)
    config.stopSequences = typeof request.stop === 'string' ? [request.stop] : request.stop;
  const format = request.response_format;
  if (format?.type === 'json_object' || format?.type === 'json_schema') {
    config.responseMimeType = 'application/json';
    const schema = format.json_schema?.schema;
    if (format.type === 'json_schema' && schema != null) config.responseJsonSchema = schema;
  }
  return config;
}

/** The generateContent body for a chat request (no model: it is in the URL). */
export function geminiBody(
  args: BuildRequestArgs,
): { ok: true; body: Record<string, unknown> } | { ok: false; status: number; message: string } {
  if (args.endpoint !== 'chat') {
    return {
      ok: false,
      status: 400,
      message: `the vertex-gemini backend ${args.backend.id} serves only chat completions`,
    };
  }
  const parsed = chatRequest.safeParse(args.body);
  if (!parsed.success) {
    return {
      ok: false,
      status: 400,
      message: `invalid request for the vertex-gemini backend: ${describeError(parsed.error)}`,
    };
  }
  const request = parsed.data;
  const problem = unsupported(request);
  if (problem !== undefined) return { ok: false, status: 400, message: problem };
  let translated: ReturnType<typeof toContents>;
  try {
    translated = toContents(request.messages);
  } catch (err) {
    if (err instanceof BadRequest) return { ok: false, status: 400, message: err.message };
    throw err;
  }
  const body: Record<string, unknown> = { contents: translated.contents };
  if (translated.system.length > 0)
    body.systemInstruction = { parts: [{ text: translated.system.join('\n\n') }] };
  if (request.tools != null && request.tools.length > 0) {
    body.tools = [
      {
        functionDeclarations: request.tools.map(({ function: fn }) => {
          const declaration: Record<string, unknown> = { name: fn.name };
          if (fn.description != null) declaration.description = fn.description;
          // JSON Schema as OpenAI clients write it; `parameters` takes only an OpenAPI subset.
          if (fn.parameters != null) declaration.parametersJsonSchema = fn.parameters;
          return declaration;
        }),
      },
    ];
  }
  const tools = toolConfig(request);
  if (tools !== undefined) body.toolConfig = tools;
  const config = generationConfig(args, request);
  if (Object.keys(config).length > 0) body.generationConfig = config;
  return { ok: true, body };
}

function buildRequest(args: BuildRequestArgs): BuildResult {
  const model = publisherModelUrl(args.backend, 'google');
  if (model === undefined)
    return { ok: false, status: 500, message: missingVertexSettings(args.backend) };
  const built = geminiBody(args);
  if (!built.ok) return built;
  return {
    ok: true,
    request: {
      url: args.stream ? `${model}:streamGenerateContent?alt=sse` : `${model}:generateContent`,
      method: 'POST',
      headers: { ...jsonHeaders(args.stream), ...googleAuthHeaders(args.auth) },
      body: JSON.stringify(built.body),
    },
  };
}

// ---------------------------------------------------------------------------
// Response: GenerateContentResponse -> Chat Completions

const usageMetadata = z.looseObject({
  promptTokenCount: z.number().nullish(),
  candidatesTokenCount: z.number().nullish(),
  totalTokenCount: z.number().nullish(),
  cachedContentTokenCount: z.number().nullish(),
  thoughtsTokenCount: z.number().nullish(),
});
type UsageMetadata = z.infer<typeof usageMetadata>;

const responsePart = z.looseObject({
  text: z.string().optional(),
  thought: z.boolean().optional(),
  thoughtSignature: z.string().optional(),
  functionCall: z
    .looseObject({ id: z.string().optional(), name: z.string(), args: z.unknown().optional() })
    .optional(),
});
const generateContentResponse = z.looseObject({
  candidates: z
    .array(
      z.looseObject({
        content: z.looseObject({ parts: z.array(responsePart).nullish() }).nullish(),
        finishReason: z.string().nullish(),
      }),
    )
    .nullish(),
  promptFeedback: z.looseObject({ blockReason: z.string().nullish() }).nullish(),
  usageMetadata: usageMetadata.nullish(),
  responseId: z.string().nullish(),
});
type GenerateContentResponse = z.infer<typeof generateContentResponse>;

const FINISH_REASONS: Record<string, string> = {
  STOP: 'stop',
  MAX_TOKENS: 'length',
  SAFETY: 'content_filter',
  RECITATION: 'content_filter',
  BLOCKLIST: 'content_filter',
  PROHIBITED_CONTENT: 'content_filter',
  SPII: 'content_filter',
  IMAGE_SAFETY: 'content_filter',
  MODEL_ARMOR: 'content_filter',
};

/** OpenAI's finish_reason; a turn that called functions ends in tool_calls. */
function finishReason(reason: string, calledFunctions: boolean): string {
  const mapped = FINISH_REASONS[reason] ?? 'stop';
  return calledFunctions && mapped === 'stop' ? 'tool_calls' : mapped;
}

/** Gemini counts cached tokens inside promptTokenCount, as OpenAI does; thinking is output. */
function toUsage(u: UsageMetadata): Usage {
  const promptTokens = u.promptTokenCount ?? 0;
  const completionTokens = (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0);
  const usage: Usage = {
    promptTokens,
    completionTokens,
    totalTokens: u.totalTokenCount ?? promptTokens + completionTokens,
  };
  if (u.cachedContentTokenCount != null) usage.cachedPromptTokens = u.cachedContentTokenCount;
  return usage;
}

interface CandidateOutput {
  text: string | null;
  calls: {
    id: string | undefined;
    name: string;
    arguments: string;
    signature: string | undefined;
  }[];
  finish: string | undefined;
}

/** The text (thoughts left out) and function calls of the first candidate, and why it stopped. */
function readCandidate(response: GenerateContentResponse): CandidateOutput {
  const candidate = response.candidates?.[0];
  let text: string | null = null;
  const calls: CandidateOutput['calls'] = [];
  for (const part of candidate?.content?.parts ?? []) {
    if (part.text !== undefined && part.thought !== true) text = (text ?? '') + part.text;
    if (part.functionCall !== undefined) {
      const { id, name, args } = part.functionCall;
      calls.push({
        id,
        name,
        arguments: JSON.stringify(args ?? {}),
        signature: part.thoughtSignature,
      });
    }
  }
  let finish = candidate?.finishReason ?? undefined;
  // A prompt Google blocked has no candidates at all, only promptFeedback.
  if (candidate === undefined && response.promptFeedback?.blockReason) finish = 'SAFETY';
  return { text, calls, finish };
}

function parseJson(body: string, what: string): GenerateContentResponse {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new Error(`vertex-gemini returned ${what} that is not JSON: ${preview(body)}`);
  }
  const parsed = generateContentResponse.safeParse(json);
  if (!parsed.success)
    throw new Error(`vertex-gemini returned an unexpected ${what}: ${preview(body)}`);
  return parsed.data;
}

/**
 * Gemini 3 signs its function calls (thoughtSignature) and refuses a later
 * turn that does not send the signature back with the call. OpenAI's tool
 * call has no field for it, so it rides in the id, which clients send back
 * unchanged, after this mark.
 */
const SIGNATURE_MARK = ':ts:';

function thoughtSignatureOf(toolCallId: string): string | undefined {
  const at = toolCallId.indexOf(SIGNATURE_MARK);
  return at === -1 ? undefined : toolCallId.slice(at + SIGNATURE_MARK.length);
}

function callId(
  responseId: string,
  index: number,
  call: { id: string | undefined; signature: string | undefined },
): string {
  const id = call.id ?? `call_${responseId}_${index}`;
  return call.signature ? `${id}${SIGNATURE_MARK}${call.signature}` : id;
}

function parseResponse(args: { body: string; responseModel: string }): BufferedResult {
  const response = parseJson(args.body, 'a body');
  const { text, calls, finish } = readCandidate(response);
  const responseId = response.responseId ?? `gemini${Date.now().toString(36)}`;
  const message: Record<string, unknown> = { role: 'assistant', content: text };
  if (calls.length > 0) {
    message.tool_calls = calls.map((call, i) => ({
      id: callId(responseId, i, call),
      type: 'function',
      function: { name: call.name, arguments: call.arguments },
    }));
  }
  const usage = response.usageMetadata ? toUsage(response.usageMetadata) : undefined;
  const body: Record<string, unknown> = {
    id: `chatcmpl-${responseId}`,
    object: 'chat.completion',
    created: nowSeconds(),
    model: args.responseModel,
    choices: [
      { index: 0, message, finish_reason: finishReason(finish ?? 'STOP', calls.length > 0) },
    ],
  };
  if (usage) body.usage = usageToOpenAI(usage);
  return { body: JSON.stringify(body), usage };
}

// ---------------------------------------------------------------------------
// Streams: SSE of GenerateContentResponse -> chat.completion.chunk events

/**
 * Gemini streams whole GenerateContentResponse objects: text in pieces,
 * function calls whole, finishReason and the final usage on the last one; the
 * stream then just ends (no closing event), so it is complete once a
 * finishReason arrived.
 */
export class GeminiStreamTranslator implements CompletableStreamTranslator {
  private readonly parser = new SseParser();
  private readonly out: ChatChunks;
  private started = false;
  private usage: UsageMetadata | undefined;
  private toolCalls = 0;
  private finished = false;
  private failed = false;

  constructor(private readonly args: StreamTranslatorArgs) {
    this.out = new ChatChunks(args.responseModel);
  }

  get complete(): boolean {
    return this.finished && !this.failed;
  }

  push(chunk: Buffer): string {
    return this.translateAll(() => this.parser.push(chunk));
  }

  end(): { tail: string; usage: Usage | undefined } {
    let tail = this.translateAll(() => this.parser.end());
    const usage = this.usage ? toUsage(this.usage) : undefined;
    if (this.complete) {
      if (this.args.clientWantsUsage && usage)
        tail += this.out.event({ choices: [], usage: usageToOpenAI(usage) });
      tail += DONE_EVENT;
    }
    return { tail, usage };
  }

  private translateAll(next: () => SseEvent[]): string {
    let out = '';
    try {
      for (const event of next()) {
        if (this.failed) break;
        out += this.translate(event);
      }
    } catch (err) {
      if (this.failed) return out;
      out += this.fail(err instanceof Error ? err.message : String(err), 'invalid_upstream_stream');
    }
    return out;
  }

  private translate(event: SseEvent): string {
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      throw new Error(`vertex-gemini sent an event that is not JSON: ${preview(event.data)}`);
    }
    if (isRecord(data) && isRecord(data.error)) {
      const message = typeof data.error.message === 'string' ? data.error.message : undefined;
      const status = typeof data.error.status === 'string' ? data.error.status : 'api_error';
      return this.fail(message ?? 'vertex-gemini reported an error mid-stream', status);
    }
    const parsed = generateContentResponse.safeParse(data);
    if (!parsed.success)
      throw new Error(`vertex-gemini sent an unexpected event: ${preview(event.data)}`);
    const response = parsed.data;
    if (response.usageMetadata) this.usage = response.usageMetadata;
    let out = '';
    if (!this.started) {
      this.started = true;
      this.out.id = `chatcmpl-${response.responseId ?? `gemini${Date.now().toString(36)}`}`;
      out += this.out.delta({ role: 'assistant', content: '' });
    }
    const { text, calls, finish } = readCandidate(response);
    if (text) out += this.out.delta({ content: text });
    for (const call of calls) {
      const index = this.toolCalls++;
      out += this.out.delta({
        tool_calls: [
          {
            index,
            id: callId(this.out.id.replace(/^chatcmpl-/, ''), index, call),
            type: 'function',
            function: { name: call.name, arguments: call.arguments },
          },
        ],
      });
    }
    if (finish !== undefined && !this.finished) {
      this.finished = true;
      out += this.out.delta({}, finishReason(finish, this.toolCalls > 0));
    }
    return out;
  }

  private fail(message: string, type: string): string {
    this.failed = true;
    return streamErrorEvent(message, type);
  }
}

// ---------------------------------------------------------------------------

/**
 * Google's `{"error":{"code","message","status"}}` (streamGenerateContent
 * wraps it in an array); the status name (PERMISSION_DENIED, ...) leads the
 * message, as it says what to fix.
 */
export function googleErrorMessage(status: number, body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return errorText(status, undefined);
  }
  const first: unknown = Array.isArray(parsed) ? parsed[0] : parsed;
  const error = isRecord(first) ? first.error : undefined;
  if (!isRecord(error)) return errorText(status, undefined);
  const message = typeof error.message === 'string' ? error.message : undefined;
  const name = typeof error.status === 'string' ? error.status : undefined;
  return errorText(status, name && message ? `${name}: ${message}` : (message ?? name));
}

/**
 * models: countTokens on the backend's own model. It is free, authenticated
 * and checks what a call needs (the project's permission, the location, the
 * model's name), where a GET of the publisher model would pass for any
 * project. completion: generateContent with one output token.
 */
function probeRequest({ backend, kind, auth }: ProbeArgs): ProbeRequest {
  const model = publisherModelUrl(backend, 'google');
  if (model === undefined) throw new Error(missingVertexSettings(backend));
  const contents = [{ role: 'user', parts: [{ text: 'ping' }] }];
  const headers = { 'content-type': 'application/json', ...googleAuthHeaders(auth) };
  return kind === 'models'
    ? { url: `${model}:countTokens`, method: 'POST', headers, body: JSON.stringify({ contents }) }
    : {
        url: `${model}:generateContent`,
        method: 'POST',
        headers,
        body: JSON.stringify({ contents, generationConfig: { maxOutputTokens: 1 } }),
      };
}

export const vertexGeminiAdapter: SyncProviderAdapter = {
  telemetryName: 'gcp.vertex_ai',
  supports: (endpoint) => endpoint === 'chat',
  buildRequest,
  probeRequest,
  parseResponse,
  createStreamTranslator: (args) => new GeminiStreamTranslator(args),
  errorMessage: googleErrorMessage,
};
