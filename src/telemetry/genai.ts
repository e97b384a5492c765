// Span attributes for LLM calls, following the OpenTelemetry GenAI semantic conventions.
import type { Attributes } from '@opentelemetry/api';
import type { Provider } from '../api/v1alpha1/modelbackend.js';
import { adapterFor } from '../providers/registry.js';
import type { Endpoint } from '../providers/types.js';

// The gen_ai.* names are copied rather than imported: in semantic-conventions
// 1.45 they exist only in the `incubating` entry point (which may break in
// minor releases and loads ~0.8 MB of constants) and are marked deprecated
// there, "moved to the GenAI semantic conventions repository", so they may
// vanish from the package while the names stay the same. Upstream advises
// copying incubating definitions; genai.test.ts checks these against the
// installed package while it still has them.
// server.* are stable names, copied too: the semantic-conventions package
// is ~300 KB of source and thousands of constants (0.7 MB of V8 heap in every
// sidecar) for these two; genai.test.ts checks them against it.
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const ATTR_GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const ATTR_GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';

// modelroute's own attributes: which routing decision produced the call.
export const ATTR_MODELROUTE_ROUTE = 'modelroute.route';
export const ATTR_MODELROUTE_BACKEND = 'modelroute.backend';
export const ATTR_MODELROUTE_ATTEMPT = 'modelroute.attempt';
export const ATTR_MODELROUTE_STREAM = 'modelroute.stream';
export const ATTR_MODELROUTE_COST_USD = 'modelroute.cost_usd';

const OPERATION_NAMES: Record<Endpoint, string> = {
  chat: 'chat',
  completions: 'text_completion',
  embeddings: 'embeddings',
};

/** gen_ai.provider.name: each adapter knows its own (providers/<name>/adapter.ts). */
export function genAiProviderName(provider: Provider): string {
  return adapterFor(provider).telemetryName;
}

export function genAiOperationName(endpoint: Endpoint): string {
  return OPERATION_NAMES[endpoint];
}

export interface RequestAttributesInput {
  endpoint: Endpoint;
  provider: Provider;
  requestModel: string;
  maxTokens?: number | undefined;
  temperature?: number | undefined;
  topP?: number | undefined;
  stream: boolean;
  route: string;
  backend: string;
  /** 1 for the first attempt, 2 for the first retry or fallback, ... */
  attempt: number;
  serverAddress?: string | undefined;
  serverPort?: number | undefined;
}

export interface ResponseAttributesInput {
  responseModel?: string | undefined;
  responseId?: string | undefined;
  finishReasons?: string[] | undefined;
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  costUsd?: number | undefined;
}

/** Attributes known when an upstream attempt starts (set them at span start, for samplers). */
export function requestAttributes(a: RequestAttributesInput): Attributes {
  return defined({
    [ATTR_GEN_AI_OPERATION_NAME]: genAiOperationName(a.endpoint),
    [ATTR_GEN_AI_PROVIDER_NAME]: genAiProviderName(a.provider),
    [ATTR_GEN_AI_REQUEST_MODEL]: a.requestModel,
    [ATTR_GEN_AI_REQUEST_MAX_TOKENS]: a.maxTokens,
    [ATTR_GEN_AI_REQUEST_TEMPERATURE]: a.temperature,
    [ATTR_GEN_AI_REQUEST_TOP_P]: a.topP,
    [ATTR_SERVER_ADDRESS]: a.serverAddress,
    [ATTR_SERVER_PORT]: a.serverPort,
    [ATTR_MODELROUTE_ROUTE]: a.route,
    [ATTR_MODELROUTE_BACKEND]: a.backend,
    [ATTR_MODELROUTE_ATTEMPT]: a.attempt,
    [ATTR_MODELROUTE_STREAM]: a.stream,
  });
}

/** Attributes learnt from the answer (set them before ending the span). */
export function responseAttributes(a: ResponseAttributesInput): Attributes {
  return defined({
    [ATTR_GEN_AI_RESPONSE_MODEL]: a.responseModel,
    [ATTR_GEN_AI_RESPONSE_ID]: a.responseId,
    // Copied: the caller's array may still be appended to while streaming.
    [ATTR_GEN_AI_RESPONSE_FINISH_REASONS]: a.finishReasons ? [...a.finishReasons] : undefined,
    [ATTR_GEN_AI_USAGE_INPUT_TOKENS]: a.inputTokens,
    [ATTR_GEN_AI_USAGE_OUTPUT_TOKENS]: a.outputTokens,
    [ATTR_MODELROUTE_COST_USD]: a.costUsd,
  });
}

type AttributeInput = string | number | boolean | string[] | undefined;

// OpenTelemetry drops undefined attribute values anyway, but omitting them
// keeps the returned objects exact for callers and tests. Non-finite numbers
// (NaN from a failed parse) are omitted too: exporters render them poorly.
function defined(record: Record<string, AttributeInput>): Attributes {
  const out: Attributes = {};
  for (const [key, value] of Object.entries(record)) {
    if (value === undefined) continue;
    if (typeof value === 'number' && !Number.isFinite(value)) continue;
    out[key] = value;
  }
  return out;
}
