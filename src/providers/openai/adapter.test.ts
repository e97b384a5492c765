import type { CompiledBackend } from '../../routing/table.js';
import { testBackend } from '../__fixtures__/backend.js';
import { seededRandom } from '../../routing/random.js';
import { openaiAdapter } from './adapter.js';
import type { Endpoint, StreamTranslator } from '../types.js';

const backend = (overrides: Partial<CompiledBackend> = {}): CompiledBackend =>
  testBackend({
    id: 'default/gpt',
    name: 'gpt',
    provider: 'openai',
    baseUrl: 'https://api.openai.com/v1',
    model: 'gpt-4o-mini-2024-07-18',
    pricing: { inputPerMillion: 0.15, outputPerMillion: 0.6, cachedInputPerMillion: 0.075 },
    ...overrides,
  });

function build(
  endpoint: Endpoint,
  body: Record<string, unknown>,
  opts: { stream?: boolean; apiKey?: string } = {},
) {
  const result = openaiAdapter.buildRequest({
    backend: backend(),
    endpoint,
    body,
    stream: opts.stream ?? false,
    auth: opts.apiKey === undefined ? undefined : { kind: 'api-key', key: opts.apiKey },
  });
  if (!result.ok) throw new Error(result.message);
  return result.request;
}

describe('openai buildRequest', () => {
  test.each([
    ['chat', 'https://api.openai.com/v1/chat/completions'],
    ['completions', 'https://api.openai.com/v1/completions'],
    ['embeddings', 'https://api.openai.com/v1/embeddings'],
  ] as const)('%s goes to %s', (endpoint, url) => {
    const req = build(endpoint, { model: 'alias' });
    expect(req.url).toBe(url);
    expect(req.method).toBe('POST');
  });

  test.each([
    [
      'key, buffered',
      { apiKey: 'sk-test', stream: false },
      {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: 'Bearer sk-test',
      },
    ],
    [
      'key, streaming',
      { apiKey: 'sk-test', stream: true },
      {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: 'Bearer sk-test',
      },
    ],
    [
      'no key',
      { stream: false },
      { 'content-type': 'application/json', accept: 'application/json' },
    ],
  ])('headers: %s', (_name, opts, headers) => {
    expect(build('chat', { model: 'alias' }, opts).headers).toEqual(headers);
  });

  test('replaces the model and leaves everything else as sent, in order', () => {
    const body = {
      model: 'alias',
      messages: [{ role: 'user', content: 'hi' }],
      temperature: 0.2,
      n: 2,
    };
    const req = build('chat', body);
    expect(req.body).toBe(JSON.stringify({ ...body, model: 'gpt-4o-mini-2024-07-18' }));
  });

  test('adds the model when the client left it out', () => {
    expect(JSON.parse(build('embeddings', { input: 'x' }).body)).toEqual({
      input: 'x',
      model: 'gpt-4o-mini-2024-07-18',
    });
  });

  test.each([
    ['absent', undefined, { include_usage: true }],
    ['other keys kept', { other: 1 }, { other: 1, include_usage: true }],
    ['client said false', { include_usage: false }, { include_usage: true }],
    ['not an object', 'nonsense', { include_usage: true }],
  ])('streaming asks for usage: stream_options %s', (_name, streamOptions, expected) => {
    for (const endpoint of ['chat', 'completions'] as const) {
      const body: Record<string, unknown> = { model: 'a', stream: true };
      if (streamOptions !== undefined) body.stream_options = streamOptions;
      const sent = JSON.parse(build(endpoint, body, { stream: true }).body);
      expect(sent.stream_options).toEqual(expected);
      expect(sent.stream).toBe(true);
    }
  });

  test('does not touch the caller body object', () => {
    const body = { model: 'a', stream: true, stream_options: { other: 1 } };
    build('chat', body, { stream: true });
    expect(body).toEqual({ model: 'a', stream: true, stream_options: { other: 1 } });
  });

  test('buffered requests get no stream_options', () => {
    expect(JSON.parse(build('chat', { model: 'a' }).body)).not.toHaveProperty('stream_options');
  });

  test('supports every endpoint', () => {
    expect(
      ['chat', 'completions', 'embeddings'].every((e) => openaiAdapter.supports(e as Endpoint)),
    ).toBe(true);
  });
});

describe('openai parseResponse', () => {
  const completion =
    '{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-mini",' +
    '"choices":[{"index":0,"message":{"role":"assistant","content":"Hi"},"finish_reason":"stop"}],' +
    '"usage":{"prompt_tokens":12,"completion_tokens":3,"total_tokens":15,' +
    '"prompt_tokens_details":{"cached_tokens":8}}}';

  test('passes the body through unchanged and reads usage', () => {
    const result = openaiAdapter.parseResponse({
      endpoint: 'chat',
      body: completion,
      responseModel: 'x',
    });
    expect(result.body).toBe(completion);
    expect(result.usage).toEqual({
      promptTokens: 12,
      completionTokens: 3,
      totalTokens: 15,
      cachedPromptTokens: 8,
    });
  });

  test.each([
    [
      'embeddings (no completion tokens)',
      '{"object":"list","data":[],"usage":{"prompt_tokens":5,"total_tokens":5}}',
      { promptTokens: 5, completionTokens: 0, totalTokens: 5 },
    ],
    [
      'no total',
      '{"usage":{"prompt_tokens":5,"completion_tokens":2}}',
      { promptTokens: 5, completionTokens: 2, totalTokens: 7 },
    ],
    ['no usage', '{"choices":[]}', undefined],
    ['usage null', '{"usage":null}', undefined],
    ['not an object', '[1,2]', undefined],
  ])('usage: %s', (_name, body, usage) => {
    const result = openaiAdapter.parseResponse({
      endpoint: 'embeddings',
      body,
      responseModel: 'x',
    });
    expect(result.body).toBe(body);
    expect(result.usage).toEqual(usage);
  });

  test('throws a clear error on a body that is not JSON', () => {
    expect(() =>
      openaiAdapter.parseResponse({
        endpoint: 'chat',
        body: '<html>bad gateway',
        responseModel: 'x',
      }),
    ).toThrow(/not JSON: <html>bad gateway/);
  });
});

// A stream as OpenAI sends it with stream_options.include_usage: every chunk
// has "usage":null, and a final usage-only chunk has empty choices.
const chunk = (fields: string) =>
  `data: {"id":"chatcmpl-9","object":"chat.completion.chunk","created":1,"model":"gpt-4o-mini",${fields}}\n\n`;
const ROLE = chunk(
  '"choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}],"usage":null',
);
const HELLO = chunk(
  '"choices":[{"index":0,"delta":{"content":"Héllo 🎉"},"finish_reason":null}],"usage":null',
);
const WORLD = chunk(
  '"choices":[{"index":0,"delta":{"content":" world"},"finish_reason":null}],"usage":null',
);
const FINISH = chunk('"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null');
const USAGE = chunk(
  '"choices":[],"usage":{"prompt_tokens":9,"completion_tokens":4,"total_tokens":13,"prompt_tokens_details":{"cached_tokens":0}}',
);
const DONE = 'data: [DONE]\n\n';
const STREAM = ROLE + HELLO + WORLD + FINISH + USAGE + DONE;
const STREAM_USAGE = {
  promptTokens: 9,
  completionTokens: 4,
  totalTokens: 13,
  cachedPromptTokens: 0,
};

function run(
  input: string | Buffer[],
  clientWantsUsage: boolean,
): { out: string; usage: unknown; complete: boolean; tail: string } {
  const t = openaiAdapter.createStreamTranslator({
    endpoint: 'chat',
    clientWantsUsage,
    responseModel: 'x',
  });
  const pieces = typeof input === 'string' ? [Buffer.from(input)] : input;
  let out = pieces.map((p) => t.push(p)).join('');
  const { tail, usage } = t.end();
  out += tail;
  return { out, usage, complete: t.complete, tail };
}

describe('openai stream translator', () => {
  test('forwards the stream byte for byte when the client asked for usage', () => {
    const { out, usage, complete, tail } = run(STREAM, true);
    expect(out).toBe(STREAM);
    expect(tail).toBe(DONE);
    expect(usage).toEqual(STREAM_USAGE);
    expect(complete).toBe(true);
  });

  test('drops the usage chunk the client did not ask for, still recording usage', () => {
    const { out, usage } = run(STREAM, false);
    expect(out).toBe(ROLE + HELLO + WORLD + FINISH + DONE);
    expect(usage).toEqual(STREAM_USAGE);
  });

  test('the same output whichever byte the stream is split at', () => {
    const bytes = Buffer.from(STREAM);
    for (let i = 0; i <= bytes.length; i++) {
      const pieces = [bytes.subarray(0, i), bytes.subarray(i)];
      expect(run(pieces, true).out).toBe(STREAM);
      expect(run(pieces, false).out).toBe(ROLE + HELLO + WORLD + FINISH + DONE);
    }
  });

  test('push returns whole events only, holding back [DONE]', () => {
    const t = openaiAdapter.createStreamTranslator({
      endpoint: 'chat',
      clientWantsUsage: true,
      responseModel: 'x',
    });
    const rng = seededRandom(3);
    const bytes = Buffer.from(STREAM);
    let out = '';
    for (let i = 0; i < bytes.length;) {
      const n = 1 + Math.floor(rng() * 40);
      const piece = t.push(bytes.subarray(i, i + n));
      expect(piece === '' || piece.endsWith('\n\n')).toBe(true);
      out += piece;
      i += n;
    }
    expect(out).toBe(ROLE + HELLO + WORLD + FINISH + USAGE);
    expect(t.end().tail).toBe(DONE);
  });

  test('usage in the last chunk with choices is recorded and forwarded', () => {
    const last = chunk(
      '"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}',
    );
    const { out, usage } = run(ROLE + last + DONE, false);
    expect(out).toBe(ROLE + last + DONE);
    expect(usage).toEqual({ promptTokens: 2, completionTokens: 1, totalTokens: 3 });
  });

  test.each<[string, string, boolean, string]>([
    ['finish_reason, no [DONE]', ROLE + FINISH, true, ''],
    ['cut before finish_reason', ROLE + HELLO, false, ''],
    ['cut mid-event', ROLE + HELLO.slice(0, 30), false, ''],
    ['[DONE] only', ROLE + HELLO + DONE, true, DONE],
    ['[DONE] without the blank line', ROLE + 'data: [DONE]\n', true, DONE],
    [
      'error event, then [DONE]: no clean end',
      ROLE + 'data: {"error":{"message":"overloaded"}}\n\n' + DONE,
      false,
      '',
    ],
  ])('%s', (_name, input, complete, tail) => {
    const result = run(input, false);
    expect(result.complete).toBe(complete);
    expect(result.tail).toBe(tail);
  });

  test('the error event itself is forwarded', () => {
    const err = 'data: {"error":{"message":"overloaded","type":"server_error"}}\n\n';
    expect(run(ROLE + err, true).out).toBe(ROLE + err);
  });

  test('[DONE] is emitted once and nothing after it is forwarded', () => {
    const { out } = run(ROLE + DONE + HELLO + DONE, true);
    expect(out).toBe(ROLE + DONE);
  });

  test('a final event missing its blank line gets one', () => {
    const { out } = run(ROLE + FINISH.slice(0, -1), true);
    expect(out).toBe(ROLE + FINISH);
  });

  test('comments and CRLF framing are forwarded as received', () => {
    const input = ': ping\n\n' + ROLE.replace(/\n/g, '\r\n') + DONE;
    expect(run(input, true).out).toBe(': ping\n\n' + ROLE.replace(/\n/g, '\r\n') + DONE);
  });

  test('legacy completions streams are handled alike', () => {
    const text =
      'data: {"id":"cmpl-1","object":"text_completion","choices":[{"text":"hi","index":0,"finish_reason":"length"}],"usage":null}\n\n';
    const usage =
      'data: {"id":"cmpl-1","object":"text_completion","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}\n\n';
    const t: StreamTranslator & { complete: boolean } = openaiAdapter.createStreamTranslator({
      endpoint: 'completions',
      clientWantsUsage: false,
      responseModel: 'x',
    });
    const out = t.push(Buffer.from(text + usage + DONE));
    expect(out).toBe(text);
    expect(t.end()).toEqual({
      tail: DONE,
      usage: { promptTokens: 1, completionTokens: 1, totalTokens: 2 },
    });
    expect(t.complete).toBe(true);
  });

  test('content mentioning "usage" is not mistaken for a usage chunk', () => {
    const tricky = chunk(
      '"choices":[{"index":0,"delta":{"content":"the \\"usage\\": {x} field"},"finish_reason":null}]',
    );
    expect(run(ROLE + tricky + DONE, false).out).toBe(ROLE + tricky + DONE);
  });

  test('an oversized event throws from push', () => {
    const t = openaiAdapter.createStreamTranslator({
      endpoint: 'chat',
      clientWantsUsage: true,
      responseModel: 'x',
    });
    expect(() => t.push(Buffer.from(`data: ${'x'.repeat(9 * 1024 * 1024)}`))).toThrow(/exceeds/);
  });
});

describe('openai errorMessage', () => {
  test.each([
    [
      'OpenAI shape',
      401,
      '{"error":{"message":"Incorrect API key provided: sk-proj-****abcd.","type":"invalid_request_error","code":"invalid_api_key"}}',
      'Incorrect API key provided: sk-proj-****abcd.',
    ],
    ['error as a string', 400, '{"error":"model not found"}', 'model not found'],
    ['FastAPI detail', 422, '{"detail":"bad input"}', 'bad input'],
    ['top-level message', 400, '{"object":"error","message":"too long"}', 'too long'],
    ['HTML', 502, '<html><body>Bad Gateway</body></html>', 'upstream returned HTTP 502'],
    ['empty', 503, '', 'upstream returned HTTP 503'],
    ['empty message', 500, '{"error":{"message":""}}', 'upstream returned HTTP 500'],
    ['unknown JSON', 500, '{"foo":1}', 'upstream returned HTTP 500'],
    ['newlines flattened', 400, '{"error":{"message":"line one\\nline two"}}', 'line one line two'],
  ])('%s', (_name, status, body, message) => {
    expect(openaiAdapter.errorMessage(status, body)).toBe(message);
  });

  test('truncates to 500 characters', () => {
    const message = openaiAdapter.errorMessage(
      400,
      JSON.stringify({ error: { message: 'x'.repeat(2000) } }),
    );
    expect(message).toHaveLength(500);
    expect(message.endsWith('…')).toBe(true);
  });
});
