// Calls to the Bedrock runtime (bedrock-runtime.<region>.amazonaws.com):
// model operation URLs and their credential, SigV4 with AWS credentials or a
// Bedrock API key as a Bearer token (no signature).
import { anthropicMessagesBody } from '../anthropic/adapter.js';
import { signRequest } from '../shared/sigv4.js';
import type {
  BuildRequestArgs,
  ProbeArgs,
  ProbeRequest,
  UpstreamAuth,
  UpstreamRequest,
} from '../types.js';

/** The SigV4 signing name of the Bedrock runtime (bedrock-runtime.<region>.amazonaws.com). */
export const BEDROCK_SIGNING_NAME = 'bedrock';

interface Unsigned {
  url: string;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: string | undefined;
}

/** The request's headers with the credential added; unchanged without one. */
export async function bedrockHeaders(
  request: Unsigned,
  auth: UpstreamAuth | undefined,
): Promise<Record<string, string>> {
  if (auth === undefined) return request.headers;
  if (auth.kind === 'api-key') return { ...request.headers, authorization: `Bearer ${auth.key}` };
  if (auth.kind === 'bearer') return { ...request.headers, authorization: `Bearer ${auth.token}` };
  const { headers } = await signRequest(request, {
    credentials: auth.credentials,
    region: auth.region,
    service: BEDROCK_SIGNING_NAME,
  });
  return headers;
}

/** The runtime's URL of one model operation; the model id (it may hold `:`, e.g. `...-v1:0`) is percent-encoded. */
export function modelUrl(baseUrl: string, modelId: string, operation: string): string {
  return `${baseUrl.replace(/\/+$/, '')}/model/${encodeURIComponent(modelId)}/${operation}`;
}

const COUNT_TOKENS_PROBE = {
  input: { converse: { messages: [{ role: 'user', content: [{ text: 'ping' }] }] } },
};

/**
 * Health probes. models: CountTokens, the runtime's one authenticated call
 * that runs no inference and is free (the runtime has no model list;
 * ListFoundationModels is on another host, which probes may not leave); it
 * also checks that the account has access to the model. completion: the
 * adapter's one-token call.
 */
export function runtimeProbe(
  { backend, kind, auth }: ProbeArgs,
  completion: { operation: string; body: unknown },
): Promise<ProbeRequest> {
  const call =
    kind === 'models' ? { operation: 'count-tokens', body: COUNT_TOKENS_PROBE } : completion;
  return modelCall({ backend, auth, ...call });
}

/** A POST of a JSON body to one model operation, with the credential added. */
export async function modelCall(args: {
  backend: { baseUrl: string; model: string };
  auth: UpstreamAuth | undefined;
  operation: string;
  /** The operation streams: the answer is an event stream. */
  stream?: boolean;
  body: unknown;
}): Promise<UpstreamRequest> {
  const unsigned = {
    url: modelUrl(args.backend.baseUrl, args.backend.model, args.operation),
    method: 'POST' as const,
    headers: {
      'content-type': 'application/json',
      accept: args.stream === true ? 'application/vnd.amazon.eventstream' : 'application/json',
    },
    body: JSON.stringify(args.body),
  };
  return { ...unsigned, headers: await bedrockHeaders(unsigned, args.auth) };
}

/** The Messages translation of a chat request (both Bedrock adapters start from it); its 400s name `provider`. */
export function messagesBodyFor(
  args: BuildRequestArgs,
  provider: string,
): ReturnType<typeof anthropicMessagesBody> {
  const translated = anthropicMessagesBody(args);
  if (translated.ok) return translated;
  return {
    ...translated,
    message: translated.message.replace(/anthropic backend/g, `${provider} backend`),
  };
}
