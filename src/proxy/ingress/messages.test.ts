import { ProxyError } from '../errors.js';
import type { Usage } from '../../providers/types.js';
import { anthropicErrorShape } from './error-shapes.js';
import {
  TEXT_THEN_TOOL_CALL,
  chunk,
  pushInPieces,
  completion,
  namedEvents as events,
} from './__fixtures__/chat-events.js';
import { messagesDialect } from './messages.js';

const CTX = { requestId: 'R1', nowMs: 0 };
const USAGE: Usage = {
  promptTokens: 30,
  completionTokens: 5,
  totalTokens: 35,
  cachedPromptTokens: 8,
  cacheWritePromptTokens: 2,
};

const request = () =>
  messagesDialect.translate(
    { model: 'agent', max_tokens: 50, messages: [{ role: 'user', content: 'Hi' }] },
    CTX,
  );

describe('chat answer -> Message', () => {
  test('text and tool calls as blocks, the stop reason, usage with the cache apart', () => {
    expect(
      JSON.parse(
        request().answer(
          completion(
            {
              content: 'Checking.',
              tool_calls: [
                { id: 'c1', type: 'function', function: { name: 'w', arguments: '{"a":1}' } },
                { id: 'c2', type: 'function', function: { name: 'w', arguments: 'not json' } },
              ],
            },
            'tool_calls',
          ),
          USAGE,
        ),
      ),
    ).toEqual({
      id: 'msg_R1',
      type: 'message',
      role: 'assistant',
      model: 'agent',
      content: [
        { type: 'text', text: 'Checking.' },
        { type: 'tool_use', id: 'c1', name: 'w', input: { a: 1 } },
        { type: 'tool_use', id: 'c2', name: 'w', input: {} },
      ],
      stop_reason: 'tool_use',
      stop_sequence: null,
      usage: {
        input_tokens: 20,
        cache_read_input_tokens: 8,
        cache_creation_input_tokens: 2,
        output_tokens: 5,
      },
    });
  });

  test.each([
    ['stop', 'end_turn'],
    ['length', 'max_tokens'],
    ['content_filter', 'refusal'],
    ['something new', 'end_turn'],
  ])('finish_reason %s is stop_reason %s', (finish, stop) => {
    const message = JSON.parse(request().answer(completion({ content: 'x' }, finish), USAGE)) as {
      stop_reason: string;
    };
    expect(message.stop_reason).toBe(stop);
  });
});

describe('chat chunks -> Messages events', () => {
  test('a text block then a tool_use block, split anywhere, closed with usage', () => {
    const stream = request().openStream();
    let out = pushInPieces(stream, TEXT_THEN_TOOL_CALL, 5);
    out += stream.end('', USAGE);
    const all = events(out);
    expect(all).toEqual([
      {
        type: 'message_start',
        message: {
          id: 'msg_R1',
          type: 'message',
          role: 'assistant',
          model: 'agent',
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { input_tokens: 0, output_tokens: 0 },
        },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Let me ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'check.' } },
      { type: 'content_block_stop', index: 0 },
      {
        type: 'content_block_start',
        index: 1,
        content_block: { type: 'tool_use', id: 'c1', name: 'w', input: {} },
      },
      {
        type: 'content_block_delta',
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '{"a":' },
      },
      {
        type: 'content_block_delta',
        index: 1,
        delta: { type: 'input_json_delta', partial_json: '1}' },
      },
      { type: 'content_block_stop', index: 1 },
      {
        type: 'message_delta',
        delta: { stop_reason: 'tool_use', stop_sequence: null },
        usage: {
          input_tokens: 20,
          cache_read_input_tokens: 8,
          cache_creation_input_tokens: 2,
          output_tokens: 5,
        },
      },
      { type: 'message_stop' },
    ]);
  });

  test('an empty answer still starts and stops', () => {
    const stream = request().openStream();
    expect(events(stream.end(chunk({}, 'stop'), USAGE)).map((e) => e.type)).toEqual([
      'message_start',
      'message_delta',
      'message_stop',
    ]);
  });

  test('tool calls that interleave end the stream with an error event, not a wrong answer', () => {
    const stream = request().openStream();
    const call = (index: number, args: string, id?: string) =>
      chunk({
        tool_calls: [
          {
            index,
            ...(id ? { id } : {}),
            function: { ...(id ? { name: 'w' } : {}), arguments: args },
          },
        ],
      });
    let out = stream.push(call(0, '{', 'c1') + call(1, '{', 'c2') + call(0, '}'));
    out += stream.end('', USAGE);
    expect(events(out).at(-1)).toMatchObject({
      type: 'error',
      error: { type: 'api_error', message: expect.stringContaining('interleaved') as string },
    });
  });

  test('an upstream error mid-stream is an error event, and nothing follows it', () => {
    const stream = request().openStream();
    let out = stream.push(chunk({ content: 'Hel' }));
    out += stream.push('data: {"error":{"message":"overloaded","type":"api_error"}}\n\n');
    out += stream.end(chunk({ content: 'lo' }), USAGE);
    expect(stream.broken('again')).toBe('');
    const all = events(out);
    expect(all.at(-1)).toEqual({
      type: 'error',
      error: { type: 'api_error', message: 'overloaded' },
    });
    expect(all.filter((e) => e.type === 'message_stop')).toHaveLength(0);
  });
});

describe("Anthropic's error shape", () => {
  test.each<[number, number, string]>([
    [400, 400, 'invalid_request_error'],
    [401, 401, 'authentication_error'],
    [403, 403, 'permission_error'],
    [404, 404, 'not_found_error'],
    [413, 413, 'request_too_large'],
    [429, 429, 'rate_limit_error'],
    [500, 500, 'api_error'],
    [502, 502, 'api_error'],
    [503, 529, 'overloaded_error'],
    [504, 504, 'timeout_error'],
  ])('the proxy status %i is %i %s', (status, answered, type) => {
    const err = new ProxyError(status, 'what went wrong', 'invalid_request_error');
    expect(anthropicErrorShape.status(err)).toBe(answered);
    expect(anthropicErrorShape.body(err)).toEqual({
      type: 'error',
      error: { type, message: 'what went wrong' },
    });
  });

  test('a Messages client may send its key as x-api-key', () => {
    expect(messagesDialect.authorization?.({ 'x-api-key': 'mr-abc' })).toBe('Bearer mr-abc');
    expect(
      messagesDialect.authorization?.({ 'x-api-key': 'mr-abc', authorization: 'Bearer mr-xyz' }),
    ).toBeUndefined();
  });
});
