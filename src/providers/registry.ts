// Which adapter speaks each provider's dialect: the one list a new provider joins.
import type { Provider } from '../api/v1alpha1/index.js';
import { anthropicAdapter } from './anthropic/adapter.js';
import { anthropicBedrockAdapter } from './anthropic-bedrock/adapter.js';
import { anthropicVertexAdapter } from './anthropic-vertex/adapter.js';
import { azureOpenAIAdapter } from './azure-openai/adapter.js';
import { bedrockAdapter } from './bedrock/adapter.js';
import { openaiAdapter } from './openai/adapter.js';
import { vertexGeminiAdapter } from './vertex-gemini/adapter.js';
import type { ProviderAdapter } from './types.js';

const ADAPTERS: Record<Provider, ProviderAdapter> = {
  openai: openaiAdapter,
  'openai-compatible': openaiAdapter,
  'azure-openai': azureOpenAIAdapter,
  anthropic: anthropicAdapter,
  bedrock: bedrockAdapter,
  'anthropic-bedrock': anthropicBedrockAdapter,
  'vertex-gemini': vertexGeminiAdapter,
  'anthropic-vertex': anthropicVertexAdapter,
};

export function adapterFor(provider: Provider): ProviderAdapter {
  return ADAPTERS[provider];
}
