import type { CompiledBackend } from '../../routing/table.js';
import { testBackend } from '../__fixtures__/backend.js';
import { encodeEvent, encodeException } from '../shared/event-stream.js';
import type { UpstreamAuth } from '../types.js';
import { anthropicBedrockAdapter } from './adapter.js';

const backend: CompiledBackend = testBackend({
  id: 'default/claude',
  name: 'claude',
  provider: 'anthropic-bedrock',
  baseUrl: 'https://bedrock-runtime.eu-central-1.amazonaws.com/',
  model: 'eu.anthropic.claude-sonnet-4-5-20250929-v1:0',
  bedrock: { region: 'eu-central-1' },
  pricing: { inputPerMillion: 3, outputPerMillion: 15, cachedInputPerMillion: 0.3 },
});

const AWS: UpstreamAuth = {
  kind: 'aws',
  region: 'eu-central-1',
  credentials: { accessKeyId: 'AKID', secretAccessKey: 'secret' },
};

const chunk = (event: Record<string, unknown>): Buffer =>
  encodeEvent('chunk', { bytes: Buffer.from(JSON.stringify(event)).toString('base64'), p: 'abc' });

describe('anthropic-bedrock requests', () => {
  test('the Messages body without model or stream, with the Bedrock anthropic_version, signed', async () => {
    const result = await anthropicBedrockAdapter.buildRequest({
      backend,
      endpoint: 'chat',
      body: {
        model: 'alias',
        messages: [
          { role: 'system', content: 'brief' },
          { role: 'user', content: 'hi' },
        ],
        max_tokens: 20,
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      },
      stream: true,
      auth: AWS,
    });
    if (!result.ok) throw new Error(result.message);
    expect(result.request.url).toBe(
      'https://bedrock-runtime.eu-central-1.amazonaws.com/model/eu.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream',
    );
    expect(JSON.parse(result.request.body)).toEqual({
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 20,
      system: 'brief',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      tools: [{ name: 'f', input_schema: { type: 'object' } }],
    });
    expect(result.request.headers.authorization).toMatch(
      /Credential=AKID\/\d{8}\/eu-central-1\/bedrock\/aws4_request/,
    );
    expect(result.request.headers['x-api-key']).toBeUndefined();
  });

  test('bad input is a 400 naming this backend kind', async () => {
    const result = await anthropicBedrockAdapter.buildRequest({
      backend,
      endpoint: 'chat',
      body: { messages: [], n: 1 },
      stream: false,
      auth: AWS,
    });
    expect(result).toMatchObject({ ok: false, status: 400 });
  });
});

describe('anthropic-bedrock answers', () => {
  test('buffered answers are Messages answers', () => {
    const result = anthropicBedrockAdapter.parseResponse({
      endpoint: 'chat',
      responseModel: 'alias',
      body: JSON.stringify({
        id: 'msg_1',
        type: 'message',
        role: 'assistant',
        content: [{ type: 'text', text: 'hello' }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 4, output_tokens: 2 },
      }),
    });
    expect(result.usage).toMatchObject({ promptTokens: 4, completionTokens: 2 });
    expect(JSON.parse(result.body).choices[0].message.content).toBe('hello');
  });

  test('stream chunks carry base64 Anthropic events', () => {
    const frames = Buffer.concat([
      chunk({
        type: 'message_start',
        message: { id: 'msg_1', usage: { input_tokens: 5, output_tokens: 1 } },
      }),
      chunk({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      chunk({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }),
      chunk({ type: 'content_block_stop', index: 0 }),
      chunk({
        type: 'message_delta',
        delta: { stop_reason: 'end_turn' },
        usage: { output_tokens: 3 },
      }),
      chunk({
        type: 'message_stop',
        'amazon-bedrock-invocationMetrics': { inputTokenCount: 5, outputTokenCount: 3 },
      }),
    ]);
    const t = anthropicBedrockAdapter.createStreamTranslator({
      endpoint: 'chat',
      clientWantsUsage: true,
      responseModel: 'alias',
    });
    let out = '';
    for (let i = 0; i < frames.length; i += 9) out += t.push(frames.subarray(i, i + 9));
    const { tail, usage } = t.end();
    out += tail;
    expect(t.complete).toBe(true);
    expect(usage).toMatchObject({ promptTokens: 5, completionTokens: 3 });
    expect(out).toContain('"content":"Hi"');
    expect(out).toContain('"finish_reason":"stop"');
    expect(out.endsWith('data: [DONE]\n\n')).toBe(true);
  });

  test('an exception frame becomes an error event', () => {
    const t = anthropicBedrockAdapter.createStreamTranslator({
      endpoint: 'chat',
      clientWantsUsage: false,
      responseModel: 'alias',
    });
    const out =
      t.push(
        Buffer.concat([
          chunk({ type: 'message_start', message: { id: 'm', usage: { input_tokens: 1 } } }),
          encodeException('modelStreamErrorException', 'model failed'),
        ]),
      ) + t.end().tail;
    expect(t.complete).toBe(false);
    expect(out).toContain('"error":{"message":"model failed","type":"modelStreamErrorException"}');
    expect(out).not.toContain('[DONE]');
  });

  test('probes', async () => {
    const models = await anthropicBedrockAdapter.probeRequest({
      backend,
      kind: 'models',
      auth: AWS,
    });
    expect(models.url).toMatch(/\/count-tokens$/);
    const completion = await anthropicBedrockAdapter.probeRequest({
      backend,
      kind: 'completion',
      auth: { kind: 'api-key', key: 'k' },
    });
    expect(completion.url).toMatch(/\/invoke$/);
    expect(completion.headers.authorization).toBe('Bearer k');
    expect(JSON.parse(completion.body ?? '')).toMatchObject({ max_tokens: 1 });
  });
});
