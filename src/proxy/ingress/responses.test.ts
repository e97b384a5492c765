import type { Usage } from '../../providers/types.js';
import {
  TEXT_THEN_TOOL_CALL,
  chunk,
  completion as chatCompletion,
  pushInPieces,
  namedEvents as events,
} from './__fixtures__/chat-events.js';
import { responsesDialect } from './responses.js';

const CTX = { requestId: 'R1', nowMs: 1_700_000_000_500 };
const USAGE: Usage = {
  promptTokens: 10,
  completionTokens: 4,
  totalTokens: 14,
  cachedPromptTokens: 2,
};

const request = (body: Record<string, unknown> = {}) =>
  responsesDialect.translate({ model: 'agent', input: 'Hi', ...body }, CTX);

const completion = (message: Record<string, unknown>, finish = 'stop') =>
  chatCompletion(message, finish, {
    usage: {
      prompt_tokens: 10,
      completion_tokens: 4,
      completion_tokens_details: { reasoning_tokens: 1 },
    },
  });

describe('chat answer -> Response object', () => {
  test('text, usage and the request echoed', () => {
    const answer = JSON.parse(
      request({ instructions: 'Be brief.', temperature: 0.5, max_output_tokens: 9 }).answer(
        completion({ content: 'Hello.' }),
        USAGE,
      ),
    ) as Record<string, unknown>;
    expect(answer).toMatchObject({
      id: 'resp_R1',
      object: 'response',
      created_at: 1_700_000_000,
      status: 'completed',
      model: 'agent',
      instructions: 'Be brief.',
      temperature: 0.5,
      max_output_tokens: 9,
      store: false,
      incomplete_details: null,
      output: [
        {
          id: 'msg_R1',
          type: 'message',
          role: 'assistant',
          status: 'completed',
          content: [{ type: 'output_text', text: 'Hello.', annotations: [] }],
        },
      ],
      usage: {
        input_tokens: 10,
        input_tokens_details: { cached_tokens: 2 },
        output_tokens: 4,
        output_tokens_details: { reasoning_tokens: 1 },
        total_tokens: 14,
      },
    });
  });

  test('tool calls become function_call items; a cut answer is incomplete', () => {
    const answer = JSON.parse(
      request().answer(
        completion(
          {
            content: null,
            tool_calls: [
              { id: 'c1', type: 'function', function: { name: 'w', arguments: '{"a":1}' } },
            ],
          },
          'tool_calls',
        ),
        USAGE,
      ),
    ) as Record<string, unknown>;
    expect(answer.status).toBe('completed');
    expect(answer.output).toEqual([
      {
        id: 'fc_R1_0',
        type: 'function_call',
        status: 'completed',
        call_id: 'c1',
        name: 'w',
        arguments: '{"a":1}',
      },
    ]);
    const cut = JSON.parse(
      request().answer(completion({ content: 'Hel' }, 'length'), USAGE),
    ) as Record<string, unknown>;
    expect(cut).toMatchObject({
      status: 'incomplete',
      incomplete_details: { reason: 'max_output_tokens' },
    });
  });

  test('a refusal is a refusal part', () => {
    const answer = JSON.parse(
      request().answer(completion({ content: null, refusal: 'No.' }), USAGE),
    ) as { output: { content: unknown[] }[] };
    expect(answer.output[0]?.content).toEqual([{ type: 'refusal', refusal: 'No.' }]);
  });

  test('a body without choices is refused (the attempt fails, and may fail over)', () => {
    expect(() => request().answer('{"object":"chat.completion","choices":[]}', USAGE)).toThrow(
      /choices/,
    );
  });
});

describe('chat chunks -> Responses events', () => {
  test('text and a tool call, pieces split anywhere, closed in order with usage', () => {
    const stream = request().openStream();
    let out = pushInPieces(stream, TEXT_THEN_TOOL_CALL, 7);
    out += stream.end('', USAGE);
    const all = events(out);
    expect(all.map((e) => e.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_item.added',
      'response.function_call_arguments.delta',
      'response.function_call_arguments.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.function_call_arguments.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expect(all[4]).toMatchObject({
      item_id: 'msg_R1',
      output_index: 0,
      content_index: 0,
      delta: 'Let me ',
    });
    expect(all[7]).toMatchObject({ item_id: 'fc_R1_0', output_index: 1, delta: '{"a":' });
    expect(all.at(-1)).toMatchObject({
      response: {
        status: 'completed',
        output: [
          { type: 'message', content: [{ type: 'output_text', text: 'Let me check.' }] },
          { type: 'function_call', call_id: 'c1', name: 'w', arguments: '{"a":1}' },
        ],
        usage: { input_tokens: 10, output_tokens: 4, total_tokens: 14 },
      },
    });
  });

  test('a cut answer ends with response.incomplete', () => {
    const stream = request().openStream();
    const out = stream.push(chunk({ content: 'Hel' })) + stream.end(chunk({}, 'length'), USAGE);
    expect(events(out).at(-1)).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
    });
  });

  test('an upstream error mid-stream is response.failed, and nothing follows it', () => {
    const stream = request().openStream();
    let out = stream.push(chunk({ content: 'Hel' }));
    out += stream.push('data: {"error":{"message":"overloaded","type":"api_error"}}\n\n');
    out += stream.push(chunk({ content: 'lo' }));
    out += stream.end('', USAGE);
    expect(stream.broken('again')).toBe('');
    const all = events(out);
    expect(all.at(-1)).toMatchObject({
      type: 'response.failed',
      response: { status: 'failed', error: { code: 'server_error', message: 'overloaded' } },
    });
    expect(all.filter((e) => e.type === 'response.output_text.delta')).toHaveLength(1);
  });

  test('a broken stream ends with response.failed', () => {
    const stream = request().openStream();
    const out =
      stream.push(chunk({ content: 'Hel' })) + stream.broken('upstream stream interrupted');
    expect(events(out).at(-1)).toMatchObject({
      type: 'response.failed',
      response: { error: { message: 'upstream stream interrupted' } },
    });
  });
});
