// Azure OpenAI deployment paths of the simulator: api-version, api-key, model from the deployment.
import {
  chatBody,
  json,
  post,
  type ChatCompletion,
  type EmbeddingList,
  type OpenAIError,
  type TextCompletion,
} from './__fixtures__/http.js';
import { startSimulatedBackend, type SimulatedBackend } from './index.js';

const V = 'api-version=2024-10-21';
let sim: SimulatedBackend;
beforeAll(async () => {
  sim = await startSimulatedBackend({ requireApiKey: 'azure-key', outputTokens: 3 });
});
afterAll(() => sim.close());

describe('Azure OpenAI paths', () => {
  test('chat on a deployment with api-version and api-key answers like OpenAI', async () => {
    const res = await post(
      `${sim.url}/openai/deployments/my-gpt/chat/completions?${V}`,
      { messages: [{ role: 'user', content: 'hi' }] },
      { 'api-key': 'azure-key' },
    );
    expect(res.status).toBe(200);
    const body = await json<ChatCompletion>(res);
    // No model in the body: the deployment name stands in for it.
    expect(body).toMatchObject({ object: 'chat.completion', model: 'my-gpt' });
    expect(sim.requests.at(-1)?.path).toBe(`/openai/deployments/my-gpt/chat/completions?${V}`);
  });

  test('completions and embeddings work on deployment paths too', async () => {
    const completion = await post(
      `${sim.url}/openai/deployments/d/completions?${V}`,
      { prompt: 'x' },
      { 'api-key': 'azure-key' },
    );
    expect((await json<TextCompletion>(completion)).object).toBe('text_completion');
    const embedding = await post(
      `${sim.url}/openai/deployments/d/embeddings?${V}`,
      { input: 'x' },
      { 'api-key': 'azure-key' },
    );
    expect((await json<EmbeddingList>(embedding)).data[0]?.embedding).toHaveLength(8);
  });

  test('a missing api-version is a 404, as Azure answers it', async () => {
    const res = await post(`${sim.url}/openai/deployments/my-gpt/chat/completions`, chatBody(), {
      'api-key': 'azure-key',
    });
    expect(res.status).toBe(404);
    expect((await json<OpenAIError>(res)).error.message).toBe('Resource not found');
  });

  test('the key must come in api-key: a Bearer token or a wrong key is a 401', async () => {
    const bearer = await post(`${sim.url}/openai/deployments/d/chat/completions?${V}`, chatBody(), {
      authorization: 'Bearer azure-key',
    });
    expect(bearer.status).toBe(401);
    expect((await json<OpenAIError>(bearer)).error.code).toBe('401');
    const wrong = await post(`${sim.url}/openai/deployments/d/chat/completions?${V}`, chatBody(), {
      'api-key': 'nope',
    });
    expect(wrong.status).toBe(401);
    await wrong.text();
  });
});

test('GET /openai/models (Azure model list) is served, for health probes', async () => {
  const sim = await startSimulatedBackend({ models: ['gpt-4o'] });
  try {
    const res = await fetch(`${sim.url}/openai/models?api-version=2024-10-21`);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { data: { id: string }[] }).data.map((m) => m.id)).toEqual([
      'gpt-4o',
    ]);
  } finally {
    await sim.close();
  }
});
