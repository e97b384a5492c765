// Adapter for Azure OpenAI: OpenAI's wire format behind per-deployment URLs,
// authenticated by an `api-key` header or an Entra ID token (Bearer), so
// everything but the request target and its credential is shared.
import {
  OPENAI_PATHS,
  bearerHeader,
  createOpenAIStreamTranslator,
  openaiRequestBody,
  parseOpenAIResponse,
  pingBody,
} from '../openai/adapter.js';
import { jsonHeaders, openaiErrorMessage } from '../shared/openai-shape.js';
import type { ProbeArgs, ProbeRequest, SyncProviderAdapter, UpstreamAuth } from '../types.js';

/** Keys go in `api-key`; Entra ID tokens as Bearer. */
function authHeaders(auth: UpstreamAuth | undefined): Record<string, string> {
  if (auth?.kind === 'api-key') return { 'api-key': auth.key };
  const authorization = bearerHeader(auth);
  return authorization === undefined ? {} : { authorization };
}

function probeRequest({ backend, kind, auth }: ProbeArgs): ProbeRequest {
  const apiVersion = encodeURIComponent(backend.azure?.apiVersion ?? '');
  const headers = authHeaders(auth);
  if (kind === 'models') {
    return {
      url: `${backend.baseUrl}/openai/models?api-version=${apiVersion}`,
      method: 'GET',
      headers,
    };
  }
  const deployment = encodeURIComponent(backend.azure?.deployment ?? '');
  return {
    url: `${backend.baseUrl}/openai/deployments/${deployment}/chat/completions?api-version=${apiVersion}`,
    method: 'POST',
    headers: { ...headers, 'content-type': 'application/json' },
    body: pingBody(backend.model),
  };
}

export const azureOpenAIAdapter: SyncProviderAdapter = {
  telemetryName: 'azure.ai.openai',
  supports: () => true,
  probeRequest,
  buildRequest(args) {
    const { azure, baseUrl, id } = args.backend;
    if (azure === undefined) {
      return {
        ok: false,
        status: 500,
        message: `backend ${id} uses provider azure-openai but has no azure deployment and apiVersion in the routing table`,
      };
    }
    const headers = { ...jsonHeaders(args.stream), ...authHeaders(args.auth) };
    const deployment = encodeURIComponent(azure.deployment);
    const apiVersion = encodeURIComponent(azure.apiVersion);
    return {
      ok: true,
      request: {
        url: `${baseUrl}/openai/deployments/${deployment}/${OPENAI_PATHS[args.endpoint]}?api-version=${apiVersion}`,
        method: 'POST',
        headers,
        body: openaiRequestBody(args),
      },
    };
  },
  parseResponse: parseOpenAIResponse,
  createStreamTranslator: createOpenAIStreamTranslator,
  errorMessage: openaiErrorMessage,
};
