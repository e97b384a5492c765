// Picks the adapter for a backend's provider; the proxy's one entry point to provider dialects.
import type { CompiledBackend } from '../../routing/table.js';
import { anthropicAdapter } from './anthropic.js';
import { azureOpenAIAdapter } from './azure.js';
import { openaiAdapter, type CompletableProviderAdapter } from './openai.js';

export { anthropicAdapter } from './anthropic.js';
export { azureOpenAIAdapter } from './azure.js';
export {
  openaiAdapter,
  type CompletableProviderAdapter,
  type CompletableStreamTranslator,
} from './openai.js';
export { SseParser, type SseEvent, type SseParserOptions } from './sse.js';
export type * from './types.js';

const ADAPTERS: Record<CompiledBackend['provider'], CompletableProviderAdapter> = {
  openai: openaiAdapter,
  'openai-compatible': openaiAdapter,
  'azure-openai': azureOpenAIAdapter,
  anthropic: anthropicAdapter,
};

export function adapterFor(provider: CompiledBackend['provider']): CompletableProviderAdapter {
  return ADAPTERS[provider];
}
