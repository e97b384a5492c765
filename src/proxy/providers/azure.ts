// Adapter for Azure OpenAI: OpenAI's wire format behind per-deployment URLs
// and an `api-key` header, so everything but the request target is shared.
import {
  OPENAI_PATHS,
  createOpenAIStreamTranslator,
  jsonHeaders,
  openaiErrorMessage,
  openaiRequestBody,
  parseOpenAIResponse,
  type CompletableProviderAdapter,
} from './openai.js';

export const azureOpenAIAdapter: CompletableProviderAdapter = {
  supports: () => true,
  buildRequest(args) {
    const { azure, baseUrl, id } = args.backend;
    if (azure === undefined) {
      return {
        ok: false,
        status: 500,
        message: `backend ${id} uses provider azure-openai but has no azure deployment and apiVersion in the routing table`,
      };
    }
    const headers = jsonHeaders(args.stream);
    if (args.apiKey !== undefined) headers['api-key'] = args.apiKey;
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
