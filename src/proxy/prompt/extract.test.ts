import type { Endpoint, OpenAIRequestBody } from '../../providers/types.js';
import { extractPrompt, type PromptInfo } from './extract.js';

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

describe('chat', () => {
  test('system, user, assistant tool calls and tool results', () => {
    const info = extractPrompt('chat', {
      model: 'chat',
      messages: [
        { role: 'system', content: 'You are a weather bot.' },
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":18}' },
      ],
      tools: [weatherTool],
      stream: true,
      max_tokens: 256,
    });
    expect(info).toEqual<PromptInfo>({
      text: [
        'You are a weather bot.',
        'Weather in Paris?',
        'get_weather',
        '{"city":"Paris"}',
        '{"temp_c":18}',
      ].join('\n'),
      messageCount: 4,
      imageCount: 0,
      impliedCapabilities: ['chat', 'streaming', 'tools'],
      maxOutputTokens: 256,
      toolsText: JSON.stringify([weatherTool]),
    });
  });

  test('image parts imply vision and are counted', () => {
    const info = extractPrompt('chat', {
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'What is in these pictures?' },
            { type: 'image_url', image_url: { url: 'https://example.com/a.png', detail: 'low' } },
            { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
            { type: 'input_image', image_url: 'https://example.com/b.png' },
          ],
        },
      ],
    });
    expect(info.text).toBe('What is in these pictures?');
    expect(info.imageCount).toBe(3);
    expect(info.messageCount).toBe(1);
    expect(info.impliedCapabilities).toEqual(['chat', 'vision']);
  });

  test('legacy functions and function_call, function role', () => {
    const info = extractPrompt('chat', {
      messages: [
        { role: 'user', content: 'Weather?' },
        {
          role: 'assistant',
          content: null,
          function_call: { name: 'get_weather', arguments: '{}' },
        },
        { role: 'function', name: 'get_weather', content: 'sunny' },
      ],
      functions: [weatherTool.function],
    });
    expect(info.text).toBe('Weather?\nget_weather\n{}\nsunny');
    expect(info.impliedCapabilities).toEqual(['chat', 'tools']);
    expect(info.toolsText).toBe(JSON.stringify([weatherTool.function]));
  });

  test('tool messages alone imply tools', () => {
    const info = extractPrompt('chat', {
      messages: [{ role: 'tool', tool_call_id: 'x', content: 'result' }],
    });
    expect(info.impliedCapabilities).toEqual(['chat', 'tools']);
    expect(info.toolsText).toBeUndefined();
  });

  test.each([
    [{ type: 'json_object' }, true],
    [{ type: 'json_schema', json_schema: { name: 'x', schema: {} } }, true],
    [{ type: 'text' }, false],
    ['json_object', false],
  ])('response_format %j → json-mode %s', (responseFormat, jsonMode) => {
    const info = extractPrompt('chat', {
      messages: [{ role: 'user', content: 'hi' }],
      response_format: responseFormat,
    });
    expect(info.impliedCapabilities.includes('json-mode')).toBe(jsonMode);
  });

  test('audio input parts imply audio', () => {
    const info = extractPrompt('chat', {
      messages: [
        {
          role: 'user',
          content: [{ type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } }],
        },
      ],
    });
    expect(info.impliedCapabilities).toEqual(['chat', 'audio']);
  });
});

describe('max output tokens', () => {
  test.each<[Record<string, unknown>, number | undefined]>([
    [{ max_tokens: 100 }, 100],
    [{ max_completion_tokens: 50, max_tokens: 100 }, 50],
    [{ max_completion_tokens: 0, max_tokens: 100 }, 100],
    [{ max_tokens: 0 }, undefined],
    [{ max_tokens: -5 }, undefined],
    [{ max_tokens: 1.5 }, undefined],
    [{ max_tokens: '100' }, undefined],
    [{}, undefined],
  ])('%j → %s', (fields, expected) => {
    expect(extractPrompt('chat', { messages: [], ...fields }).maxOutputTokens).toBe(expected);
  });
});

describe('completions', () => {
  test.each<[unknown, string, number | undefined]>([
    ['Once upon a time', 'Once upon a time', undefined],
    [['first prompt', 'second prompt'], 'first prompt\nsecond prompt', undefined],
    [[1, 2, 3], '', 3],
    [
      [
        [1, 2],
        [3, 4, 5],
      ],
      '',
      5,
    ],
    [['text', [7, 8]], 'text', 2],
  ])('prompt %j', (prompt, text, tokenIdCount) => {
    const info = extractPrompt('completions', { model: 'x', prompt });
    expect(info.text).toBe(text);
    expect(info.tokenIdCount).toBe(tokenIdCount);
    expect(info.messageCount).toBe(0);
    expect(info.impliedCapabilities).toEqual(['completions']);
  });

  test('suffix is prompt text too; stream implies streaming', () => {
    const info = extractPrompt('completions', {
      prompt: 'def f(',
      suffix: 'return x',
      stream: true,
    });
    expect(info.text).toBe('def f(\nreturn x');
    expect(info.impliedCapabilities).toEqual(['completions', 'streaming']);
  });
});

describe('embeddings', () => {
  test.each<[unknown, string, number | undefined]>([
    ['embed me', 'embed me', undefined],
    [['one', 'two', 'three'], 'one\ntwo\nthree', undefined],
    [[[101, 102]], '', 2],
  ])('input %j', (input, text, tokenIdCount) => {
    const info = extractPrompt('embeddings', { model: 'e', input });
    expect(info.text).toBe(text);
    expect(info.tokenIdCount).toBe(tokenIdCount);
    expect(info.impliedCapabilities).toEqual(['embeddings']);
  });
});

describe('odd shapes never throw', () => {
  const cases: Array<[string, Endpoint, unknown]> = [
    ['content: 42', 'chat', { messages: [{ role: 'user', content: 42 }] }],
    ['messages not an array', 'chat', { messages: 'hello' }],
    [
      'message not an object',
      'chat',
      { messages: [null, 'x', 7, [], { role: 'user', content: 'ok' }] },
    ],
    [
      'parts of odd types',
      'chat',
      {
        messages: [
          {
            role: 'user',
            content: [null, 1, { type: 'text', text: 5 }, 'raw', { type: 'text', text: 'ok' }],
          },
        ],
      },
    ],
    [
      'tool_calls odd',
      'chat',
      {
        messages: [
          {
            role: 'assistant',
            tool_calls: [null, { function: 'x' }, { function: { name: 1, arguments: {} } }],
          },
        ],
      },
    ],
    ['tools not an array', 'chat', { messages: [], tools: { a: 1 } }],
    ['prompt an object', 'completions', { prompt: { text: 'x' } }],
    ['prompt mixed array', 'completions', { prompt: [null, {}, 'ok', [1, 'a']] }],
    ['input a number', 'embeddings', { input: 42 }],
    ['empty body', 'chat', {}],
    ['body null', 'chat', null],
    ['body an array', 'embeddings', ['x']],
  ];
  test.each(cases)('%s', (_name, endpoint, body) => {
    expect(() => extractPrompt(endpoint, body as OpenAIRequestBody)).not.toThrow();
    const info = extractPrompt(endpoint, body as OpenAIRequestBody);
    expect(info.impliedCapabilities).toContain(endpoint);
    expect(typeof info.text).toBe('string');
  });

  test('what can be read is still read', () => {
    const info = extractPrompt('chat', {
      messages: [
        null,
        { role: 'user', content: 42 },
        { role: 'user', content: [null, { type: 'text', text: 5 }, { type: 'text', text: 'ok' }] },
      ],
    });
    expect(info.text).toBe('ok');
    expect(info.messageCount).toBe(2);
  });
});
