import type { CompiledBackend } from '../../routing/table.js';
import { testBackend } from '../__fixtures__/backend.js';
import { encodeEvent, encodeException } from '../shared/event-stream.js';
import type { BuildRequestArgs, UpstreamAuth, UpstreamRequest } from '../types.js';
import { bedrockAdapter } from './adapter.js';

const backend = (overrides: Partial<CompiledBackend> = {}): CompiledBackend =>
  testBackend({
    id: 'default/nova',
    name: 'nova',
    provider: 'bedrock',
    baseUrl: 'https://bedrock-runtime.us-east-1.amazonaws.com',
    model: 'anthropic.claude-3-haiku-20240307-v1:0',
    bedrock: { region: 'us-east-1' },
    pricing: { inputPerMillion: 1, outputPerMillion: 2, cachedInputPerMillion: 0.1 },
    ...overrides,
  });

const AWS: UpstreamAuth = {
  kind: 'aws',
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'session' },
};

async function request(
  body: Record<string, unknown>,
  overrides: Partial<BuildRequestArgs> = {},
): Promise<UpstreamRequest> {
  const result = await bedrockAdapter.buildRequest({
    backend: backend(),
    endpoint: 'chat',
    body: { model: 'alias', ...body },
    stream: false,
    auth: AWS,
    ...overrides,
  });
  if (!result.ok) throw new Error(`unexpected ${result.status}: ${result.message}`);
  return result.request;
}

const converse = async (body: Record<string, unknown>, overrides: Partial<BuildRequestArgs> = {}) =>
  JSON.parse((await request(body, overrides)).body) as Record<string, unknown>;

describe('bedrock Converse requests', () => {
  test('url, signature and Bedrock API keys', async () => {
    const signed = await request({ messages: [{ role: 'user', content: 'hi' }] });
    expect(signed.url).toBe(
      'https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse',
    );
    expect(signed.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/bedrock\/aws4_request, SignedHeaders=accept;content-type;host;x-amz-date;x-amz-security-token, Signature=[0-9a-f]{64}$/,
    );
    expect(signed.headers['x-amz-security-token']).toBe('session');

    const streamed = await request(
      { messages: [{ role: 'user', content: 'hi' }] },
      { stream: true },
    );
    expect(streamed.url).toMatch(/\/converse-stream$/);
    expect(streamed.headers.accept).toBe('application/vnd.amazon.eventstream');

    const keyed = await request(
      { messages: [{ role: 'user', content: 'hi' }] },
      { auth: { kind: 'api-key', key: 'ABSK-key' } },
    );
    expect(keyed.headers.authorization).toBe('Bearer ABSK-key');
    expect(keyed.headers['x-amz-date']).toBeUndefined();
  });

  test('messages, system, inference settings and tools', async () => {
    const body = await converse({
      messages: [
        { role: 'system', content: 'be brief' },
        { role: 'user', content: 'weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny' },
      ],
      max_tokens: 50,
      temperature: 0.2,
      top_p: 0.9,
      stop: 'END',
      tools: [
        {
          type: 'function',
          function: { name: 'weather', description: 'forecast', parameters: { type: 'object' } },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'weather' } },
    });
    expect(body).toEqual({
      system: [{ text: 'be brief' }],
      messages: [
        { role: 'user', content: [{ text: 'weather in Paris?' }] },
        {
          role: 'assistant',
          content: [
            { toolUse: { toolUseId: 'call_1', name: 'weather', input: { city: 'Paris' } } },
          ],
        },
        {
          role: 'user',
          content: [{ toolResult: { toolUseId: 'call_1', content: [{ text: 'sunny' }] } }],
        },
      ],
      inferenceConfig: { maxTokens: 50, temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
      toolConfig: {
        tools: [
          {
            toolSpec: {
              name: 'weather',
              description: 'forecast',
              inputSchema: { json: { type: 'object' } },
            },
          },
        ],
        toolChoice: { tool: { name: 'weather' } },
      },
    });
  });

  test('no max tokens unless asked; required tool choice is any', async () => {
    const body = await converse({
      messages: [{ role: 'user', content: 'x' }],
      tools: [{ type: 'function', function: { name: 'f' } }],
      tool_choice: 'required',
    });
    expect(body.inferenceConfig).toBeUndefined();
    expect(body.toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object' } } } }],
      toolChoice: { any: {} },
    });
  });

  test('tool_choice none offers no tools, unless the history has tool blocks', async () => {
    const tools = [{ type: 'function', function: { name: 'f' } }];
    const plain = await converse({
      messages: [{ role: 'user', content: 'x' }],
      tools,
      tool_choice: 'none',
    });
    expect(plain.toolConfig).toBeUndefined();
    const history = await converse({
      messages: [
        { role: 'user', content: 'x' },
        {
          role: 'assistant',
          tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 'c', content: 'done' },
      ],
      tools,
      tool_choice: 'none',
    });
    expect(history.toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'f', inputSchema: { json: { type: 'object' } } } }],
    });
  });

  test('images as bytes; URLs and other endpoints refused with a 400', async () => {
    const body = await converse({
      messages: [
        {
          role: 'user',
          content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }],
        },
      ],
    });
    expect(body.messages).toEqual([
      { role: 'user', content: [{ image: { format: 'png', source: { bytes: 'AAAA' } } }] },
    ]);
    const url = await bedrockAdapter.buildRequest({
      backend: backend(),
      endpoint: 'chat',
      body: {
        messages: [
          { role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png' } }] },
        ],
      },
      stream: false,
      auth: AWS,
    });
    expect(url).toMatchObject({
      ok: false,
      status: 400,
      message: expect.stringContaining('base64 data: URLs'),
    });
    const bad = await bedrockAdapter.buildRequest({
      backend: backend(),
      endpoint: 'chat',
      body: { messages: [{ role: 'robot', content: 'x' }] },
      stream: false,
      auth: AWS,
    });
    expect(bad).toMatchObject({
      ok: false,
      status: 400,
      message: expect.stringContaining('bedrock backend'),
    });
    expect(bedrockAdapter.supports('embeddings')).toBe(false);
  });
});

describe('bedrock Converse answers', () => {
  test('text, tool calls, finish reason and usage with cache reads', () => {
    const result = bedrockAdapter.parseResponse({
      endpoint: 'chat',
      responseModel: 'alias',
      body: JSON.stringify({
        output: {
          message: {
            role: 'assistant',
            content: [
              { text: 'Let me look.' },
              { toolUse: { toolUseId: 'tu1', name: 'weather', input: { city: 'Paris' } } },
            ],
          },
        },
        stopReason: 'tool_use',
        usage: { inputTokens: 10, outputTokens: 5, totalTokens: 15, cacheReadInputTokens: 100 },
      }),
    });
    expect(result.usage).toEqual({
      promptTokens: 110,
      completionTokens: 5,
      totalTokens: 115,
      cachedPromptTokens: 100,
    });
    const body = JSON.parse(result.body) as { choices: unknown[]; model: string; usage: unknown };
    expect(body.model).toBe('alias');
    expect(body.choices).toEqual([
      {
        index: 0,
        finish_reason: 'tool_calls',
        message: {
          role: 'assistant',
          content: 'Let me look.',
          tool_calls: [
            {
              id: 'tu1',
              type: 'function',
              function: { name: 'weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
      },
    ]);
  });

  test('max_tokens is length; a foreign body throws', () => {
    const result = bedrockAdapter.parseResponse({
      endpoint: 'chat',
      responseModel: 'm',
      body: JSON.stringify({
        output: { message: { content: [{ text: 'x' }] } },
        stopReason: 'max_tokens',
        usage: { inputTokens: 1, outputTokens: 1 },
      }),
    });
    expect(JSON.parse(result.body).choices[0].finish_reason).toBe('length');
    expect(() =>
      bedrockAdapter.parseResponse({ endpoint: 'chat', responseModel: 'm', body: '{}' }),
    ).toThrow(/unexpected Converse shape/);
  });

  test('error messages', () => {
    expect(bedrockAdapter.errorMessage(400, '{"message":"Malformed input request"}')).toBe(
      'Malformed input request',
    );
    expect(bedrockAdapter.errorMessage(403, '{"Message":"User is not authorized"}')).toBe(
      'User is not authorized',
    );
    expect(bedrockAdapter.errorMessage(500, 'oops')).toBe('upstream returned HTTP 500');
  });
});

interface Chunk {
  choices: { delta: Record<string, unknown>; finish_reason: string | null }[];
  usage?: Record<string, unknown>;
  error?: { message: string; type: string };
}

function events(text: string): (Chunk | '[DONE]')[] {
  return text
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e) => {
      const data = e.replace(/^data: /, '');
      return data === '[DONE]' ? '[DONE]' : (JSON.parse(data) as Chunk);
    });
}

describe('bedrock ConverseStream', () => {
  const frames = Buffer.concat([
    encodeEvent('messageStart', { role: 'assistant' }),
    encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'Hel' } }),
    encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'lo' } }),
    encodeEvent('contentBlockStop', { contentBlockIndex: 0 }),
    encodeEvent('contentBlockStart', {
      contentBlockIndex: 1,
      start: { toolUse: { toolUseId: 'tu1', name: 'weather' } },
    }),
    encodeEvent('contentBlockDelta', {
      contentBlockIndex: 1,
      delta: { toolUse: { input: '{"city":' } },
    }),
    encodeEvent('contentBlockDelta', {
      contentBlockIndex: 1,
      delta: { toolUse: { input: '"Paris"}' } },
    }),
    encodeEvent('contentBlockStop', { contentBlockIndex: 1 }),
    encodeEvent('messageStop', { stopReason: 'tool_use' }),
    encodeEvent('metadata', {
      usage: { inputTokens: 7, outputTokens: 3, totalTokens: 10, cacheWriteInputTokens: 2 },
      metrics: { latencyMs: 5 },
    }),
  ]);

  test('text, tool calls, finish, usage and [DONE], whatever the chunking', () => {
    for (const size of [1, 7, frames.length]) {
      const t = bedrockAdapter.createStreamTranslator({
        endpoint: 'chat',
        clientWantsUsage: true,
        responseModel: 'alias',
      });
      let out = '';
      for (let i = 0; i < frames.length; i += size) out += t.push(frames.subarray(i, i + size));
      const { tail, usage } = t.end();
      out += tail;
      expect(t.complete).toBe(true);
      expect(usage).toEqual({
        promptTokens: 9,
        completionTokens: 3,
        totalTokens: 12,
        cacheWritePromptTokens: 2,
      });
      const got = events(out);
      expect(got.at(-1)).toBe('[DONE]');
      const chunks = got.filter((e): e is Chunk => e !== '[DONE]');
      const text = chunks
        .map((c) => (c.choices[0]?.delta.content as string | undefined) ?? '')
        .join('');
      expect(text).toBe('Hello');
      const args = chunks
        .flatMap(
          (c) =>
            (c.choices[0]?.delta.tool_calls as { function: { arguments: string } }[] | undefined) ??
            [],
        )
        .map((c) => c.function.arguments)
        .join('');
      expect(args).toBe('{"city":"Paris"}');
      expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe(
        'tool_calls',
      );
      expect(chunks.at(-1)?.usage).toMatchObject({ prompt_tokens: 9, completion_tokens: 3 });
    }
  });

  test('usage stays internal unless the client asked', () => {
    const t = bedrockAdapter.createStreamTranslator({
      endpoint: 'chat',
      clientWantsUsage: false,
      responseModel: 'alias',
    });
    const out = t.push(frames) + t.end().tail;
    expect(events(out).some((e) => e !== '[DONE]' && e.usage !== undefined)).toBe(false);
  });

  test('an exception frame ends the stream with an error and no [DONE]', () => {
    const t = bedrockAdapter.createStreamTranslator({
      endpoint: 'chat',
      clientWantsUsage: false,
      responseModel: 'alias',
    });
    let out = t.push(
      Buffer.concat([
        encodeEvent('messageStart', { role: 'assistant' }),
        encodeException('throttlingException', 'Too many tokens, please wait'),
        encodeEvent('contentBlockDelta', { contentBlockIndex: 0, delta: { text: 'late' } }),
      ]),
    );
    out += t.end().tail;
    expect(t.complete).toBe(false);
    const last = events(out).at(-1);
    expect(last).toEqual({
      error: { message: 'Too many tokens, please wait', type: 'throttlingException' },
    });
    expect(out).not.toContain('late');
  });

  test('a corrupt frame is an error, a cut stream is incomplete', () => {
    const t = bedrockAdapter.createStreamTranslator({
      endpoint: 'chat',
      clientWantsUsage: false,
      responseModel: 'alias',
    });
    const corrupt = Buffer.from(frames.subarray(0, 40));
    corrupt.writeUInt8(corrupt.readUInt8(20) ^ 0xff, 20);
    expect(t.push(Buffer.concat([corrupt, frames]))).toContain('corrupt event stream');
    const cut = bedrockAdapter.createStreamTranslator({
      endpoint: 'chat',
      clientWantsUsage: false,
      responseModel: 'alias',
    });
    cut.push(frames.subarray(0, 60));
    expect(cut.end().tail).toBe('');
    expect(cut.complete).toBe(false);
  });
});

describe('bedrock probes', () => {
  test('models is a signed CountTokens call, completion a one-token Converse', async () => {
    const models = await bedrockAdapter.probeRequest({
      backend: backend(),
      kind: 'models',
      auth: AWS,
    });
    expect(models.url).toMatch(/\/model\/anthropic\.claude-3-haiku-20240307-v1%3A0\/count-tokens$/);
    expect(models.method).toBe('POST');
    expect(models.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 /);
    const completion = await bedrockAdapter.probeRequest({
      backend: backend(),
      kind: 'completion',
      auth: undefined,
    });
    expect(completion.url).toMatch(/\/converse$/);
    expect(JSON.parse(completion.body ?? '')).toMatchObject({ inferenceConfig: { maxTokens: 1 } });
    expect(completion.headers.authorization).toBeUndefined();
  });
});
