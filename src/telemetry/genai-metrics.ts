// The GenAI semconv labels of one upstream call, for the gen_ai_client_* metrics.
import type { CompiledBackend } from '../routing/table.js';
import type { Endpoint } from '../providers/types.js';
import { genAiOperationName, genAiProviderName } from './genai.js';
import type { GenAiCallLabels } from './proxy-metrics.js';

/**
 * The proxy sends the backend's model upstream (the client's `model` names a
 * route), and the adapters do not surface the model an answer names, so both
 * request and response model are the backend's, as on the call's span.
 */
export function genAiCallLabels(
  endpoint: Endpoint,
  backend: Pick<CompiledBackend, 'provider' | 'model'>,
): GenAiCallLabels {
  return {
    operation: genAiOperationName(endpoint),
    provider: genAiProviderName(backend.provider),
    requestModel: backend.model,
    responseModel: backend.model,
  };
}
