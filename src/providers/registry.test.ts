import { PROVIDERS } from '../api/v1alpha1/index.js';
import { anthropicAdapter } from './anthropic/adapter.js';
import { azureOpenAIAdapter } from './azure-openai/adapter.js';
import { openaiAdapter } from './openai/adapter.js';
import { adapterFor } from './registry.js';

describe('adapterFor', () => {
  test.each([
    ['openai', openaiAdapter],
    ['openai-compatible', openaiAdapter],
    ['azure-openai', azureOpenAIAdapter],
    ['anthropic', anthropicAdapter],
  ] as const)('%s', (provider, adapter) => {
    expect(adapterFor(provider)).toBe(adapter);
  });

  test('every provider has an adapter whose translators report completeness', () => {
    for (const provider of PROVIDERS) {
      const t = adapterFor(provider).createStreamTranslator({
        endpoint: 'chat',
        clientWantsUsage: false,
        responseModel: 'm',
      });
      expect(t.complete).toBe(false);
    }
  });
});
