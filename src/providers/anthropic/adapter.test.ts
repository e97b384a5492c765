import OpenAI from 'openai';
import type { CompiledBackend } from '../../routing/table.js';
import { testBackend } from '../__fixtures__/backend.js';
import { seededRandom } from '../../routing/random.js';
import { anthropicAdapter } from './adapter.js';
import type { BuildRequestArgs, Usage } from '../types.js';

const backend = (overrides: Partial<CompiledBackend> = {}): CompiledBackend =>
  testBackend({
    id: 'default/claude',
    name: 'claude',
    provider: 'anthropic',
    baseUrl: 'https://api.anthropic.com',
    model: 'claude-sonnet-4-5',
    pricing: { inputPerMillion: 3, outputPerMillion: 15, cachedInputPerMillion: 0.3 },
    ...overrides,
  });

const args = (
  body: Record<string, unknown>,
  overrides: Partial<BuildRequestArgs> = {},
): BuildRequestArgs => ({
  backend: backend(),
  endpoint: 'chat',
  body: { model: 'alias', ...body },
  stream: false,
  auth: { kind: 'api-key', key: 'ant-key' },
  ...overrides,
});

function request(body: Record<string, unknown>, overrides: Partial<BuildRequestArgs> = {}) {
  const result = anthropicAdapter.buildRequest(args(body, overrides));
  if (!result.ok) throw new Error(`unexpected ${result.status}: ${result.message}`);
  return result.request;
}

interface MessagesBody {
  system?: string;
  messages: { role: string; content: unknown[] }[];
  [field: string]: unknown;
}

/** The translated Messages body for a chat body. */
const translate = (body: Record<string, unknown>, overrides: Partial<BuildRequestArgs> = {}) =>
  JSON.parse(request(body, overrides).body) as MessagesBody;

const user = (content: unknown) => ({ role: 'user', content });
const hi = [user('hi')];

describe('anthropic supports and target', () => {
  test('chat only', () => {
    expect(anthropicAdapter.supports('chat')).toBe(true);
    expect(anthropicAdapter.supports('completions')).toBe(false);
    expect(anthropicAdapter.supports('embeddings')).toBe(false);
  });

  test.each([
    ['https://api.anthropic.com', 'https://api.anthropic.com/v1/messages'],
    ['https://api.anthropic.com/v1', 'https://api.anthropic.com/v1/messages'],
    [
      'http://gateway.internal:8080/anthropic',
      'http://gateway.internal:8080/anthropic/v1/messages',
    ],
  ])('%s -> %s', (baseUrl, url) => {
    expect(request({ messages: hi }, { backend: backend({ baseUrl }) }).url).toBe(url);
  });

  test.each([
    [
      'key, default version, buffered',
      {},
      {
        'content-type': 'application/json',
        accept: 'application/json',
        'anthropic-version': '2023-06-01',
        'x-api-key': 'ant-key',
      },
    ],
    [
      'no key, configured version, streaming',
      {
        auth: undefined,
        stream: true,
        backend: backend({ anthropic: { version: '2024-01-01' } }),
      },
      {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        'anthropic-version': '2024-01-01',
      },
    ],
  ])('headers: %s', (_name, overrides, headers) => {
    const req = request({ messages: hi }, overrides);
    expect(req.headers).toEqual(headers);
    expect(req.headers).not.toHaveProperty('authorization');
  });

  test('a non-chat endpoint is refused', () => {
    const result = anthropicAdapter.buildRequest(args({ input: 'x' }, { endpoint: 'embeddings' }));
    expect(result).toMatchObject({ ok: false, status: 400 });
  });
});

describe('anthropic request translation', () => {
  test('minimal request: model, max_tokens default, blocks', () => {
    expect(translate({ messages: hi })).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
    });
  });

  test.each([
    ['max_tokens wins', { max_tokens: 10, max_completion_tokens: 20 }, 2000, 10],
    ['then max_completion_tokens', { max_completion_tokens: 20 }, 2000, 20],
    ['then the backend limit', {}, 2000, 2000],
    ['then 4096', {}, undefined, 4096],
    ['null counts as absent', { max_tokens: null }, undefined, 4096],
  ])('max_tokens: %s', (_name, fields, maxOutputTokens, expected) => {
    const b = backend(maxOutputTokens === undefined ? {} : { maxOutputTokens });
    expect(translate({ messages: hi, ...fields }, { backend: b }).max_tokens).toBe(expected);
  });

  test('system and developer messages become the top-level system, joined by blank lines', () => {
    const out = translate({
      messages: [
        { role: 'system', content: 'Be brief.' },
        {
          role: 'developer',
          content: [
            { type: 'text', text: 'Use French.' },
            { type: 'text', text: 'No emoji.' },
          ],
        },
        user('hi'),
        { role: 'system', content: 'Late rule.' },
      ],
    });
    expect(out.system).toBe('Be brief.\n\nUse French.\n\nNo emoji.\n\nLate rule.');
    expect(out.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'hi' }] }]);
  });

  test('images: data URLs become base64 sources, http(s) URLs url sources', () => {
    const out = translate({
      messages: [
        user([
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.jpg', detail: 'high' } },
        ]),
      ],
    });
    expect(out.messages[0]?.content).toEqual([
      { type: 'text', text: 'What is this?' },
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } },
      { type: 'image', source: { type: 'url', url: 'https://example.com/cat.jpg' } },
    ]);
  });

  test('tools, tool calls and tool results', () => {
    const out = translate({
      messages: [
        user('Weather in Paris and Oslo?'),
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'weather', arguments: '{"city":"Paris"}' },
            },
            {
              id: 'call_2',
              type: 'function',
              function: { name: 'weather', arguments: 'not json' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        { role: 'tool', tool_call_id: 'call_2', content: [{ type: 'text', text: '9C' }] },
      ],
      tools: [
        {
          type: 'function',
          function: {
            name: 'weather',
            description: 'Current weather',
            parameters: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
        { type: 'function', function: { name: 'noop' } },
      ],
      tool_choice: 'auto',
    });
    expect(out.messages).toEqual([
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Oslo?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } },
          { type: 'tool_use', id: 'call_2', name: 'weather', input: {} },
        ],
      },
      {
        role: 'user',
        content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '18C' },
          { type: 'tool_result', tool_use_id: 'call_2', content: [{ type: 'text', text: '9C' }] },
        ],
      },
    ]);
    expect(out.tools).toEqual([
      {
        name: 'weather',
        description: 'Current weather',
        input_schema: { type: 'object', properties: { city: { type: 'string' } } },
      },
      { name: 'noop', input_schema: { type: 'object' } },
    ]);
    expect(out.tool_choice).toEqual({ type: 'auto' });
  });

  test('consecutive same-role messages are merged; assistant text precedes its tool calls', () => {
    const out = translate({
      messages: [
        user('one'),
        user([{ type: 'text', text: 'two' }]),
        { role: 'assistant', content: 'thinking' },
        {
          role: 'assistant',
          content: [{ type: 'text', text: 'calling' }],
          tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{}' } }],
        },
        { role: 'tool', tool_call_id: 't', content: 'ok' },
        user('thanks'),
      ],
    });
    expect(out.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user']);
    expect(out.messages[1]?.content).toEqual([
      { type: 'text', text: 'thinking' },
      { type: 'text', text: 'calling' },
      { type: 'tool_use', id: 't', name: 'f', input: {} },
    ]);
    expect(out.messages[2]?.content).toEqual([
      { type: 'tool_result', tool_use_id: 't', content: 'ok' },
      { type: 'text', text: 'thanks' },
    ]);
  });

  test('empty texts are dropped and empty messages disappear', () => {
    const out = translate({ messages: [user('a'), { role: 'assistant', content: '' }, user('b')] });
    expect(out.messages).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b' },
        ],
      },
    ]);
  });

  test.each([
    ['a string', 'END', ['END']],
    ['an array', ['a', 'b'], ['a', 'b']],
  ])('stop as %s becomes stop_sequences', (_name, stop, sequences) => {
    expect(translate({ messages: hi, stop }).stop_sequences).toEqual(sequences);
  });

  test('sampling, user and stream pass; null and OpenAI-only fields are dropped', () => {
    const out = translate(
      {
        messages: hi,
        temperature: 0.3,
        top_p: 0.9,
        stop: null,
        user: 'u-42',
        seed: 1,
        presence_penalty: 0,
      },
      { stream: true },
    );
    expect(out).toEqual({
      model: 'claude-sonnet-4-5',
      max_tokens: 4096,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      temperature: 0.3,
      top_p: 0.9,
      metadata: { user_id: 'u-42' },
      stream: true,
    });
  });

  const weatherTool = [{ type: 'function', function: { name: 'weather' } }];
  test.each([
    ['auto', 'auto', undefined, { type: 'auto' }],
    ['required', 'required', undefined, { type: 'any' }],
    ['none', 'none', undefined, { type: 'none' }],
    [
      'a named function',
      { type: 'function', function: { name: 'weather' } },
      undefined,
      { type: 'tool', name: 'weather' },
    ],
    ['absent', undefined, undefined, undefined],
    [
      'parallel_tool_calls false',
      undefined,
      false,
      { type: 'auto', disable_parallel_tool_use: true },
    ],
    ['required, not parallel', 'required', false, { type: 'any', disable_parallel_tool_use: true }],
  ])('tool_choice %s', (_name, choice, parallel, expected) => {
    const body: Record<string, unknown> = { messages: hi, tools: weatherTool };
    if (choice !== undefined) body.tool_choice = choice;
    if (parallel !== undefined) body.parallel_tool_calls = parallel;
    expect(translate(body).tool_choice).toEqual(expected);
  });

  test.each([
    ['n > 1', { n: 2 }, /several choices/],
    ['logprobs', { logprobs: true }, /log probabilities/],
    ['top_logprobs', { top_logprobs: 2 }, /log probabilities/],
    [
      'json response_format',
      { response_format: { type: 'json_object' } },
      /response_format json_object/,
    ],
    ['no messages', { messages: [] }, /messages: /],
    ['missing messages', { messages: undefined }, /messages: /],
    ['unknown role', { messages: [{ role: 'function', content: 'x' }] }, /messages\[0\]\.role/],
    ['content not text', { messages: [user(42)] }, /messages\[0\]\.content: /],
    [
      'audio part',
      { messages: [user([{ type: 'input_audio', input_audio: { data: '', format: 'wav' } }])] },
      /messages\[0\]\.content\[0\]\.type: .*text and image_url/,
    ],
    [
      'image in a system message',
      {
        messages: [
          { role: 'system', content: [{ type: 'image_url', image_url: { url: 'https://x' } }] },
        ],
      },
      /messages\[0\]\.content\[0\]\.type: .*only text content/,
    ],
    [
      'ftp image',
      { messages: [user([{ type: 'image_url', image_url: { url: 'ftp://x/y.png' } }])] },
      /messages\[0\]\.content\[0\]\.image_url\.url/,
    ],
    [
      'tool without id',
      { messages: [{ role: 'tool', content: 'x' }] },
      /messages\[0\]\.tool_call_id/,
    ],
    [
      'tool call arguments not a string',
      {
        messages: [
          {
            role: 'assistant',
            tool_calls: [{ id: 'a', type: 'function', function: { name: 'f', arguments: {} } }],
          },
        ],
      },
      /messages\[0\]\.tool_calls\[0\]\.function\.arguments/,
    ],
    ['stop not strings', { stop: 5 }, /stop: /],
    ['bad max_tokens', { max_tokens: -1 }, /max_tokens/],
    [
      'non-function tool',
      { tools: [{ type: 'custom', custom: { name: 'x' } }] },
      /tools\[0\]\.type: .*only function tools/,
    ],
    ['bad tool_choice', { tool_choice: 'sometimes' }, /tool_choice/],
  ])('400: %s', (_name, fields, message) => {
    const result = anthropicAdapter.buildRequest(args({ messages: hi, ...fields }));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.status).toBe(400);
    expect(result.message).toMatch(message);
  });

  test('n = 1 and logprobs false are fine', () => {
    expect(() =>
      request({ messages: hi, n: 1, logprobs: false, response_format: { type: 'text' } }),
    ).not.toThrow();
  });
});

describe('anthropic parseResponse', () => {
  const message = (fields: Record<string, unknown>) =>
    JSON.stringify({
      id: 'msg_01',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5-20250929',
      content: [{ type: 'text', text: 'Hello!' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 5 },
      ...fields,
    });
  const parse = (body: string) =>
    anthropicAdapter.parseResponse({ endpoint: 'chat', body, responseModel: 'chat-default' });

  test('maps a text answer to chat.completion', () => {
    const before = Math.floor(Date.now() / 1000);
    const result = parse(message({}));
    const body = JSON.parse(result.body);
    expect(body).toEqual({
      id: 'msg_01',
      object: 'chat.completion',
      created: expect.any(Number),
      model: 'chat-default',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Hello!' }, finish_reason: 'stop' },
      ],
      usage: {
        prompt_tokens: 10,
        completion_tokens: 5,
        total_tokens: 15,
        prompt_tokens_details: { cached_tokens: 0 },
      },
    });
    expect(body.created).toBeGreaterThanOrEqual(before);
    expect(result.usage).toEqual({ promptTokens: 10, completionTokens: 5, totalTokens: 15 });
  });

  test('tool_use blocks become tool_calls; text blocks are joined', () => {
    const body = JSON.parse(
      parse(
        message({
          content: [
            { type: 'thinking', thinking: 'hmm', signature: 'x' },
            { type: 'text', text: 'Let me ' },
            { type: 'text', text: 'check.' },
            {
              type: 'tool_use',
              id: 'toolu_1',
              name: 'weather',
              input: { city: 'Paris', days: [1, 2] },
            },
          ],
          stop_reason: 'tool_use',
        }),
      ).body,
    );
    expect(body.choices[0]).toEqual({
      index: 0,
      message: {
        role: 'assistant',
        content: 'Let me check.',
        tool_calls: [
          {
            id: 'toolu_1',
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Paris","days":[1,2]}' },
          },
        ],
      },
      finish_reason: 'tool_calls',
    });
  });

  test('no text means null content', () => {
    const body = JSON.parse(
      parse(
        message({
          content: [{ type: 'tool_use', id: 't', name: 'f', input: {} }],
          stop_reason: 'tool_use',
        }),
      ).body,
    );
    expect(body.choices[0].message.content).toBeNull();
  });

  test.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['tool_use', 'tool_calls'],
    ['refusal', 'content_filter'],
    ['pause_turn', 'stop'],
    [null, 'stop'],
    ['something_new', 'stop'],
  ])('finish reason %s -> %s', (stopReason, finish) => {
    expect(
      JSON.parse(parse(message({ stop_reason: stopReason })).body).choices[0].finish_reason,
    ).toBe(finish);
  });

  test('cached and cache-creation tokens count as prompt tokens', () => {
    const result = parse(
      message({
        usage: {
          input_tokens: 10,
          cache_read_input_tokens: 100,
          cache_creation_input_tokens: 20,
          output_tokens: 5,
        },
      }),
    );
    expect(result.usage).toEqual({
      promptTokens: 130,
      completionTokens: 5,
      totalTokens: 135,
      cachedPromptTokens: 100,
      cacheWritePromptTokens: 20,
    });
    expect(JSON.parse(result.body).usage).toEqual({
      prompt_tokens: 130,
      completion_tokens: 5,
      total_tokens: 135,
      prompt_tokens_details: { cached_tokens: 100 },
    });
  });

  test.each([
    ['not JSON', 'upstream connect error', /not JSON/],
    ['not a message', '{"hello":"world"}', /unexpected message shape/],
  ])('throws on %s', (_name, body, error) => {
    expect(() => parse(body)).toThrow(error);
  });
});

// ---------------------------------------------------------------------------
// Streams

const ev = (type: string, data: Record<string, unknown>) =>
  `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;

/** Splits a string into 1..max code-point pieces. */
function fragments(text: string, rng: () => number, max = 6): string[] {
  const chars = [...text];
  const out: string[] = [];
  for (let i = 0; i < chars.length;) {
    const n = 1 + Math.floor(rng() * max);
    out.push(chars.slice(i, i + n).join(''));
    i += n;
  }
  return out;
}

const TEXT = 'Bonjour ! Voici la météo 🌦️ pour 東京 — "quoted" and\nnew lines.';
const ARGS = '{"city":"東京","units":"metric","days":[1,2,3]}';
const ARGS2 = '{"city":"Oslo"}';

function anthropicStream(rng: () => number, opts: { stopReason?: string } = {}): string {
  return [
    ev('message_start', {
      message: {
        id: 'msg_stream',
        type: 'message',
        role: 'assistant',
        content: [],
        model: 'claude-sonnet-4-5-20250929',
        stop_reason: null,
        usage: {
          input_tokens: 25,
          cache_read_input_tokens: 5,
          cache_creation_input_tokens: 0,
          output_tokens: 1,
        },
      },
    }),
    ev('content_block_start', { index: 0, content_block: { type: 'text', text: '' } }),
    ev('ping', {}),
    ...fragments(TEXT, rng).map((text) =>
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text } }),
    ),
    ev('content_block_stop', { index: 0 }),
    ev('content_block_start', {
      index: 1,
      content_block: { type: 'tool_use', id: 'toolu_A', name: 'weather', input: {} },
    }),
    ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '' } }),
    ...fragments(ARGS, rng).map((partial_json) =>
      ev('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json } }),
    ),
    ev('content_block_stop', { index: 1 }),
    ev('content_block_start', {
      index: 2,
      content_block: { type: 'tool_use', id: 'toolu_B', name: 'weather', input: {} },
    }),
    ...fragments(ARGS2, rng).map((partial_json) =>
      ev('content_block_delta', { index: 2, delta: { type: 'input_json_delta', partial_json } }),
    ),
    ev('content_block_stop', { index: 2 }),
    ev('message_delta', {
      delta: { stop_reason: opts.stopReason ?? 'tool_use', stop_sequence: null },
      usage: { output_tokens: 42 },
    }),
    ev('message_stop', {}),
  ].join('');
}

const STREAM_USAGE: Usage = {
  promptTokens: 30,
  completionTokens: 42,
  totalTokens: 72,
  cachedPromptTokens: 5,
};

/** Feeds `input` to a fresh translator in random-sized byte pieces. */
function translateStream(input: string, clientWantsUsage: boolean, rng: () => number) {
  const t = anthropicAdapter.createStreamTranslator({
    endpoint: 'chat',
    clientWantsUsage,
    responseModel: 'chat-default',
  });
  const bytes = Buffer.from(input);
  let out = '';
  for (let i = 0; i < bytes.length;) {
    const n = 1 + Math.floor(rng() * 64);
    const piece = t.push(bytes.subarray(i, i + n));
    expect(piece === '' || (piece.startsWith('data: ') && piece.endsWith('\n\n'))).toBe(true);
    out += piece;
    i += n;
  }
  const { tail, usage } = t.end();
  return { out: out + tail, tail, usage, complete: t.complete };
}

/** Our output is always `data: <one-line JSON>\n\n`. */
function events(out: string): string[] {
  expect(out.endsWith('\n\n')).toBe(true);
  return out
    .slice(0, -2)
    .split('\n\n')
    .map((e) => {
      expect(e.startsWith('data: ')).toBe(true);
      return e.slice('data: '.length);
    });
}

interface ToolCallDelta {
  index: number;
  id?: string;
  function: { name?: string; arguments: string };
}

interface Delta {
  role?: string;
  content?: string;
  tool_calls?: ToolCallDelta[];
}

interface Chunk {
  id: string;
  object: string;
  model: string;
  choices: { index: number; delta: Delta; finish_reason: string | null }[];
  usage?: unknown;
}

function chunks(out: string): Chunk[] {
  const data = events(out);
  expect(data.at(-1)).toBe('[DONE]');
  return data.slice(0, -1).map((d) => JSON.parse(d) as Chunk);
}

describe('anthropic stream translator', () => {
  test.each([1, 2, 3, 4, 5, 6, 7, 8])(
    'random chunking (seed %i): text and tool arguments reassemble',
    (seed) => {
      const rng = seededRandom(seed);
      const { out, usage, complete, tail } = translateStream(anthropicStream(rng), false, rng);
      expect(complete).toBe(true);
      expect(tail.endsWith('data: [DONE]\n\n')).toBe(true);
      expect(usage).toEqual(STREAM_USAGE);
      const parsed = chunks(out);
      for (const c of parsed) {
        expect(c).toMatchObject({
          id: 'msg_stream',
          object: 'chat.completion.chunk',
          model: 'chat-default',
        });
        expect(c.choices).toHaveLength(1);
      }
      expect(parsed[0]?.choices[0]?.delta).toEqual({ role: 'assistant', content: '' });
      const content = parsed.map((c) => c.choices[0]?.delta.content ?? '').join('');
      expect(content).toBe(TEXT);
      const calls = new Map<number, { id?: string; name?: string; args: string }>();
      for (const c of parsed) {
        for (const d of c.choices[0]?.delta.tool_calls ?? []) {
          const call = calls.get(d.index) ?? { args: '' };
          if (d.id !== undefined) call.id = d.id;
          if (d.function.name !== undefined) call.name = d.function.name;
          call.args += d.function.arguments;
          calls.set(d.index, call);
        }
      }
      expect([...calls.entries()]).toEqual([
        [0, { id: 'toolu_A', name: 'weather', args: ARGS }],
        [1, { id: 'toolu_B', name: 'weather', args: ARGS2 }],
      ]);
      const finishes = parsed.map((c) => c.choices[0]?.finish_reason).filter((f) => f !== null);
      expect(finishes).toEqual(['tool_calls']);
      expect(parsed.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
    },
  );

  test('a usage chunk precedes [DONE] when the client asked for usage', () => {
    const rng = seededRandom(9);
    const { out } = translateStream(anthropicStream(rng, { stopReason: 'end_turn' }), true, rng);
    const parsed = chunks(out);
    const last = parsed.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({
      prompt_tokens: 30,
      completion_tokens: 42,
      total_tokens: 72,
      prompt_tokens_details: { cached_tokens: 5 },
    });
    expect(parsed.at(-2)?.choices[0]?.finish_reason).toBe('stop');
    expect(parsed.filter((c) => c.usage !== undefined)).toHaveLength(1);
  });

  test('the same output whichever byte the stream is split at', () => {
    const input = anthropicStream(seededRandom(11));
    const whole = (() => {
      const t = anthropicAdapter.createStreamTranslator({
        endpoint: 'chat',
        clientWantsUsage: true,
        responseModel: 'm',
      });
      return t.push(Buffer.from(input)) + t.end().tail;
    })();
    const bytes = Buffer.from(input);
    const strip = (s: string) => s.replace(/"created":\d+/g, '');
    for (let i = 0; i <= bytes.length; i += 3) {
      const t = anthropicAdapter.createStreamTranslator({
        endpoint: 'chat',
        clientWantsUsage: true,
        responseModel: 'm',
      });
      const out = t.push(bytes.subarray(0, i)) + t.push(bytes.subarray(i)) + t.end().tail;
      expect(strip(out)).toBe(strip(whole));
    }
  });

  test('an upstream error event becomes an OpenAI error event and the stream is not complete', () => {
    const input =
      anthropicStream(seededRandom(1)).split('event: content_block_stop')[0] +
      ev('error', { error: { type: 'overloaded_error', message: 'Overloaded' } }) +
      ev('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'ignored' } });
    const { out, complete, tail, usage } = translateStream(input, true, seededRandom(2));
    expect(complete).toBe(false);
    expect(tail).not.toContain('[DONE]');
    const data = events(out);
    expect(data.at(-1)).toBe('{"error":{"message":"Overloaded","type":"overloaded_error"}}');
    expect(out).not.toContain('ignored');
    expect(usage).toEqual({
      promptTokens: 30,
      completionTokens: 1,
      totalTokens: 31,
      cachedPromptTokens: 5,
    });
  });

  test('a stream cut before message_stop is not complete and has no [DONE]', () => {
    const input = anthropicStream(seededRandom(1)).split('event: message_delta')[0] ?? '';
    const { out, complete, tail } = translateStream(input, false, seededRandom(2));
    expect(complete).toBe(false);
    expect(tail).toBe('');
    expect(out).not.toContain('[DONE]');
  });

  test('a malformed upstream event fails the stream with an error event', () => {
    const input =
      ev('message_start', { message: { id: 'm', usage: { input_tokens: 1, output_tokens: 0 } } }) +
      'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta"}}\n\n' +
      'data: {not json\n\n';
    const { out, complete } = translateStream(input, false, seededRandom(1));
    const data = events(out);
    expect(data).toHaveLength(2);
    expect(JSON.parse(data[1] ?? '')).toEqual({
      error: {
        message: 'anthropic sent a malformed content_block_delta event',
        type: 'invalid_upstream_stream',
      },
    });
    expect(complete).toBe(false);
  });

  test('thinking blocks and unknown events are skipped', () => {
    const input =
      ev('message_start', { message: { id: 'm', usage: { input_tokens: 1, output_tokens: 0 } } }) +
      ev('content_block_start', { index: 0, content_block: { type: 'thinking', thinking: '' } }) +
      ev('content_block_delta', { index: 0, delta: { type: 'thinking_delta', thinking: 'hmm' } }) +
      ev('content_block_delta', {
        index: 0,
        delta: { type: 'signature_delta', signature: 'sig' },
      }) +
      ev('content_block_stop', { index: 0 }) +
      ev('brand_new_event', { stuff: 1 }) +
      ev('content_block_start', { index: 1, content_block: { type: 'text', text: 'Hi' } }) +
      ev('message_delta', { delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 3 } }) +
      ev('message_stop', {});
    const { out, usage } = translateStream(input, false, seededRandom(1));
    const parsed = chunks(out);
    expect(parsed.map((c) => c.choices[0])).toEqual([
      { index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null },
      { index: 0, delta: { content: 'Hi' }, finish_reason: null },
      { index: 0, delta: {}, finish_reason: 'length' },
    ]);
    expect(usage).toEqual({ promptTokens: 1, completionTokens: 3, totalTokens: 4 });
  });

  test('the openai SDK consumes the translated stream and assembles the message', async () => {
    const rng = seededRandom(21);
    const { out } = translateStream(anthropicStream(rng), true, rng);
    const client = new OpenAI({
      apiKey: 'unused',
      baseURL: 'http://proxy.test/v1',
      fetch: () =>
        Promise.resolve(
          new Response(out, { status: 200, headers: { 'content-type': 'text/event-stream' } }),
        ),
    });
    const stream = client.chat.completions.stream({
      model: 'chat-default',
      messages: [{ role: 'user', content: 'hi' }],
      stream_options: { include_usage: true },
    });
    const final = await stream.finalChatCompletion();
    expect(final.choices[0]?.message.content).toBe(TEXT);
    expect(
      final.choices[0]?.message.tool_calls?.map(
        (c) => c.type === 'function' && c.function.arguments,
      ),
    ).toEqual([ARGS, ARGS2]);
    expect(final.choices[0]?.finish_reason).toBe('tool_calls');
    expect(final.usage?.total_tokens).toBe(72);
  });

  test('the openai SDK accepts a translated buffered response', async () => {
    const { body } = anthropicAdapter.parseResponse({
      endpoint: 'chat',
      responseModel: 'chat-default',
      body: JSON.stringify({
        id: 'msg_1',
        type: 'message',
        content: [{ type: 'text', text: 'Hi' }],
        stop_reason: 'end_turn',
        usage: { input_tokens: 1, output_tokens: 1 },
      }),
    });
    const client = new OpenAI({
      apiKey: 'unused',
      baseURL: 'http://proxy.test/v1',
      fetch: () =>
        Promise.resolve(
          new Response(body, { status: 200, headers: { 'content-type': 'application/json' } }),
        ),
    });
    const completion = await client.chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
    });
    expect(completion.choices[0]?.message.content).toBe('Hi');
  });
});

describe('anthropic errorMessage', () => {
  test.each([
    [
      'Anthropic shape',
      529,
      '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_1"}',
      'Overloaded',
    ],
    ['not JSON', 502, 'Bad Gateway', 'upstream returned HTTP 502'],
    ['other JSON', 500, '{"oops":true}', 'upstream returned HTTP 500'],
  ])('%s', (_name, status, body, message) => {
    expect(anthropicAdapter.errorMessage(status, body)).toBe(message);
  });
});
