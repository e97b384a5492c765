import type OpenAI from 'openai';
import type { CompiledBackend } from '../../routing/table.js';
import { testBackend } from '../__fixtures__/backend.js';
import type { BuildRequestArgs } from '../types.js';
import { anthropicVertexAdapter } from './adapter.js';

const backend = (overrides: Partial<CompiledBackend> = {}): CompiledBackend =>
  testBackend({
    id: 'default/claude',
    name: 'claude',
    provider: 'anthropic-vertex',
    baseUrl: 'https://us-east5-aiplatform.googleapis.com',
    model: 'claude-sonnet-4-5@20250929',
    vertex: { project: 'my-project', location: 'us-east5' },
    auth: { type: 'gcp', source: 'default' },
    pricing: { inputPerMillion: 3, outputPerMillion: 15, cachedInputPerMillion: 0.3 },
    ...overrides,
  });

const MODEL_URL =
  'https://us-east5-aiplatform.googleapis.com/v1/projects/my-project/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929';

const args = (
  body: Record<string, unknown>,
  overrides: Partial<BuildRequestArgs> = {},
): BuildRequestArgs => ({
  backend: backend(),
  endpoint: 'chat',
  body: { model: 'alias', messages: [{ role: 'user', content: 'hi' }], ...body },
  stream: false,
  auth: { kind: 'bearer', token: 'ya29.token' },
  ...overrides,
});

function request(overrides: Partial<BuildRequestArgs> = {}, body: Record<string, unknown> = {}) {
  const result = anthropicVertexAdapter.buildRequest(args(body, overrides));
  if (!result.ok) throw new Error(`unexpected ${result.status}: ${result.message}`);
  return result.request;
}

describe('anthropic-vertex request', () => {
  test('rawPredict with the Messages body, without model, with Vertex anthropic_version', () => {
    const req = request(
      {},
      {
        max_tokens: 50,
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'hi' },
        ],
      },
    );
    expect(req.url).toBe(`${MODEL_URL}:rawPredict`);
    expect(req.headers).toMatchObject({
      authorization: 'Bearer ya29.token',
      'content-type': 'application/json',
    });
    expect(req.headers).not.toHaveProperty('x-api-key');
    expect(req.headers).not.toHaveProperty('anthropic-version');
    expect(JSON.parse(req.body)).toEqual({
      anthropic_version: 'vertex-2023-10-16',
      max_tokens: 50,
      system: 'Be brief.',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
    });
  });

  test('streams go to streamRawPredict with stream: true', () => {
    const req = request({ stream: true });
    expect(req.url).toBe(`${MODEL_URL}:streamRawPredict`);
    expect(JSON.parse(req.body)).toMatchObject({ stream: true });
    expect(req.headers.accept).toBe('text/event-stream');
  });

  test('tools translate as for Anthropic', () => {
    const body = JSON.parse(
      request(
        {},
        {
          tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
          tool_choice: 'required',
        },
      ).body,
    ) as Record<string, unknown>;
    expect(body.tools).toEqual([{ name: 'f', input_schema: { type: 'object' } }]);
    expect(body.tool_choice).toEqual({ type: 'any' });
  });

  test('client mistakes and missing settings are refused', () => {
    const bad = anthropicVertexAdapter.buildRequest(args({ n: 3 }));
    expect(bad).toMatchObject({ ok: false, status: 400 });
    const noVertex = anthropicVertexAdapter.buildRequest(
      args({}, { backend: backend({ vertex: undefined }) }),
    );
    expect(noVertex).toMatchObject({ ok: false, status: 500 });
  });
});

describe('anthropic-vertex responses', () => {
  test('a Messages answer with tool use and cache reads', () => {
    const result = anthropicVertexAdapter.parseResponse({
      endpoint: 'chat',
      responseModel: 'claude',
      body: JSON.stringify({
        id: 'msg_vrtx_1',
        type: 'message',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool_use', id: 'toolu_1', name: 'f', input: { a: 1 } },
        ],
        stop_reason: 'tool_use',
        usage: { input_tokens: 10, output_tokens: 5, cache_read_input_tokens: 100 },
      }),
    });
    const json = JSON.parse(result.body) as OpenAI.ChatCompletion;
    expect(json.choices[0]?.finish_reason).toBe('tool_calls');
    expect(json.choices[0]?.message.tool_calls).toEqual([
      { id: 'toolu_1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
    ]);
    expect(result.usage).toEqual({
      promptTokens: 110,
      completionTokens: 5,
      totalTokens: 115,
      cachedPromptTokens: 100,
    });
  });

  test('the stream translator is Anthropic’s', () => {
    const t = anthropicVertexAdapter.createStreamTranslator({
      endpoint: 'chat',
      clientWantsUsage: false,
      responseModel: 'claude',
    });
    const out =
      t.push(
        Buffer.from(
          'event: message_start\ndata: {"type":"message_start","message":{"id":"m","usage":{"input_tokens":3,"output_tokens":1}}}\n\n' +
            'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}\n\n' +
            'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}\n\n' +
            'event: message_stop\ndata: {"type":"message_stop"}\n\n',
        ),
      ) + t.end().tail;
    expect(out).toContain('"content":"hi"');
    expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(t.complete).toBe(true);
  });

  test.each([
    [
      '{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}',
      'UNAUTHENTICATED: Request had invalid authentication credentials.',
    ],
    ['{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}', 'Overloaded'],
  ])('errors in Google’s and Anthropic’s shapes', (body, message) => {
    expect(anthropicVertexAdapter.errorMessage(401, body)).toBe(message);
  });
});

describe('anthropic-vertex probes', () => {
  const auth = { kind: 'bearer', token: 't' } as const;

  test('models: count-tokens (free), naming the model in the body', () => {
    const probe = anthropicVertexAdapter.probeRequest({ backend: backend(), kind: 'models', auth });
    expect(probe.url).toBe(
      'https://us-east5-aiplatform.googleapis.com/v1/projects/my-project/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict',
    );
    expect(probe.headers.authorization).toBe('Bearer t');
    expect(JSON.parse(probe.body ?? '')).toMatchObject({
      anthropic_version: 'vertex-2023-10-16',
      model: 'claude-sonnet-4-5@20250929',
    });
  });

  test('completion: rawPredict with one token', () => {
    const probe = anthropicVertexAdapter.probeRequest({
      backend: backend(),
      kind: 'completion',
      auth,
    });
    expect(probe.url).toBe(`${MODEL_URL}:rawPredict`);
    expect(JSON.parse(probe.body ?? '')).toMatchObject({ max_tokens: 1 });
  });
});
