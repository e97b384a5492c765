import { chunk, completion } from './__fixtures__/chat-events.js';
import { ChatStreamReader, argumentsObject, readChatCompletion } from './chat-answer.js';

describe('reading chat answers', () => {
  test('a buffered completion: text, tool calls, finish reason, reasoning tokens', () => {
    expect(
      readChatCompletion(
        completion(
          {
            content: 'Hi',
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }],
          },
          'tool_calls',
          { usage: { completion_tokens_details: { reasoning_tokens: 3 } } },
        ),
      ),
    ).toEqual({
      text: 'Hi',
      refusal: null,
      toolCalls: [{ id: 'c1', name: 'f', arguments: '{}' }],
      finishReason: 'tool_calls',
      reasoningTokens: 3,
    });
  });

  test('a stream: choice 0 only; usage chunks, [DONE], comments and non-JSON pass unseen', () => {
    const reader = new ChatStreamReader();
    const text =
      ': keep-alive\n\n' +
      chunk({ role: 'assistant', content: '' }) +
      chunk({ content: 'Hi' }) +
      `data: ${JSON.stringify({ choices: [{ index: 1, delta: { content: 'other choice' } }] })}\n\n` +
      chunk({ refusal: 'No' }) +
      chunk({ tool_calls: [{ index: 0, id: 'c1', function: { name: 'f', arguments: '{' } }] }) +
      chunk({}, 'stop') +
      `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 1 } })}\n\n` +
      'data: not json\n\n' +
      'data: [DONE]\n\n';
    expect([
      ...reader.push(text.slice(0, 40)),
      ...reader.push(text.slice(40)),
      ...reader.end(),
    ]).toEqual([
      { kind: 'text', text: 'Hi' },
      { kind: 'refusal', text: 'No' },
      { kind: 'tool', index: 0, id: 'c1', name: 'f', arguments: '{' },
      { kind: 'finish', reason: 'stop' },
    ]);
  });

  test('an in-band error', () => {
    expect(new ChatStreamReader().push('data: {"error":{"message":"boom"}}\n\n')).toEqual([
      { kind: 'error', message: 'boom' },
    ]);
  });

  test('tool arguments as an object', () => {
    expect(argumentsObject('{"a":1}')).toEqual({ a: 1 });
    expect(argumentsObject('')).toEqual({});
    expect(argumentsObject('[1]')).toEqual({});
    expect(argumentsObject('{"a":')).toEqual({});
  });
});
