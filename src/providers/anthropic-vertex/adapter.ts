// Adapter for Claude on Google Vertex AI: Anthropic's Messages API behind
// Vertex's rawPredict / streamRawPredict, with a Google access token. The
// translation is the anthropic adapter's; only the envelope differs: the
// model is in the URL, and the body names Vertex's anthropic_version.
import {
  AnthropicStreamTranslator,
  anthropicMessagesBody,
  parseMessagesResponse,
} from '../anthropic/adapter.js';
import { jsonHeaders } from '../shared/openai-shape.js';
import type {
  BuildRequestArgs,
  BuildResult,
  ProbeArgs,
  ProbeRequest,
  SyncProviderAdapter,
} from '../types.js';
import {
  googleAuthHeaders,
  googleErrorMessage,
  missingVertexSettings,
  publisherModelUrl,
} from '../vertex-gemini/adapter.js';

/** The Messages API version Vertex AI speaks (in the body, not a header). */
export const VERTEX_ANTHROPIC_VERSION = 'vertex-2023-10-16';

function buildRequest(args: BuildRequestArgs): BuildResult {
  const model = publisherModelUrl(args.backend, 'anthropic');
  if (model === undefined)
    return { ok: false, status: 500, message: missingVertexSettings(args.backend) };
  const built = anthropicMessagesBody(args);
  if (!built.ok) return built;
  const { model: _inUrl, ...body } = built.body;
  return {
    ok: true,
    request: {
      url: `${model}:${args.stream ? 'streamRawPredict' : 'rawPredict'}`,
      method: 'POST',
      headers: { ...jsonHeaders(args.stream), ...googleAuthHeaders(args.auth) },
      body: JSON.stringify({ anthropic_version: VERTEX_ANTHROPIC_VERSION, ...body }),
    },
  };
}

/**
 * models: Anthropic's token counting on Vertex (count-tokens:rawPredict),
 * free and authenticated, for the backend's model. completion: rawPredict
 * with one output token.
 */
function probeRequest({ backend, kind, auth }: ProbeArgs): ProbeRequest {
  const headers = { 'content-type': 'application/json', ...googleAuthHeaders(auth) };
  const messages = [{ role: 'user', content: 'ping' }];
  const url =
    kind === 'models'
      ? publisherModelUrl(backend, 'anthropic', 'count-tokens')
      : publisherModelUrl(backend, 'anthropic');
  if (url === undefined) throw new Error(missingVertexSettings(backend));
  const body =
    kind === 'models'
      ? { anthropic_version: VERTEX_ANTHROPIC_VERSION, model: backend.model, messages }
      : { anthropic_version: VERTEX_ANTHROPIC_VERSION, max_tokens: 1, messages };
  return { url: `${url}:rawPredict`, method: 'POST', headers, body: JSON.stringify(body) };
}

export const anthropicVertexAdapter: SyncProviderAdapter = {
  telemetryName: 'gcp.vertex_ai',
  supports: (endpoint) => endpoint === 'chat',
  buildRequest,
  probeRequest,
  parseResponse: parseMessagesResponse,
  createStreamTranslator: (args) => new AnthropicStreamTranslator(args),
  // Google's front end answers auth and quota errors in its shape, the model in Anthropic's.
  errorMessage: googleErrorMessage,
};
