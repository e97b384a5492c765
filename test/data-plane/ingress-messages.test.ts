// POST /v1/messages through a real proxy, with the official @anthropic-ai/sdk
// client: routed like chat (rules, fallback, accounting, headers), served by
// Anthropic and OpenAI backends alike, buffered and streamed, with tools both
// ways; errors come in Anthropic's shape with Anthropic's status codes.
import Anthropic, { APIError } from '@anthropic-ai/sdk';
import OpenAI from 'openai';
import { createLogger } from '../../src/telemetry/logger.js';
import type { RawMessageStreamEvent } from '@anthropic-ai/sdk/resources/messages';
import {
  apiKey,
  post,
  route,
  startDataPlane,
  tenant,
  type DataPlane,
} from '../support/data-plane.js';
import { agentRoute, startToolPlane, TOOL_ANSWER, TOOL_CALL } from '../support/tool-upstream.js';

let dp: DataPlane | undefined;
afterEach(async () => {
  await dp?.close();
  dp = undefined;
});

const PRICING = { inputPerMillion: 3, outputPerMillion: 15 };
const WEATHER_TOOL = {
  name: TOOL_CALL.name,
  description: 'The weather in a city',
  input_schema: {
    type: 'object' as const,
    properties: { city: { type: 'string' } },
    required: ['city'],
  },
};
const hello = {
  model: 'agent',
  max_tokens: 100,
  messages: [{ role: 'user' as const, content: 'Say hello.' }],
};

/** A gateway whose one caller is tenant team-a with `key`; no ServiceAccount token is valid. */
function gatewayFor(key: string): Parameters<typeof startDataPlane>[2] {
  return {
    identity: {
      mode: 'gateway',
      tokenReviewer: { review: () => Promise.resolve({ authenticated: false }) },
    },
    tableIdentity: {
      tenants: [tenant('team-a')],
      keys: [apiKey('team-a-key', key, 'team-a')],
      unmatched: 'deny',
    },
  };
}

function anthropicClient(plane: DataPlane, key = 'unused'): Anthropic {
  return new Anthropic({
    baseURL: plane.proxy.dataUrl,
    apiKey: key,
    maxRetries: 0,
    timeout: 20_000,
  });
}

describe('/v1/messages with the @anthropic-ai/sdk client', () => {
  test.each(['anthropic', 'openai'] as const)(
    'buffered answer from an %s backend: text, stop_reason, usage, cost and the routing headers',
    async (provider) => {
      dp = await startDataPlane(
        [{ name: 'a', spec: { provider, pricing: PRICING }, simulator: { outputTokens: 6 } }],
        agentRoute(['a']),
      );
      const client = anthropicClient(dp);
      const { data, response } = await client.messages
        .create({ ...hello, system: 'Answer briefly.' })
        .withResponse();
      expect(data).toMatchObject({
        type: 'message',
        role: 'assistant',
        model: 'agent',
        stop_reason: 'end_turn',
      });
      const block = data.content[0];
      if (block?.type !== 'text') throw new Error('no text block');
      expect(block.text.trim().split(/\s+/)).toHaveLength(6);
      expect(data.usage.output_tokens).toBe(6);
      expect(data.usage.input_tokens).toBeGreaterThan(0);
      expect(response.headers.get('x-modelroute-route')).toBe('default/agent');
      expect(response.headers.get('x-modelroute-backend')).toBe('default/a');
      const cost = (data.usage.input_tokens * 3 + 6 * 15) / 1e6;
      expect(Number(response.headers.get('x-modelroute-cost-usd'))).toBeCloseTo(cost, 10);
      const sent = dp.sims.a!.requests[0]!.body as Record<string, unknown>;
      expect(sent.model).toBe('a-upstream');
      if (provider === 'openai')
        expect(sent.messages).toEqual([
          { role: 'system', content: 'Answer briefly.' },
          { role: 'user', content: 'Say hello.' },
        ]);
      else expect(sent).toMatchObject({ system: 'Answer briefly.', max_tokens: 100 });
    },
  );

  test('max_tokens reached: stop_reason max_tokens', async () => {
    dp = await startDataPlane([{ name: 'a', simulator: { outputTokens: 20 } }], agentRoute(['a']));
    const message = await anthropicClient(dp).messages.create({ ...hello, max_tokens: 3 });
    expect(message.stop_reason).toBe('max_tokens');
    expect(message.usage.output_tokens).toBe(3);
  });

  test.each(['anthropic', 'openai'] as const)(
    'streamed answer from an %s backend: the SDK stream helper, text events and the final message',
    async (provider) => {
      dp = await startDataPlane(
        [{ name: 'a', spec: { provider }, simulator: { outputTokens: 7 } }],
        agentRoute(['a']),
      );
      const stream = anthropicClient(dp).messages.stream(hello);
      let text = '';
      stream.on('text', (delta) => (text += delta));
      const final = await stream.finalMessage();
      expect(text.trim().split(/\s+/)).toHaveLength(7);
      expect(final.content).toEqual([{ type: 'text', text }]);
      expect(final.stop_reason).toBe('end_turn');
      expect(final.usage.output_tokens).toBe(7);
      expect(final.usage.input_tokens).toBeGreaterThan(0);
    },
  );

  test('raw stream events come in the Messages API order', async () => {
    dp = await startDataPlane([{ name: 'a', simulator: { outputTokens: 3 } }], agentRoute(['a']));
    const stream = await anthropicClient(dp).messages.create({ ...hello, stream: true });
    const events: RawMessageStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
  });

  test.each(['anthropic', 'openai'] as const)(
    'tools through an %s backend: tool_use, then the tool_result answered',
    async (provider) => {
      const plane = await startToolPlane(provider);
      dp = plane;
      const client = anthropicClient(dp);
      const question = { role: 'user' as const, content: 'What is the weather in Paris?' };
      const first = await client.messages.create({
        model: 'agent',
        max_tokens: 200,
        messages: [question],
        tools: [WEATHER_TOOL],
        tool_choice: { type: 'auto' },
      });
      expect(first.stop_reason).toBe('tool_use');
      const use = first.content.find((b) => b.type === 'tool_use');
      expect(use).toMatchObject({ name: TOOL_CALL.name, input: { city: 'Paris' } });
      if (use?.type !== 'tool_use') throw new Error('no tool_use block');
      expect(first.usage).toMatchObject({ input_tokens: 21, output_tokens: 9 });
      const sentTools = plane.tools.requests[0]!.tools as Record<string, unknown>[];
      expect(sentTools[0]).toMatchObject(
        provider === 'openai'
          ? {
              type: 'function',
              function: { name: TOOL_CALL.name, parameters: WEATHER_TOOL.input_schema },
            }
          : { name: TOOL_CALL.name, input_schema: WEATHER_TOOL.input_schema },
      );

      const second = await client.messages.create({
        model: 'agent',
        max_tokens: 200,
        tools: [WEATHER_TOOL],
        messages: [
          question,
          { role: 'assistant', content: first.content },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: use.id, content: '{"sky":"clear"}' }],
          },
        ],
      });
      expect(second.content).toEqual([{ type: 'text', text: TOOL_ANSWER }]);
      expect(second.stop_reason).toBe('end_turn');
      const resent = plane.tools.requests[1]!.messages as Record<string, unknown>[];
      if (provider === 'openai')
        expect(resent.slice(1)).toEqual([
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: use.id,
                type: 'function',
                function: { name: TOOL_CALL.name, arguments: TOOL_CALL.arguments },
              },
            ],
          },
          { role: 'tool', tool_call_id: use.id, content: '{"sky":"clear"}' },
        ]);
      else
        expect(resent.slice(1)).toEqual([
          {
            role: 'assistant',
            content: [
              { type: 'tool_use', id: use.id, name: TOOL_CALL.name, input: { city: 'Paris' } },
            ],
          },
          {
            role: 'user',
            content: [{ type: 'tool_result', tool_use_id: use.id, content: '{"sky":"clear"}' }],
          },
        ]);
    },
  );

  test.each(['anthropic', 'openai'] as const)(
    'a streamed tool_use through an %s backend: input_json deltas assemble the input',
    async (provider) => {
      const plane = await startToolPlane(provider);
      dp = plane;
      const stream = anthropicClient(dp).messages.stream({
        model: 'agent',
        max_tokens: 200,
        messages: [{ role: 'user', content: 'What is the weather in Paris?' }],
        tools: [WEATHER_TOOL],
      });
      let json = '';
      stream.on('inputJson', (delta) => (json += delta));
      const final = await stream.finalMessage();
      expect(json).toBe(TOOL_CALL.arguments);
      expect(final.stop_reason).toBe('tool_use');
      expect(final.content).toEqual([
        expect.objectContaining({
          type: 'tool_use',
          name: TOOL_CALL.name,
          input: { city: 'Paris' },
        }),
      ]);
      expect(final.usage.output_tokens).toBe(9);
    },
  );

  test('fallback: the first backend fails, the second (another provider) serves, buffered and streamed', async () => {
    dp = await startDataPlane(
      [
        {
          name: 'broken',
          spec: { provider: 'anthropic' },
          simulator: { errorRate: 1, errorStatus: 529 },
        },
        { name: 'b', simulator: { outputTokens: 4 } },
      ],
      agentRoute(['broken', 'b'], true),
    );
    const client = anthropicClient(dp);
    const { data, response } = await client.messages.create(hello).withResponse();
    expect(data.usage.output_tokens).toBe(4);
    expect(response.headers.get('x-modelroute-backend')).toBe('default/b');
    expect(response.headers.get('x-modelroute-attempts')).toBe('2');
    const final = await client.messages.stream(hello).finalMessage();
    expect(final.usage.output_tokens).toBe(4);
    expect(dp.sims.broken!.requests).toHaveLength(2);
  });

  test('a stream the backend breaks after its first tokens ends with an error event the SDK throws', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { outputTokens: 20, cutAfterTokens: 3 } }],
      agentRoute(['a']),
    );
    const stream = await anthropicClient(dp).messages.create({ ...hello, stream: true });
    const types: string[] = [];
    const failure = await (async () => {
      for await (const event of stream) types.push(event.type);
    })().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(APIError);
    expect((failure as APIError).error).toMatchObject({
      type: 'error',
      error: { type: 'api_error', message: expect.stringContaining('interrupted') as string },
    });
    expect(types[0]).toBe('message_start');
    expect(types).not.toContain('message_stop');
  });

  test('the access log records the request as a messages request, with tokens and cost, never the prompt', async () => {
    const lines: string[] = [];
    dp = await startDataPlane(
      [{ name: 'a', spec: { pricing: PRICING }, simulator: { outputTokens: 4 } }],
      agentRoute(['a']),
      { logger: createLogger({ write: (l) => lines.push(l) }), accessLog: { sampleRate: 1 } },
    );
    const secret = 'my card number is 4111 1111 1111 1111';
    const message = await anthropicClient(dp).messages.create({
      ...hello,
      messages: [{ role: 'user', content: secret }],
    });
    const access = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.log === 'access');
    expect(access).toEqual([
      expect.objectContaining({
        endpoint: 'messages',
        route: 'default/agent',
        backend: 'default/a',
        status: 200,
        inputTokens: message.usage.input_tokens,
        outputTokens: 4,
        costUsd: expect.closeTo((message.usage.input_tokens * 3 + 4 * 15) / 1e6, 10) as number,
      }),
    ]);
    expect(lines.join('\n')).not.toContain('4111');
  });

  test("a learning rule's request: the model version header, and feedback for its request id (Messages and Responses)", async () => {
    const key = `mr-${'f'.repeat(43)}`;
    dp = await startDataPlane(
      [
        { name: 'mini', spec: { quality: 0.5 } },
        { name: 'big', spec: { quality: 0.9 } },
      ],
      [
        route('agent', {
          rules: [
            {
              name: 'learn',
              strategy: 'cost-quality',
              costQuality: { threshold: 0.5, learning: { sampleRate: 0, feedbackWindow: '1m' } },
              backendRefs: [{ name: 'mini' }, { name: 'big' }],
            },
          ],
        }),
      ],
      gatewayFor(key),
    );
    const viaMessages = await anthropicClient(dp, key).messages.create(hello).withResponse();
    const viaResponses = await new OpenAI({
      baseURL: `${dp.proxy.dataUrl}/v1`,
      apiKey: key,
      maxRetries: 0,
    }).responses
      .create({ model: 'agent', input: 'Say hello.' })
      .withResponse();
    for (const { response } of [viaMessages, viaResponses]) {
      expect(response.headers.get('x-modelroute-model-version')).toBe('0');
      expect(response.headers.get('x-modelroute-tier')).toBe('cheap');
      const id = response.headers.get('x-modelroute-request-id') ?? '';
      const scored = await post(
        `${dp.proxy.dataUrl}/v1/feedback`,
        { request_id: id, score: 1 },
        { authorization: `Bearer ${key}` },
      );
      expect(scored).toMatchObject({ status: 200, json: { accepted: true } });
    }
    // The Response's id is the proxy's request id, so either names it.
    expect(viaResponses.data.id).toBe(
      `resp_${viaResponses.response.headers.get('x-modelroute-request-id')}`,
    );
  });

  test('count_tokens: the proxy estimates the prompt itself; nothing goes upstream', async () => {
    dp = await startDataPlane([{ name: 'a' }], agentRoute(['a']));
    const client = anthropicClient(dp);
    const short = await client.messages.countTokens({ model: 'agent', messages: hello.messages });
    const long = await client.messages.countTokens({
      model: 'agent',
      system: 'You are a careful assistant who answers in full sentences.',
      messages: [{ role: 'user', content: 'Say hello. '.repeat(50) }],
      tools: [WEATHER_TOOL],
    });
    expect(short.input_tokens).toBeGreaterThan(0);
    expect(long.input_tokens).toBeGreaterThan(short.input_tokens + 100);
    const unknown = await client.messages
      .countTokens({ model: 'no-such-route', messages: hello.messages })
      .catch((err: unknown) => err);
    expect(unknown).toBeInstanceOf(APIError);
    expect((unknown as APIError).status).toBe(404);
    expect((unknown as APIError).error).toMatchObject({ error: { type: 'not_found_error' } });
    expect(dp.sims.a!.requests).toHaveLength(0);
  });

  test('errors in the Anthropic shape and status codes', async () => {
    dp = await startDataPlane(
      [{ name: 'a' }, { name: 'down', simulator: { errorRate: 1, errorStatus: 500 } }],
      [
        ...agentRoute(['a']),
        route('down', { rules: [{ name: 'all', backendRefs: [{ name: 'down' }] }] }),
      ],
    );
    const client = anthropicClient(dp);
    const failure = async (body: Record<string, unknown>): Promise<APIError> => {
      try {
        await client.messages.create(body as never);
      } catch (err) {
        if (err instanceof APIError) return err;
        throw err;
      }
      throw new Error('expected an error');
    };
    const noMax = await failure({ model: 'agent', messages: hello.messages });
    expect(noMax.status).toBe(400);
    expect(noMax.error).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') },
    });
    const serverTool = await failure({
      ...hello,
      tools: [{ type: 'web_search_20250305', name: 'web_search' }],
    });
    expect(serverTool.status).toBe(400);
    expect(serverTool.error).toMatchObject({
      error: { type: 'invalid_request_error', message: expect.stringContaining('tools[0].type') },
    });
    const unknown = await failure({ ...hello, model: 'no-such-route' });
    expect(unknown.status).toBe(404);
    expect(unknown.error).toMatchObject({ type: 'error', error: { type: 'not_found_error' } });
    const upstream = await failure({ ...hello, model: 'down' });
    // The proxy's 503 (no backend could serve) is Anthropic's 529 overloaded_error.
    expect(upstream.status).toBe(529);
    expect(upstream.error).toMatchObject({ type: 'error', error: { type: 'overloaded_error' } });
    expect(dp.sims.a!.requests).toHaveLength(0);
  });

  test("a modelroute API key in x-api-key (the SDK's apiKey) identifies the tenant", async () => {
    const key = `mr-${'k'.repeat(43)}`;
    dp = await startDataPlane([{ name: 'a' }], agentRoute(['a']), gatewayFor(key));
    const { response } = await anthropicClient(dp, key).messages.create(hello).withResponse();
    expect(response.headers.get('x-modelroute-tenant')).toBe('team-a');
    const refused = await anthropicClient(dp, `mr-${'w'.repeat(43)}`)
      .messages.create(hello)
      .catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(401);
    expect((refused as APIError).error).toMatchObject({ error: { type: 'authentication_error' } });
  });
});
