import { refusalOf } from './__fixtures__/chat-events.js';
import { chatFromMessages } from './messages-request.js';

const chat = (body: Record<string, unknown>) =>
  chatFromMessages({ model: 'm', max_tokens: 100, ...body }).chat;

const refusal = (body: Record<string, unknown>) =>
  refusalOf(() => chatFromMessages({ model: 'm', max_tokens: 100, ...body }));

describe('Messages request -> Chat Completions request', () => {
  test('system, settings, stop sequences and metadata', () => {
    expect(
      chat({
        system: [
          { type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } },
          { type: 'text', text: 'Be kind.' },
        ],
        messages: [{ role: 'user', content: 'Hi' }],
        temperature: 0.3,
        top_p: 0.8,
        top_k: 5,
        stop_sequences: ['END'],
        metadata: { user_id: 'u1' },
        thinking: { type: 'enabled', budget_tokens: 1024 },
        stream: true,
      }),
    ).toEqual({
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.\n\nBe kind.' },
        { role: 'user', content: 'Hi' },
      ],
      max_completion_tokens: 100,
      temperature: 0.3,
      top_p: 0.8,
      stop: ['END'],
      user: 'u1',
      stream: true,
    });
  });

  test('images, tool_use and tool_result blocks (results first in their turn), thinking dropped', () => {
    expect(
      chat({
        messages: [
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Weather here?' },
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
              { type: 'image', source: { type: 'url', url: 'https://example.test/a.png' } },
            ],
          },
          {
            role: 'assistant',
            content: [
              { type: 'thinking', thinking: 'hmm', signature: 's' },
              { type: 'text', text: 'Checking.' },
              { type: 'tool_use', id: 't1', name: 'w', input: { city: 'Paris' } },
            ],
          },
          {
            role: 'user',
            content: [
              { type: 'text', text: 'Here you go.' },
              {
                type: 'tool_result',
                tool_use_id: 't1',
                content: [{ type: 'text', text: 'sunny' }],
              },
            ],
          },
          {
            role: 'assistant',
            content: [{ type: 'tool_use', id: 't2', name: 'w', input: {} }],
          },
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 't2', content: 'no city', is_error: true },
            ],
          },
        ],
      }).messages,
    ).toEqual([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'Weather here?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
          { type: 'image_url', image_url: { url: 'https://example.test/a.png' } },
        ],
      },
      {
        role: 'assistant',
        content: 'Checking.',
        tool_calls: [
          { id: 't1', type: 'function', function: { name: 'w', arguments: '{"city":"Paris"}' } },
        ],
      },
      { role: 'tool', tool_call_id: 't1', content: 'sunny' },
      { role: 'user', content: 'Here you go.' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 't2', type: 'function', function: { name: 'w', arguments: '{}' } }],
      },
      { role: 'tool', tool_call_id: 't2', content: 'Error: no city' },
    ]);
  });

  test('custom tools and tool_choice', () => {
    const tools = [{ name: 'w', description: 'weather', input_schema: { type: 'object' } }];
    const messages = [{ role: 'user', content: 'Hi' }];
    expect(chat({ messages, tools, tool_choice: { type: 'any' } })).toMatchObject({
      tools: [
        {
          type: 'function',
          function: { name: 'w', description: 'weather', parameters: { type: 'object' } },
        },
      ],
      tool_choice: 'required',
    });
    expect(
      chat({
        messages,
        tools,
        tool_choice: { type: 'tool', name: 'w', disable_parallel_tool_use: true },
      }),
    ).toMatchObject({
      tool_choice: { type: 'function', function: { name: 'w' } },
      parallel_tool_calls: false,
    });
    expect(chat({ messages, tools, tool_choice: { type: 'none' } }).tool_choice).toBe('none');
  });

  test.each<[string, Record<string, unknown>, string]>([
    [
      'no max_tokens',
      { max_tokens: undefined, messages: [{ role: 'user', content: 'x' }] },
      'max_tokens',
    ],
    [
      'a server tool',
      {
        messages: [{ role: 'user', content: 'x' }],
        tools: [{ type: 'web_search_20250305', name: 'web_search' }],
      },
      'tools[0].type',
    ],
    [
      'a document block',
      { messages: [{ role: 'user', content: [{ type: 'document', source: {} }] }] },
      'messages[0].content[0].type',
    ],
    [
      'an image by file id',
      {
        messages: [
          { role: 'user', content: [{ type: 'image', source: { type: 'file', file_id: 'f' } }] },
        ],
      },
      'messages[0].content[0].source',
    ],
    [
      'an image in a tool result',
      {
        messages: [
          {
            role: 'user',
            content: [
              { type: 'tool_result', tool_use_id: 't', content: [{ type: 'image', source: {} }] },
            ],
          },
        ],
      },
      'messages[0].content[0].content[0]',
    ],
    ['a system role message', { messages: [{ role: 'system', content: 'x' }] }, 'messages[0].role'],
    [
      'MCP servers',
      { messages: [{ role: 'user', content: 'x' }], mcp_servers: [{}] },
      'mcp_servers',
    ],
    [
      'a temperature above 1',
      { messages: [{ role: 'user', content: 'x' }], temperature: 1.5 },
      'temperature',
    ],
    ['no messages', { messages: [] }, 'messages'],
  ])('%s is a 400 naming the field', (_name, body, param) => {
    const err = refusal(body);
    expect(err.status).toBe(400);
    expect(err.param).toBe(param);
    expect(err.message).toContain(param);
  });
});
