import type OpenAI from 'openai';
import type { CompiledBackend } from '../../routing/table.js';
import { testBackend } from '../__fixtures__/backend.js';
import type { BuildRequestArgs } from '../types.js';
import { vertexGeminiAdapter } from './adapter.js';

const backend = (overrides: Partial<CompiledBackend> = {}): CompiledBackend =>
  testBackend({
    id: 'default/gemini',
    name: 'gemini',
    provider: 'vertex-gemini',
    baseUrl: 'https://us-central1-aiplatform.googleapis.com',
    model: 'gemini-2.5-flash',
    vertex: { project: 'my-project', location: 'us-central1' },
    auth: { type: 'gcp', source: 'default' },
    pricing: { inputPerMillion: 0.3, outputPerMillion: 2.5, cachedInputPerMillion: 0.03 },
    ...overrides,
  });

const MODEL_URL =
  'https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-flash';

const args = (
  body: Record<string, unknown>,
  overrides: Partial<BuildRequestArgs> = {},
): BuildRequestArgs => ({
  backend: backend(),
  endpoint: 'chat',
  body: { model: 'alias', ...body },
  stream: false,
  auth: { kind: 'bearer', token: 'ya29.token' },
  ...overrides,
});

function request(body: Record<string, unknown>, overrides: Partial<BuildRequestArgs> = {}) {
  const result = vertexGeminiAdapter.buildRequest(args(body, overrides));
  if (!result.ok) throw new Error(`unexpected ${result.status}: ${result.message}`);
  return result.request;
}

const translate = (body: Record<string, unknown>) =>
  JSON.parse(request(body).body) as Record<string, unknown>;

function refusal(body: Record<string, unknown>, overrides: Partial<BuildRequestArgs> = {}) {
  const result = vertexGeminiAdapter.buildRequest(args(body, overrides));
  if (result.ok) throw new Error('expected a refusal');
  return result;
}

const user = (content: unknown) => ({ role: 'user', content });
const hi = [user('hi')];

describe('vertex-gemini request', () => {
  test('chat only, with the gcp.vertex_ai telemetry name', () => {
    expect(vertexGeminiAdapter.supports('chat')).toBe(true);
    expect(vertexGeminiAdapter.supports('embeddings')).toBe(false);
    expect(vertexGeminiAdapter.telemetryName).toBe('gcp.vertex_ai');
    expect(refusal({ messages: hi }, { endpoint: 'completions' }).status).toBe(400);
  });

  test('generateContent with the access token; streams ask for SSE', () => {
    const buffered = request({ messages: hi });
    expect(buffered.url).toBe(`${MODEL_URL}:generateContent`);
    expect(buffered.headers).toMatchObject({
      authorization: 'Bearer ya29.token',
      'content-type': 'application/json',
    });
    const streamed = request({ messages: hi, stream: true }, { stream: true });
    expect(streamed.url).toBe(`${MODEL_URL}:streamGenerateContent?alt=sse`);
    expect(streamed.headers.accept).toBe('text/event-stream');
  });

  test('an endpoint written with /v1 and a trailing slash', () => {
    const url = request(
      { messages: hi },
      { backend: backend({ baseUrl: 'https://aiplatform.googleapis.com/v1/' }) },
    ).url;
    expect(url).toBe(
      'https://aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-flash:generateContent',
    );
  });

  test('an API key is never sent to Google', () => {
    const headers = request({ messages: hi }, { auth: { kind: 'api-key', key: 'sk-x' } }).headers;
    expect(JSON.stringify(headers)).not.toContain('sk-x');
  });

  test('system to systemInstruction, roles to user/model, no model in the body', () => {
    expect(
      translate({
        messages: [
          { role: 'system', content: 'Be brief.' },
          { role: 'developer', content: [{ type: 'text', text: 'Use metric.' }] },
          user('hi'),
          { role: 'assistant', content: 'hello' },
          user([{ type: 'text', text: 'and?' }]),
        ],
      }),
    ).toEqual({
      systemInstruction: { parts: [{ text: 'Be brief.\n\nUse metric.' }] },
      contents: [
        { role: 'user', parts: [{ text: 'hi' }] },
        { role: 'model', parts: [{ text: 'hello' }] },
        { role: 'user', parts: [{ text: 'and?' }] },
      ],
    });
  });

  test('data: URL images become inlineData; other URLs are a clear 400', () => {
    const body = translate({
      messages: [
        user([
          { type: 'text', text: 'what is it?' },
          { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } },
        ]),
      ],
    });
    expect(body.contents).toEqual([
      {
        role: 'user',
        parts: [
          { text: 'what is it?' },
          { inlineData: { mimeType: 'image/png', data: 'iVBORw0KGgo=' } },
        ],
      },
    ]);
    const refused = refusal({
      messages: [user([{ type: 'image_url', image_url: { url: 'https://x.test/cat.png' } }])],
    });
    expect(refused.status).toBe(400);
    expect(refused.message).toContain('messages[0].content[0].image_url.url');
    expect(refused.message).toContain('base64 data: URLs');
  });

  test('tools, tool_choice, tool calls and their results', () => {
    const body = translate({
      messages: [
        user('weather in Paris and Rome?'),
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
              function: { name: 'weather', arguments: '{"city":"Rome"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: '{"celsius":12}' },
        { role: 'tool', tool_call_id: 'call_2', content: 'sunny' },
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
      ],
      tool_choice: { type: 'function', function: { name: 'weather' } },
    });
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'weather in Paris and Rome?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'weather', args: { city: 'Paris' } } },
          { functionCall: { name: 'weather', args: { city: 'Rome' } } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { name: 'weather', response: { celsius: 12 } } },
          { functionResponse: { name: 'weather', response: { content: 'sunny' } } },
        ],
      },
    ]);
    expect(body.tools).toEqual([
      {
        functionDeclarations: [
          {
            name: 'weather',
            description: 'Current weather',
            parametersJsonSchema: { type: 'object', properties: { city: { type: 'string' } } },
          },
        ],
      },
    ]);
    expect(body.toolConfig).toEqual({
      functionCallingConfig: { mode: 'ANY', allowedFunctionNames: ['weather'] },
    });
  });

  test.each([
    ['auto', 'AUTO'],
    ['none', 'NONE'],
    ['required', 'ANY'],
  ])('tool_choice %s is mode %s', (choice, mode) => {
    expect(translate({ messages: hi, tool_choice: choice }).toolConfig).toEqual({
      functionCallingConfig: { mode },
    });
  });

  test('a tool result without its call is a 400 naming the id', () => {
    const refused = refusal({
      messages: [user('x'), { role: 'tool', tool_call_id: 'call_9', content: 'r' }],
    });
    expect(refused.message).toContain('messages[1].tool_call_id');
    expect(refused.message).toContain('call_9');
  });

  test('sampling settings and JSON output go to generationConfig', () => {
    expect(
      translate({
        messages: hi,
        max_tokens: 64,
        temperature: 0.2,
        top_p: 0.9,
        stop: 'END',
        seed: 7,
        response_format: {
          type: 'json_schema',
          json_schema: { name: 'x', schema: { type: 'object' } },
        },
      }).generationConfig,
    ).toEqual({
      maxOutputTokens: 64,
      temperature: 0.2,
      topP: 0.9,
      stopSequences: ['END'],
      seed: 7,
      responseMimeType: 'application/json',
      responseJsonSchema: { type: 'object' },
    });
    expect(
      translate({ messages: hi, response_format: { type: 'json_object' } }).generationConfig,
    ).toEqual({ responseMimeType: 'application/json' });
    expect(translate({ messages: hi })).not.toHaveProperty('generationConfig');
  });

  test.each([
    [{ n: 2 }, 'n > 1'],
    [{ logprobs: true }, 'log probabilities'],
    [{ messages: [{ role: 'function', content: 'x' }] }, 'role must be'],
    [{ tools: [{ type: 'web_search' }] }, 'only function tools'],
  ])('refuses what Gemini cannot do: %j', (body, said) => {
    const refused = refusal({ messages: hi, ...body });
    expect(refused.status).toBe(400);
    expect(refused.message).toContain(said);
  });

  test('a backend without spec.vertex is a server-side error, not a bad request', () => {
    const refused = refusal({ messages: hi }, { backend: backend({ vertex: undefined }) });
    expect(refused.status).toBe(500);
    expect(refused.message).toContain('spec.vertex');
  });
});

const parse = (response: unknown) => {
  const result = vertexGeminiAdapter.parseResponse({
    endpoint: 'chat',
    body: JSON.stringify(response),
    responseModel: 'fast',
  });
  return { ...result, json: JSON.parse(result.body) as OpenAI.ChatCompletion };
};

describe('vertex-gemini buffered response', () => {
  test('text, usage with thinking counted as output and cached tokens', () => {
    const { json, usage } = parse({
      responseId: 'r1',
      candidates: [
        {
          content: {
            role: 'model',
            parts: [{ text: 'pondering', thought: true }, { text: 'Hello' }, { text: ' there' }],
          },
          finishReason: 'STOP',
        },
      ],
      usageMetadata: {
        promptTokenCount: 100,
        candidatesTokenCount: 5,
        thoughtsTokenCount: 20,
        totalTokenCount: 125,
        cachedContentTokenCount: 60,
      },
    });
    expect(json).toMatchObject({
      id: 'chatcmpl-r1',
      object: 'chat.completion',
      model: 'fast',
      choices: [
        { index: 0, message: { role: 'assistant', content: 'Hello there' }, finish_reason: 'stop' },
      ],
      usage: {
        prompt_tokens: 100,
        completion_tokens: 25,
        total_tokens: 125,
        prompt_tokens_details: { cached_tokens: 60 },
      },
    });
    expect(usage).toEqual({
      promptTokens: 100,
      completionTokens: 25,
      totalTokens: 125,
      cachedPromptTokens: 60,
    });
  });

  test('function calls become tool_calls with ids and JSON arguments', () => {
    const { json } = parse({
      responseId: 'r2',
      candidates: [
        {
          content: {
            parts: [
              { functionCall: { name: 'weather', args: { city: 'Paris' } } },
              { functionCall: { id: 'fc-7', name: 'time', args: {} } },
            ],
          },
          finishReason: 'STOP',
        },
      ],
    });
    expect(json.choices[0]).toEqual({
      index: 0,
      finish_reason: 'tool_calls',
      message: {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_r2_0',
            type: 'function',
            function: { name: 'weather', arguments: '{"city":"Paris"}' },
          },
          { id: 'fc-7', type: 'function', function: { name: 'time', arguments: '{}' } },
        ],
      },
    });
  });

  test('a thought signature rides in the tool call id and goes back with the call', () => {
    const { json } = parse({
      responseId: 'r3',
      candidates: [
        {
          content: {
            parts: [
              { functionCall: { name: 'weather', args: {} }, thoughtSignature: 'c2lnbmF0dXJl+/=' },
            ],
          },
          finishReason: 'STOP',
        },
      ],
    });
    const call = json.choices[0]?.message.tool_calls?.[0];
    expect(call?.id).toBe('call_r3_0:ts:c2lnbmF0dXJl+/=');
    const body = translate({
      messages: [
        user('weather?'),
        { role: 'assistant', content: null, tool_calls: [call] },
        { role: 'tool', tool_call_id: call?.id, content: 'sunny' },
      ],
    });
    expect(body.contents).toEqual([
      { role: 'user', parts: [{ text: 'weather?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { name: 'weather', args: {} }, thoughtSignature: 'c2lnbmF0dXJl+/=' },
        ],
      },
      {
        role: 'user',
        parts: [{ functionResponse: { name: 'weather', response: { content: 'sunny' } } }],
      },
    ]);
  });

  test.each([
    ['MAX_TOKENS', 'length'],
    ['SAFETY', 'content_filter'],
    ['RECITATION', 'content_filter'],
    ['PROHIBITED_CONTENT', 'content_filter'],
    ['OTHER', 'stop'],
  ])('finishReason %s is %s', (reason, finish) => {
    const { json } = parse({
      candidates: [{ content: { parts: [{ text: 'x' }] }, finishReason: reason }],
    });
    expect(json.choices[0]?.finish_reason).toBe(finish);
  });

  test('a blocked prompt has no candidates: content_filter, no content', () => {
    const { json } = parse({
      promptFeedback: { blockReason: 'SAFETY' },
      usageMetadata: { promptTokenCount: 8, totalTokenCount: 8 },
    });
    expect(json.choices[0]).toMatchObject({
      message: { content: null },
      finish_reason: 'content_filter',
    });
  });

  test('a body that is not JSON throws', () => {
    expect(() =>
      vertexGeminiAdapter.parseResponse({ endpoint: 'chat', body: '<html>', responseModel: 'x' }),
    ).toThrow(/not JSON/);
  });
});

const sse = (...events: unknown[]) =>
  events.map((e) => `data: ${JSON.stringify(e)}\r\n\r\n`).join('');

function streamOf(input: string, clientWantsUsage: boolean, pieces = 1) {
  const translator = vertexGeminiAdapter.createStreamTranslator({
    endpoint: 'chat',
    clientWantsUsage,
    responseModel: 'fast',
  });
  const bytes = Buffer.from(input);
  let out = '';
  const size = Math.ceil(bytes.length / pieces);
  for (let i = 0; i < bytes.length; i += size) out += translator.push(bytes.subarray(i, i + size));
  const { tail, usage } = translator.end();
  out += tail;
  const events = out
    .split('\n\n')
    .filter((e) => e !== '')
    .map((e) => e.replace(/^data: /, ''));
  return { events, usage, complete: translator.complete };
}

const STREAM = sse(
  { responseId: 's1', candidates: [{ content: { role: 'model', parts: [{ text: 'Hel' }] } }] },
  {
    responseId: 's1',
    candidates: [{ content: { role: 'model', parts: [{ text: 'lo' }] } }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 1, totalTokenCount: 11 },
  },
  {
    responseId: 's1',
    candidates: [{ content: { role: 'model', parts: [{ text: '!' }] }, finishReason: 'STOP' }],
    usageMetadata: { promptTokenCount: 10, candidatesTokenCount: 3, totalTokenCount: 13 },
  },
);

describe('vertex-gemini stream', () => {
  test('text pieces become chunks; finish, usage and [DONE] at the end', () => {
    const { events, usage, complete } = streamOf(STREAM, true);
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as OpenAI.ChatCompletionChunk);
    expect(chunks.map((c) => c.choices[0]?.delta ?? null)).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hel' },
      { content: 'lo' },
      { content: '!' },
      {},
      null,
    ]);
    expect(chunks[4]?.choices[0]?.finish_reason).toBe('stop');
    expect(chunks[5]?.usage).toMatchObject({ prompt_tokens: 10, completion_tokens: 3 });
    expect(chunks.every((c) => c.id === 'chatcmpl-s1' && c.model === 'fast')).toBe(true);
    expect(events.at(-1)).toBe('[DONE]');
    expect(usage).toEqual({ promptTokens: 10, completionTokens: 3, totalTokens: 13 });
    expect(complete).toBe(true);
  });

  test('the same output however the bytes are split; no usage chunk unless asked', () => {
    const whole = streamOf(STREAM, false);
    expect(whole.events.some((e) => e.includes('"usage"'))).toBe(false);
    expect(whole.usage?.totalTokens).toBe(13);
    for (const pieces of [2, 7, 50])
      expect(streamOf(STREAM, false, pieces).events).toEqual(whole.events);
  });

  test('function calls stream as whole tool_call chunks and finish in tool_calls', () => {
    const { events } = streamOf(
      sse({
        responseId: 's2',
        candidates: [
          {
            content: { parts: [{ functionCall: { name: 'weather', args: { city: 'Rome' } } }] },
            finishReason: 'STOP',
          },
        ],
      }),
      false,
    );
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e) as OpenAI.ChatCompletionChunk);
    expect(chunks[1]?.choices[0]?.delta).toEqual({
      tool_calls: [
        {
          index: 0,
          id: 'call_s2_0',
          type: 'function',
          function: { name: 'weather', arguments: '{"city":"Rome"}' },
        },
      ],
    });
    expect(chunks[2]?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  test('a stream cut before finishReason is incomplete: no [DONE]', () => {
    const cut = STREAM.slice(0, STREAM.indexOf('"!"'));
    const { events, complete } = streamOf(cut, true);
    expect(complete).toBe(false);
    expect(events).not.toContain('[DONE]');
  });

  test('an error event mid-stream becomes an OpenAI error event', () => {
    const { events, complete } = streamOf(
      sse(
        { candidates: [{ content: { parts: [{ text: 'a' }] } }] },
        { error: { code: 429, message: 'Resource exhausted', status: 'RESOURCE_EXHAUSTED' } },
      ),
      false,
    );
    expect(complete).toBe(false);
    expect(JSON.parse(events.at(-1) ?? '')).toEqual({
      error: { message: 'Resource exhausted', type: 'RESOURCE_EXHAUSTED' },
    });
  });
});

describe('vertex-gemini errors and probes', () => {
  test.each([
    [
      '{"error":{"code":403,"message":"Permission denied on resource project x.","status":"PERMISSION_DENIED"}}',
      'PERMISSION_DENIED: Permission denied on resource project x.',
    ],
    [
      '[{"error":{"code":429,"message":"Quota exceeded.","status":"RESOURCE_EXHAUSTED"}}]',
      'RESOURCE_EXHAUSTED: Quota exceeded.',
    ],
    ['<html>502</html>', 'upstream returned HTTP 502'],
  ])('errorMessage(%s)', (body, message) => {
    expect(vertexGeminiAdapter.errorMessage(502, body)).toBe(message);
  });

  test('models probe: countTokens (free); completion: one output token', () => {
    const auth = { kind: 'bearer', token: 't' } as const;
    const models = vertexGeminiAdapter.probeRequest({ backend: backend(), kind: 'models', auth });
    expect(models).toMatchObject({
      url: `${MODEL_URL}:countTokens`,
      method: 'POST',
      headers: { authorization: 'Bearer t' },
    });
    const completion = vertexGeminiAdapter.probeRequest({
      backend: backend(),
      kind: 'completion',
      auth: undefined,
    });
    expect(completion.url).toBe(`${MODEL_URL}:generateContent`);
    expect(JSON.parse(completion.body ?? '')).toMatchObject({
      generationConfig: { maxOutputTokens: 1 },
    });
    expect(completion.headers).not.toHaveProperty('authorization');
  });
});
