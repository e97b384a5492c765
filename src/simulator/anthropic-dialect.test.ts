// Anthropic Messages dialect of the simulator: buffered message, named-event stream, request errors.
import {
  json,
  parseSse,
  post,
  type AnthropicError,
  type AnthropicEvent,
  type AnthropicMessage,
} from './__fixtures__/http.js';
import { startSimulatedBackend, type SimulatedBackend } from './index.js';

const HEADERS = { 'anthropic-version': '2023-06-01' };
const body = (extra: Record<string, unknown> = {}) => ({
  model: 'claude-test',
  max_tokens: 100,
  system: 'be brief',
  messages: [{ role: 'user', content: [{ type: 'text', text: 'hello there' }] }],
  ...extra,
});

let sim: SimulatedBackend;
beforeAll(async () => {
  sim = await startSimulatedBackend({ outputTokens: 4 });
});
afterAll(() => sim.close());

describe('Anthropic Messages', () => {
  test('a buffered answer has the message shape with input and output token usage', async () => {
    const res = await post(`${sim.url}/v1/messages`, body(), HEADERS);
    expect(res.status).toBe(200);
    const msg = await json<AnthropicMessage>(res);
    expect(msg).toEqual({
      id: expect.stringMatching(/^msg_/),
      type: 'message',
      role: 'assistant',
      model: 'claude-test',
      content: [{ type: 'text', text: expect.any(String) }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      // system "be brief" + "hello there" = 19 characters
      usage: { input_tokens: 5, output_tokens: 4 },
    });
    expect(msg.content[0]?.text.split(' ')).toHaveLength(4);
  });

  test('max_tokens below outputTokens stops with stop_reason max_tokens', async () => {
    const msg = await json<AnthropicMessage>(
      await post(`${sim.url}/v1/messages`, body({ max_tokens: 2 }), HEADERS),
    );
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.usage.output_tokens).toBe(2);
  });

  test('a stream sends the Anthropic event sequence with matching event names and types', async () => {
    const res = await post(`${sim.url}/v1/messages`, body({ stream: true }), HEADERS);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(await res.text());
    expect(events.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start',
      'ping',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    const data = events.map((e) => JSON.parse(e.data) as AnthropicEvent);
    data.forEach((d, i) => expect(d.type).toBe(events[i]?.event));
    expect(data[0]?.message).toMatchObject({
      role: 'assistant',
      model: 'claude-test',
      content: [],
      usage: { input_tokens: 5 },
    });
    expect(data[1]?.content_block).toEqual({ type: 'text', text: '' });
    const text = data
      .filter((d) => d.type === 'content_block_delta')
      .map((d) => {
        expect(d.delta?.type).toBe('text_delta');
        return d.delta?.text;
      })
      .join('');
    const buffered = await json<AnthropicMessage>(
      await post(`${sim.url}/v1/messages`, body(), HEADERS),
    );
    expect(text).toBe(buffered.content[0]?.text);
    expect(data[8]).toEqual({
      type: 'message_delta',
      delta: { stop_reason: 'end_turn', stop_sequence: null },
      usage: { output_tokens: 4 },
    });
  });

  test('a missing max_tokens is a 400 in the Anthropic error shape', async () => {
    const noMax: Record<string, unknown> = body();
    delete noMax.max_tokens;
    const res = await post(`${sim.url}/v1/messages`, noMax, HEADERS);
    expect(res.status).toBe(400);
    expect(await json<AnthropicError>(res)).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') },
    });
  });

  test('a missing anthropic-version header is a 400', async () => {
    const res = await post(`${sim.url}/v1/messages`, body());
    expect(res.status).toBe(400);
    expect((await json<AnthropicError>(res)).error.message).toMatch(/anthropic-version/);
  });

  test('malformed JSON is a 400 in the Anthropic error shape', async () => {
    const res = await post(`${sim.url}/v1/messages`, '{oops', HEADERS);
    expect(res.status).toBe(400);
    expect((await json<AnthropicError>(res)).type).toBe('error');
  });
});
