import type { CompiledBackend } from '../../routing/table.js';
import { testBackend } from '../__fixtures__/backend.js';
import { azureOpenAIAdapter } from './adapter.js';
import type { BuildRequestArgs, Endpoint } from '../types.js';

const backend = (overrides: Partial<CompiledBackend> = {}): CompiledBackend =>
  testBackend({
    id: 'team-a/gpt-azure',
    name: 'gpt-azure',
    provider: 'azure-openai',
    baseUrl: 'https://contoso.openai.azure.com',
    model: 'gpt-4o',
    azure: { deployment: 'gpt-4o prod', apiVersion: '2024-10-21' },
    pricing: { inputPerMillion: 2.5, outputPerMillion: 10, cachedInputPerMillion: 1.25 },
    ...overrides,
  });

const args = (overrides: Partial<BuildRequestArgs> = {}): BuildRequestArgs => ({
  backend: backend(),
  endpoint: 'chat',
  body: { model: 'alias', messages: [{ role: 'user', content: 'hi' }] },
  stream: false,
  auth: { kind: 'api-key', key: 'azure-key' },
  ...overrides,
});

function request(overrides: Partial<BuildRequestArgs> = {}) {
  const result = azureOpenAIAdapter.buildRequest(args(overrides));
  if (!result.ok) throw new Error(result.message);
  return result.request;
}

describe('azure-openai buildRequest', () => {
  test.each([
    ['chat', 'chat/completions'],
    ['completions', 'completions'],
    ['embeddings', 'embeddings'],
  ] as const)('%s goes to the deployment URL', (endpoint: Endpoint, path) => {
    expect(request({ endpoint }).url).toBe(
      `https://contoso.openai.azure.com/openai/deployments/gpt-4o%20prod/${path}?api-version=2024-10-21`,
    );
  });

  test('sends the key as api-key, never as Authorization', () => {
    expect(request().headers).toEqual({
      'content-type': 'application/json',
      accept: 'application/json',
      'api-key': 'azure-key',
    });
    expect(request({ auth: undefined }).headers).toEqual({
      'content-type': 'application/json',
      accept: 'application/json',
    });
  });

  test('body like openai: model replaced, usage requested when streaming', () => {
    const body = { model: 'alias', stream: true, stream_options: { x: 1 } };
    const req = request({ body, stream: true });
    expect(req.headers.accept).toBe('text/event-stream');
    expect(JSON.parse(req.body)).toEqual({
      model: 'gpt-4o',
      stream: true,
      stream_options: { x: 1, include_usage: true },
    });
  });

  test('a backend without azure settings is a 500 naming it', () => {
    const rest = backend();
    delete rest.azure;
    const result = azureOpenAIAdapter.buildRequest(args({ backend: rest }));
    expect(result).toEqual({
      ok: false,
      status: 500,
      message: expect.stringContaining('team-a/gpt-azure'),
    });
  });
});

describe('azure-openai responses (shared with openai)', () => {
  test('buffered body passes through with usage', () => {
    const body =
      '{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}';
    const result = azureOpenAIAdapter.parseResponse({ endpoint: 'chat', body, responseModel: 'x' });
    expect(result.body).toBe(body);
    expect(result.usage).toEqual({ promptTokens: 3, completionTokens: 2, totalTokens: 5 });
  });

  test('content-filter chunks with empty choices and no usage are forwarded', () => {
    const filter =
      'data: {"choices":[],"created":0,"id":"","model":"","object":"","prompt_filter_results":[{"prompt_index":0,"content_filter_results":{}}]}\n\n';
    const usage =
      'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}\n\n';
    const t = azureOpenAIAdapter.createStreamTranslator({
      endpoint: 'chat',
      clientWantsUsage: false,
      responseModel: 'x',
    });
    expect(t.push(Buffer.from(filter + usage + 'data: [DONE]\n\n'))).toBe(filter);
    expect(t.end().usage).toEqual({ promptTokens: 3, completionTokens: 2, totalTokens: 5 });
  });

  test('errorMessage reads the OpenAI error shape Azure uses', () => {
    const body =
      '{"error":{"code":"429","message":"Requests to the ChatCompletions_Create Operation have exceeded the rate limit."}}';
    expect(azureOpenAIAdapter.errorMessage(429, body)).toBe(
      'Requests to the ChatCompletions_Create Operation have exceeded the rate limit.',
    );
  });
});
