// POST /v1/responses through a real proxy, with the official openai SDK's
// Responses client: routed like chat (rules, fallback, accounting, headers),
// served by OpenAI and Anthropic backends alike, buffered and streamed, with
// function tools both ways; what the proxy cannot do is a 400 naming the field.
import { APIError } from 'openai';
import type { ResponseStreamEvent } from 'openai/resources/responses/responses';
import { startDataPlane, type DataPlane } from '../support/data-plane.js';
import { agentRoute, startToolPlane, TOOL_ANSWER, TOOL_CALL } from '../support/tool-upstream.js';

let dp: DataPlane | undefined;
afterEach(async () => {
  await dp?.close();
  dp = undefined;
});

const PRICING = { inputPerMillion: 1, outputPerMillion: 2 };
const WEATHER_TOOL = {
  type: 'function' as const,
  name: TOOL_CALL.name,
  description: 'The weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  strict: false,
};

describe('/v1/responses with the openai SDK', () => {
  test.each(['openai', 'anthropic'] as const)(
    'buffered answer from an %s backend: output_text, usage, cost and the routing headers',
    async (provider) => {
      dp = await startDataPlane(
        [{ name: 'a', spec: { provider, pricing: PRICING }, simulator: { outputTokens: 5 } }],
        agentRoute(['a']),
      );
      const { data, response } = await dp.client.responses
        .create({
          model: 'agent',
          instructions: 'Answer briefly.',
          input: 'Say hello.',
          max_output_tokens: 50,
        })
        .withResponse();
      expect(data.object).toBe('response');
      expect(data.status).toBe('completed');
      expect(data.model).toBe('agent');
      expect(data.output_text.trim().split(/\s+/)).toHaveLength(5);
      expect(data.output[0]).toMatchObject({ type: 'message', role: 'assistant' });
      expect(data.usage?.output_tokens).toBe(5);
      expect(data.usage?.input_tokens).toBeGreaterThan(0);
      expect(data.usage?.total_tokens).toBe(data.usage!.input_tokens + 5);
      expect(response.headers.get('x-modelroute-route')).toBe('default/agent');
      expect(response.headers.get('x-modelroute-backend')).toBe('default/a');
      const cost = (data.usage!.input_tokens * 1 + 5 * 2) / 1e6;
      expect(Number(response.headers.get('x-modelroute-cost-usd'))).toBeCloseTo(cost, 10);
      // The provider got a chat request in its own dialect, instructions as the system prompt.
      const sent = dp.sims.a!.requests[0]!.body as Record<string, unknown>;
      if (provider === 'openai') {
        expect(sent).toMatchObject({
          model: 'a-upstream',
          max_completion_tokens: 50,
          messages: [
            { role: 'system', content: 'Answer briefly.' },
            { role: 'user', content: 'Say hello.' },
          ],
        });
      } else {
        expect(sent).toMatchObject({
          model: 'a-upstream',
          max_tokens: 50,
          system: 'Answer briefly.',
        });
      }
    },
  );

  test.each(['openai', 'anthropic'] as const)(
    'streamed answer from an %s backend: created first, text deltas, completed with usage',
    async (provider) => {
      dp = await startDataPlane(
        [{ name: 'a', spec: { provider }, simulator: { outputTokens: 7 } }],
        agentRoute(['a']),
      );
      const stream = await dp.client.responses.create({
        model: 'agent',
        input: [{ role: 'user', content: [{ type: 'input_text', text: 'Say hello.' }] }],
        stream: true,
      });
      const events: ResponseStreamEvent[] = [];
      for await (const event of stream) events.push(event);
      expect(events[0]?.type).toBe('response.created');
      expect(events[1]?.type).toBe('response.in_progress');
      const last = events.at(-1);
      expect(last?.type).toBe('response.completed');
      // Sequence numbers count up from 0 without a gap.
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      const text = events
        .flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []))
        .join('');
      expect(text.trim().split(/\s+/)).toHaveLength(7);
      if (last?.type !== 'response.completed') throw new Error('no completed event');
      expect(last.response.usage?.output_tokens).toBe(7);
      expect(last.response.output[0]).toMatchObject({
        type: 'message',
        status: 'completed',
        content: [{ type: 'output_text', text }],
      });
    },
  );

  test('the SDK stream helper assembles the final response', async () => {
    dp = await startDataPlane([{ name: 'a', simulator: { outputTokens: 4 } }], agentRoute(['a']));
    const stream = dp.client.responses.stream({ model: 'agent', input: 'Say hello.' });
    let deltas = '';
    stream.on('response.output_text.delta', (e) => (deltas += e.delta));
    const final = await stream.finalResponse();
    expect(final.output_text).toBe(deltas);
    expect(final.output_text.trim().split(/\s+/)).toHaveLength(4);
    expect(final.usage?.output_tokens).toBe(4);
  });

  test.each(['openai', 'anthropic'] as const)(
    'function tools through an %s backend: a function_call item, then its output answered',
    async (provider) => {
      const plane = await startToolPlane(provider);
      dp = plane;
      const first = await dp.client.responses.create({
        model: 'agent',
        input: 'What is the weather in Paris?',
        tools: [WEATHER_TOOL],
        tool_choice: 'auto',
      });
      const call = first.output.find((item) => item.type === 'function_call');
      expect(call).toMatchObject({
        type: 'function_call',
        name: TOOL_CALL.name,
        status: 'completed',
      });
      if (call?.type !== 'function_call') throw new Error('no function call');
      expect(JSON.parse(call.arguments)).toEqual({ city: 'Paris' });
      expect(first.usage).toMatchObject({ input_tokens: 21, output_tokens: 9, total_tokens: 30 });
      // The upstream got the tool in its own dialect.
      const sentTools = plane.tools.requests[0]!.tools as Record<string, unknown>[];
      expect(sentTools[0]).toMatchObject(
        provider === 'openai'
          ? {
              type: 'function',
              function: { name: TOOL_CALL.name, parameters: WEATHER_TOOL.parameters },
            }
          : { name: TOOL_CALL.name, input_schema: WEATHER_TOOL.parameters },
      );

      const second = await dp.client.responses.create({
        model: 'agent',
        input: [
          { role: 'user', content: 'What is the weather in Paris?' },
          call,
          { type: 'function_call_output', call_id: call.call_id, output: '{"sky":"clear"}' },
        ],
        tools: [WEATHER_TOOL],
      });
      expect(second.output_text).toBe(TOOL_ANSWER);
      const resent = plane.tools.requests[1]!.messages as Record<string, unknown>[];
      if (provider === 'openai') {
        expect(resent.slice(1)).toEqual([
          {
            role: 'assistant',
            content: null,
            tool_calls: [
              {
                id: call.call_id,
                type: 'function',
                function: { name: TOOL_CALL.name, arguments: call.arguments },
              },
            ],
          },
          { role: 'tool', tool_call_id: call.call_id, content: '{"sky":"clear"}' },
        ]);
      } else {
        expect(resent[2]).toEqual({
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: call.call_id, content: '{"sky":"clear"}' }],
        });
      }
    },
  );

  test.each(['openai', 'anthropic'] as const)(
    'a streamed function call through an %s backend: argument deltas and the item in the final response',
    async (provider) => {
      const plane = await startToolPlane(provider);
      dp = plane;
      const stream = dp.client.responses.stream({
        model: 'agent',
        input: 'What is the weather in Paris?',
        tools: [WEATHER_TOOL],
      });
      let args = '';
      stream.on('response.function_call_arguments.delta', (e) => (args += e.delta));
      const final = await stream.finalResponse();
      expect(args).toBe(TOOL_CALL.arguments);
      const call = final.output.find((item) => item.type === 'function_call');
      expect(call).toMatchObject({ name: TOOL_CALL.name, arguments: TOOL_CALL.arguments });
      expect(final.usage?.output_tokens).toBe(9);
    },
  );

  test('fallback: the first backend fails, the second (another provider) serves, buffered and streamed', async () => {
    dp = await startDataPlane(
      [
        { name: 'broken', simulator: { errorRate: 1, errorStatus: 500 } },
        { name: 'b', spec: { provider: 'anthropic' }, simulator: { outputTokens: 3 } },
      ],
      agentRoute(['broken', 'b'], true),
    );
    const { data, response } = await dp.client.responses
      .create({ model: 'agent', input: 'Say hello.' })
      .withResponse();
    expect(data.output_text.trim().split(/\s+/)).toHaveLength(3);
    expect(response.headers.get('x-modelroute-backend')).toBe('default/b');
    expect(response.headers.get('x-modelroute-attempts')).toBe('2');
    const events = await dp.client.responses.create({
      model: 'agent',
      input: 'Say hello.',
      stream: true,
    });
    const types: string[] = [];
    for await (const event of events) types.push(event.type);
    expect(types[0]).toBe('response.created');
    expect(types.at(-1)).toBe('response.completed');
    expect(dp.sims.broken!.requests).toHaveLength(2);
  });

  test('a stream the backend breaks after its first tokens ends with response.failed', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { outputTokens: 20, cutAfterTokens: 3 } }],
      agentRoute(['a']),
    );
    const stream = await dp.client.responses.create({
      model: 'agent',
      input: 'Say hello.',
      stream: true,
    });
    const events: ResponseStreamEvent[] = [];
    for await (const event of stream) events.push(event);
    expect(events[0]?.type).toBe('response.created');
    const last = events.at(-1);
    expect(last?.type).toBe('response.failed');
    if (last?.type !== 'response.failed') throw new Error('no failed event');
    expect(last.response.error?.message).toContain('upstream stream interrupted');
    expect(events.some((e) => e.type === 'response.completed')).toBe(false);
  });

  test('errors in the OpenAI shape: built-in tools, stored state, an unknown model', async () => {
    dp = await startDataPlane([{ name: 'a' }], agentRoute(['a']));
    const failure = async (body: Record<string, unknown>): Promise<APIError> => {
      try {
        await dp!.client.responses.create(body as never);
      } catch (err) {
        if (err instanceof APIError) return err;
        throw err;
      }
      throw new Error('expected an error');
    };
    const builtIn = await failure({
      model: 'agent',
      input: 'Search the web.',
      tools: [{ type: 'web_search' }],
    });
    expect(builtIn.status).toBe(400);
    expect(builtIn.param).toBe('tools[0].type');
    expect(builtIn.message).toContain('function tools only');
    const stored = await failure({
      model: 'agent',
      input: 'Go on.',
      previous_response_id: 'resp_1',
    });
    expect(stored.status).toBe(400);
    expect(stored.param).toBe('previous_response_id');
    const storeTrue = await failure({ model: 'agent', input: 'Hi.', store: true });
    expect(storeTrue.status).toBe(400);
    expect(storeTrue.param).toBe('store');
    const unknown = await failure({ model: 'no-such-route', input: 'Hi.' });
    expect(unknown.status).toBe(404);
    expect(unknown.type).toBe('not_found_error');
    expect(dp.sims.a!.requests).toHaveLength(0);
  });
});
