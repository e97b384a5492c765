import * as stable from '@opentelemetry/semantic-conventions';
import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import * as genai from './genai.js';
import {
  genAiOperationName,
  genAiProviderName,
  requestAttributes,
  responseAttributes,
} from './genai.js';

test('provider names follow gen_ai.provider.name well-known values', () => {
  expect(genAiProviderName('openai')).toBe(incubating.GEN_AI_PROVIDER_NAME_VALUE_OPENAI);
  expect(genAiProviderName('azure-openai')).toBe(
    incubating.GEN_AI_PROVIDER_NAME_VALUE_AZURE_AI_OPENAI,
  );
  expect(genAiProviderName('anthropic')).toBe(incubating.GEN_AI_PROVIDER_NAME_VALUE_ANTHROPIC);
  // OpenAI's API flavour; server.address / modelroute.backend tell the hosts apart.
  expect(genAiProviderName('openai-compatible')).toBe('openai');
});

test('operation names follow gen_ai.operation.name well-known values', () => {
  expect(genAiOperationName('chat')).toBe(incubating.GEN_AI_OPERATION_NAME_VALUE_CHAT);
  expect(genAiOperationName('completions')).toBe(
    incubating.GEN_AI_OPERATION_NAME_VALUE_TEXT_COMPLETION,
  );
  expect(genAiOperationName('embeddings')).toBe(incubating.GEN_AI_OPERATION_NAME_VALUE_EMBEDDINGS);
});

test('copied gen_ai.* constants match the installed semantic-conventions package', () => {
  const copied = Object.entries(genai).filter(([name]) => name.startsWith('ATTR_GEN_AI_'));
  expect(copied.length).toBeGreaterThanOrEqual(11);
  const upstream = incubating as unknown as Record<string, unknown>;
  for (const [name, value] of copied) expect([name, upstream[name]]).toEqual([name, value]);
});

test('copied server.* constants match the stable semantic conventions', () => {
  expect([genai.ATTR_SERVER_ADDRESS, genai.ATTR_SERVER_PORT]).toEqual([
    stable.ATTR_SERVER_ADDRESS,
    stable.ATTR_SERVER_PORT,
  ]);
});

test('requestAttributes: every field, with the convention names', () => {
  expect(
    requestAttributes({
      endpoint: 'chat',
      provider: 'azure-openai',
      requestModel: 'gpt-4o',
      maxTokens: 256,
      temperature: 0.2,
      topP: 0.9,
      stream: true,
      route: 'default/chat',
      backend: 'default/gpt-4o-eu',
      attempt: 2,
      serverAddress: 'myres.openai.azure.com',
      serverPort: 443,
    }),
  ).toEqual({
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'azure.ai.openai',
    'gen_ai.request.model': 'gpt-4o',
    'gen_ai.request.max_tokens': 256,
    'gen_ai.request.temperature': 0.2,
    'gen_ai.request.top_p': 0.9,
    'server.address': 'myres.openai.azure.com',
    'server.port': 443,
    'modelroute.route': 'default/chat',
    'modelroute.backend': 'default/gpt-4o-eu',
    'modelroute.attempt': 2,
    'modelroute.stream': true,
  });
});

test('requestAttributes omits what is not known (and keeps zero and false)', () => {
  expect(
    requestAttributes({
      endpoint: 'embeddings',
      provider: 'openai-compatible',
      requestModel: 'bge',
      temperature: 0,
      topP: Number.NaN,
      stream: false,
      route: 'r',
      backend: 'b',
      attempt: 1,
    }),
  ).toEqual({
    'gen_ai.operation.name': 'embeddings',
    'gen_ai.provider.name': 'openai',
    'gen_ai.request.model': 'bge',
    'gen_ai.request.temperature': 0,
    'modelroute.route': 'r',
    'modelroute.backend': 'b',
    'modelroute.attempt': 1,
    'modelroute.stream': false,
  });
});

test('responseAttributes: every field, and nothing for an empty input', () => {
  const reasons = ['stop'];
  const attrs = responseAttributes({
    responseModel: 'gpt-4o-2024-08-06',
    responseId: 'chatcmpl-123',
    finishReasons: reasons,
    inputTokens: 12,
    outputTokens: 0,
    costUsd: 0.00042,
  });
  expect(attrs).toEqual({
    'gen_ai.response.model': 'gpt-4o-2024-08-06',
    'gen_ai.response.id': 'chatcmpl-123',
    'gen_ai.response.finish_reasons': ['stop'],
    'gen_ai.usage.input_tokens': 12,
    'gen_ai.usage.output_tokens': 0,
    'modelroute.cost_usd': 0.00042,
  });
  reasons.push('length');
  expect(attrs['gen_ai.response.finish_reasons']).toEqual(['stop']);
  expect(responseAttributes({})).toEqual({});
});
