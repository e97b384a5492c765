import { refusalOf } from './__fixtures__/chat-events.js';
import { chatFromResponses } from './responses-request.js';

const chat = (body: Record<string, unknown>) => chatFromResponses({ model: 'm', ...body }).chat;

const refusal = (body: Record<string, unknown>) =>
  refusalOf(() => chatFromResponses({ model: 'm', ...body }));

describe('Responses request -> Chat Completions request', () => {
  test('a string input with instructions and settings', () => {
    expect(
      chat({
        input: 'Hi',
        instructions: 'Be brief.',
        max_output_tokens: 64,
        temperature: 0.2,
        top_p: 0.9,
        user: 'u1',
        reasoning: { effort: 'low' },
        stream: true,
        store: false,
        metadata: { a: 'b' },
      }),
    ).toEqual({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
      max_completion_tokens: 64,
      temperature: 0.2,
      top_p: 0.9,
      user: 'u1',
      reasoning_effort: 'low',
      stream: true,
    });
  });

  test('message items: text and image parts, assistant turns, developer messages', () => {
    expect(
      chat({
        input: [
          { role: 'developer', content: [{ type: 'input_text', text: 'Rules.' }] },
          {
            type: 'message',
            role: 'user',
            content: [
              { type: 'input_text', text: 'What is this?' },
              { type: 'input_image', image_url: 'data:image/png;base64,AAAA', detail: 'low' },
            ],
          },
          {
            type: 'message',
            role: 'assistant',
            content: [{ type: 'output_text', text: 'A cat.', annotations: [] }],
          },
          { role: 'user', content: [{ type: 'input_text', text: 'Sure?' }] },
        ],
      }).messages,
    ).toEqual([
      { role: 'developer', content: 'Rules.' },
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
        ],
      },
      { role: 'assistant', content: 'A cat.' },
      { role: 'user', content: 'Sure?' },
    ]);
  });

  test('function calls join the assistant turn; outputs become tool messages; reasoning is dropped', () => {
    expect(
      chat({
        input: [
          { role: 'user', content: 'Weather in Paris and Rome?' },
          { type: 'reasoning', id: 'rs_1', summary: [] },
          { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: '' }] },
          { type: 'function_call', call_id: 'c1', name: 'w', arguments: '{"city":"Paris"}' },
          { type: 'function_call', call_id: 'c2', name: 'w', arguments: '{"city":"Rome"}' },
          { type: 'function_call_output', call_id: 'c1', output: 'sunny' },
          {
            type: 'function_call_output',
            call_id: 'c2',
            output: [{ type: 'input_text', text: 'rain' }],
          },
        ],
      }).messages,
    ).toEqual([
      { role: 'user', content: 'Weather in Paris and Rome?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'c1', type: 'function', function: { name: 'w', arguments: '{"city":"Paris"}' } },
          { id: 'c2', type: 'function', function: { name: 'w', arguments: '{"city":"Rome"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'sunny' },
      { role: 'tool', tool_call_id: 'c2', content: 'rain' },
    ]);
  });

  test('function tools, tool_choice and text formats', () => {
    const body = chat({
      input: 'Hi',
      tools: [
        {
          type: 'function',
          name: 'w',
          description: 'weather',
          parameters: { type: 'object' },
          strict: true,
        },
      ],
      tool_choice: { type: 'function', name: 'w' },
      parallel_tool_calls: false,
      text: {
        format: { type: 'json_schema', name: 'out', schema: { type: 'object' }, strict: true },
      },
    });
    expect(body).toMatchObject({
      tools: [
        {
          type: 'function',
          function: {
            name: 'w',
            description: 'weather',
            parameters: { type: 'object' },
            strict: true,
          },
        },
      ],
      tool_choice: { type: 'function', function: { name: 'w' } },
      parallel_tool_calls: false,
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'out', schema: { type: 'object' }, strict: true },
      },
    });
    expect(
      chat({ input: 'Hi', text: { format: { type: 'json_object' } } }).response_format,
    ).toEqual({
      type: 'json_object',
    });
    expect(chat({ input: 'Hi', text: { format: { type: 'text' } } })).not.toHaveProperty(
      'response_format',
    );
  });

  test.each<[string, Record<string, unknown>, string]>([
    ['a built-in tool', { input: 'x', tools: [{ type: 'web_search_preview' }] }, 'tools[0].type'],
    ['a stored response', { input: 'x', previous_response_id: 'resp_1' }, 'previous_response_id'],
    ['store: true', { input: 'x', store: true }, 'store'],
    ['background', { input: 'x', background: true }, 'background'],
    ['a conversation', { input: 'x', conversation: 'conv_1' }, 'conversation'],
    [
      'a file part',
      { input: [{ role: 'user', content: [{ type: 'input_file', file_id: 'f' }] }] },
      'input[0].content[0].type',
    ],
    [
      'an image by file id',
      { input: [{ role: 'user', content: [{ type: 'input_image', file_id: 'f' }] }] },
      'input[0].content[0].image_url',
    ],
    ['an item reference', { input: [{ type: 'item_reference', id: 'msg_1' }] }, 'input[0].type'],
    ['a bad role', { input: [{ role: 'tool', content: 'x' }] }, 'input[0].role'],
    [
      'a function call without a name',
      { input: [{ type: 'function_call', call_id: 'c', arguments: '{}' }] },
      'input[0].name',
    ],
    ['no input', {}, 'input'],
    ['an out-of-range temperature', { input: 'x', temperature: 3 }, 'temperature'],
    [
      'an allowed_tools choice',
      { input: 'x', tool_choice: { type: 'allowed_tools' } },
      'tool_choice',
    ],
  ])('%s is a 400 naming the field', (_name, body, param) => {
    const err = refusal(body);
    expect(err.status).toBe(400);
    expect(err.param).toBe(param);
    expect(err.message).toContain(param);
  });
});
