// The proxy as applications see it: the official openai SDK against a real
// proxy in front of simulated backends, through every failure mode.
import { APIError } from 'openai';
import { createLogger } from '../../src/telemetry/logger.js';
import { route, startDataPlane, type DataPlane } from '../support/data-plane.js';

let dp: DataPlane | undefined;
afterEach(async () => {
  await dp?.close();
  dp = undefined;
});

const chat = (model = 'chat') => ({
  model,
  messages: [{ role: 'user' as const, content: 'Say hello.' }],
});

describe('serving through the openai SDK', () => {
  test('buffered chat: the answer, usage, and the routing headers', async () => {
    dp = await startDataPlane(
      [
        {
          name: 'a',
          spec: { pricing: { inputPerMillion: 1, outputPerMillion: 2 } },
          simulator: { outputTokens: 5 },
        },
      ],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] })],
    );
    const { data, response } = await dp.client.chat.completions.create(chat()).withResponse();
    expect(data.choices[0]?.message.content).toEqual(expect.any(String));
    expect(data.usage?.completion_tokens).toBe(5);
    expect(response.headers.get('x-modelroute-route')).toBe('default/chat');
    expect(response.headers.get('x-modelroute-rule')).toBe('all');
    expect(response.headers.get('x-modelroute-backend')).toBe('default/a');
    expect(response.headers.get('x-modelroute-attempts')).toBe('1');
    const usage = data.usage!;
    const expectedCost = (usage.prompt_tokens * 1 + usage.completion_tokens * 2) / 1e6;
    expect(Number(response.headers.get('x-modelroute-cost-usd'))).toBeCloseTo(expectedCost, 10);
    expect(Number(response.headers.get('x-modelroute-overhead-ms'))).toBeGreaterThanOrEqual(0);
    // The upstream got its own model name, not the route's.
    expect((dp.sims.a!.requests[0]?.body as { model: string }).model).toBe('a-upstream');
  });

  test('streaming chat: chunks arrive, usage is forwarded when asked, the stream ends cleanly', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { outputTokens: 8 } }],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] })],
    );
    const stream = await dp.client.chat.completions.create({
      ...chat(),
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.trim().split(/\s+/)).toHaveLength(8);
    expect(usage?.completion_tokens).toBe(8);
  });

  test('streaming without include_usage: the proxy still asks upstream for usage but does not forward it', async () => {
    dp = await startDataPlane(
      [{ name: 'a' }],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] })],
    );
    const stream = await dp.client.chat.completions.create({ ...chat(), stream: true });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(
      (dp.sims.a!.requests[0]?.body as { stream_options?: { include_usage?: boolean } })
        .stream_options?.include_usage,
    ).toBe(true);
  });

  test('completions, embeddings and the model list', async () => {
    dp = await startDataPlane(
      [{ name: 'a', spec: { capabilities: ['chat', 'completions', 'embeddings'] } }],
      [
        route('chat', {
          aliases: ['gpt-4o-auto'],
          rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }],
        }),
        route('embed', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] }),
      ],
    );
    const completion = await dp.client.completions.create({
      model: 'chat',
      prompt: 'Once upon a time',
    });
    expect(completion.choices[0]?.text).toEqual(expect.any(String));
    const embedding = await dp.client.embeddings.create({ model: 'embed', input: ['a', 'b'] });
    expect(embedding.data).toHaveLength(2);
    const models = await dp.client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(['chat', 'embed', 'gpt-4o-auto']);
  });

  test('an unknown model is a 404 the SDK reports as NotFound', async () => {
    dp = await startDataPlane(
      [{ name: 'a' }],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] })],
    );
    await expect(dp.client.chat.completions.create(chat('gpt-9'))).rejects.toMatchObject({
      status: 404,
      code: 'model_not_found',
      message: expect.stringContaining('"gpt-9"'),
    });
  });
});

describe('failover', () => {
  const twoTier = (extra: Parameters<typeof route>[1] extends infer S ? Partial<S> : never = {}) =>
    route('chat', {
      rules: [{ name: 'all', strategy: 'priority', backendRefs: [{ name: 'a' }, { name: 'b' }] }],
      retries: { attempts: 2, backoff: '10ms', maxBackoff: '2s' },
      ...extra,
    });

  test('500s from the first backend: served by the second', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { errorRate: 1, errorStatus: 500 } }, { name: 'b' }],
      [twoTier()],
    );
    const { response } = await dp.client.chat.completions.create(chat()).withResponse();
    expect(response.headers.get('x-modelroute-backend')).toBe('default/b');
    expect(response.headers.get('x-modelroute-attempts')).toBe('2');
    expect(dp.sims.a!.requests).toHaveLength(1);
  });

  test('429 with Retry-After on the only backend: waits as told, then succeeds', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { statusSequence: [429, 200], retryAfterSeconds: 1 } }],
      [
        route('chat', {
          rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }],
          retries: { attempts: 2, backoff: '10ms', maxBackoff: '3s' },
        }),
      ],
    );
    const started = Date.now();
    const { response } = await dp.client.chat.completions.create(chat()).withResponse();
    expect(response.headers.get('x-modelroute-attempts')).toBe('2');
    expect(Date.now() - started).toBeGreaterThanOrEqual(950); // it honoured Retry-After: 1
  });

  test('429 with a Retry-After longer than maxBackoff: the client gets the 429 and the Retry-After', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { errorRate: 1, errorStatus: 429, retryAfterSeconds: 30 } }],
      [
        route('chat', {
          rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }],
          retries: { attempts: 2, backoff: '10ms', maxBackoff: '1s' },
        }),
      ],
    );
    const err = (await dp.client.chat.completions
      .create(chat())
      .catch((e: unknown) => e)) as APIError;
    expect(err).toBeInstanceOf(APIError);
    expect(err.status).toBe(429);
    expect(err.headers?.get('retry-after')).toBe('30');
    expect(dp.sims.a!.requests).toHaveLength(1);
  });

  test('connection refused: the next backend serves', async () => {
    dp = await startDataPlane([{ name: 'a' }, { name: 'b' }], [twoTier()]);
    await dp.sims.a!.close();
    const { response } = await dp.client.chat.completions.create(chat()).withResponse();
    expect(response.headers.get('x-modelroute-backend')).toBe('default/b');
  });

  test('a backend that stalls before its first token is abandoned at the first-token timeout', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { stallMs: Infinity } }, { name: 'b' }],
      [twoTier({ timeouts: { firstToken: '300ms' } })],
    );
    const stream = await dp.client.chat.completions.create({ ...chat(), stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    const buffered = await dp.client.chat.completions.create(chat()).withResponse();
    expect(buffered.response.headers.get('x-modelroute-backend')).toBe('default/b');
  });

  test('a stream cut mid-way ends with an explicit error, never a clean end', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { cutAfterTokens: 3, outputTokens: 20 } }, { name: 'b' }],
      [twoTier()],
    );
    const stream = await dp.client.chat.completions.create({ ...chat(), stream: true });
    let text = '';
    const consume = async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    };
    await expect(consume()).rejects.toThrow(/stream interrupted|stream_interrupted/);
    expect(text.trim().split(/\s+/).length).toBeGreaterThanOrEqual(1);
    // The client already had bytes from a, so b was not tried.
    expect(dp.sims.b!.requests).toHaveLength(0);
  });

  test('all backends down: a clear 503 naming each backend and what happened', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { errorRate: 1, errorStatus: 502 } }, { name: 'b' }],
      [twoTier()],
    );
    await dp.sims.b!.close();
    const err = (await dp.client.chat.completions
      .create(chat())
      .catch((e: unknown) => e)) as APIError;
    expect(err.status).toBe(503);
    expect(err.message).toMatch(/no backend of route default\/chat could serve the request/);
    expect(err.message).toMatch(/default\/a: HTTP 502/);
    expect(err.message).toMatch(/default\/b: cannot connect/);
  });

  test('a client error from upstream (400) is passed back, not failed over', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { errorRate: 1, errorStatus: 400 } }, { name: 'b' }],
      [twoTier()],
    );
    await expect(dp.client.chat.completions.create(chat())).rejects.toMatchObject({ status: 400 });
    expect(dp.sims.b!.requests).toHaveLength(0);
  });

  test('the circuit opens after repeated failures and the failing backend is skipped', async () => {
    dp = await startDataPlane(
      [{ name: 'a', simulator: { errorRate: 1, errorStatus: 500 } }, { name: 'b' }],
      [twoTier()],
    );
    for (let i = 0; i < 8; i++) await dp.client.chat.completions.create(chat());
    // Default threshold is 5 consecutive failures: a saw 5 requests, then none.
    expect(dp.sims.a!.requests).toHaveLength(5);
    expect(dp.sims.b!.requests).toHaveLength(8);
    const metrics = await (await fetch(`${dp.proxy.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/modelroute_circuit_state\{backend="default\/a"\} 2/);
    expect(metrics).toMatch(/modelroute_fallbacks_total\{[^}]*from="default\/a"[^}]*\} 5/);
  });

  test('maxConcurrency: a busy backend is passed over for a free one', async () => {
    dp = await startDataPlane(
      [
        { name: 'a', spec: { limits: { maxConcurrency: 1 } }, simulator: { latencyMs: 500 } },
        { name: 'b' },
      ],
      [twoTier()],
    );
    const slow = dp.client.chat.completions.create(chat()).withResponse();
    await new Promise((r) => setTimeout(r, 100));
    const fast = await dp.client.chat.completions.create(chat()).withResponse();
    expect(fast.response.headers.get('x-modelroute-backend')).toBe('default/b');
    expect((await slow).response.headers.get('x-modelroute-backend')).toBe('default/a');
  });

  test('budget: a backend whose estimated cost is over maxCostPerRequest is never called', async () => {
    dp = await startDataPlane(
      [{ name: 'a', spec: { pricing: { inputPerMillion: 1000, outputPerMillion: 1000 } } }],
      [
        route('chat', {
          rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }],
          budget: { maxCostPerRequest: 0.0001 },
        }),
      ],
    );
    await expect(dp.client.chat.completions.create(chat())).rejects.toMatchObject({
      status: 400,
      code: 'no_eligible_backend',
      message: expect.stringMatching(/OverBudget/),
    });
    expect(dp.sims.a!.requests).toHaveLength(0);
  });
});

describe('providers', () => {
  test('anthropic: Messages API behind the Chat Completions API, buffered and streaming', async () => {
    dp = await startDataPlane(
      [
        {
          name: 'claude',
          spec: { provider: 'anthropic', secretRef: { name: 'anthropic', key: 'apiKey' } },
          simulator: { outputTokens: 6, requireApiKey: 'sk-ant-test-key' },
        },
      ],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'claude' }] }] })],
      { credentials: { apiKeyFor: () => 'sk-ant-test-key' } },
    );
    const buffered = await dp.client.chat.completions.create({
      model: 'chat',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hi' },
      ],
    });
    expect(buffered.choices[0]?.message.content?.split(' ')).toHaveLength(6);
    expect(buffered.usage?.completion_tokens).toBe(6);
    const sent = dp.sims.claude!.requests[0]!;
    expect(sent.path).toBe('/v1/messages');
    expect(sent.headers['x-api-key']).toBe('sk-ant-test-key');
    expect((sent.body as { system: string }).system).toBe('Be brief.');

    const stream = await dp.client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
    }
    expect(text.trim().split(/\s+/)).toHaveLength(6);
    expect(usage?.completion_tokens).toBe(6);
  });

  test('a request one provider cannot express goes to a backend that can; if none can, a 400', async () => {
    dp = await startDataPlane(
      [
        {
          name: 'claude',
          spec: { provider: 'anthropic', secretRef: { name: 'anthropic', key: 'apiKey' } },
        },
        { name: 'gpt' },
      ],
      [
        route('chat', {
          rules: [
            {
              name: 'all',
              strategy: 'priority',
              backendRefs: [{ name: 'claude' }, { name: 'gpt' }],
            },
          ],
        }),
        route('claude-only', { rules: [{ name: 'all', backendRefs: [{ name: 'claude' }] }] }),
      ],
      { credentials: { apiKeyFor: () => 'sk-ant-test-key' } },
    );
    // The Messages API has no `n`: the OpenAI-compatible backend serves it, on the first try.
    const { data, response } = await dp.client.chat.completions
      .create({ ...chat(), n: 2 })
      .withResponse();
    expect(data.choices.length).toBeGreaterThan(0);
    expect(response.headers.get('x-modelroute-backend')).toBe('default/gpt');
    expect(dp.sims.claude!.requests).toHaveLength(0);

    const err = await dp.client.chat.completions
      .create({ ...chat('claude-only'), n: 2 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).status).toBe(400);
    expect((err as APIError).code).toBe('unsupported_by_backends');
    expect((err as APIError).message).toMatch(/\bn\b/);
    expect(dp.sims.claude!.requests).toHaveLength(0);
  });

  test('azure-openai: deployment URL, api-version and api-key header from the credentials env', async () => {
    const key = 'azure-secret-value-123';
    const logLines: string[] = [];
    dp = await startDataPlane(
      [
        {
          name: 'az',
          spec: {
            provider: 'azure-openai',
            azure: { deployment: 'gpt4o-prod', apiVersion: '2024-10-21' },
            secretRef: { name: 'azure-creds', key: 'apiKey' },
          },
          simulator: { requireApiKey: key },
        },
      ],
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'az' }] }] })],
      {
        credentials: undefined,
        logger: createLogger({ level: 'debug', write: (line) => logLines.push(line) }),
      },
    );
    process.env.MODELROUTE_SECRET_AZURE_CREDS_APIKEY = key;
    try {
      const { response } = await dp.client.chat.completions.create(chat()).withResponse();
      const sent = dp.sims.az!.requests[0]!;
      expect(sent.path).toBe(
        '/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-10-21',
      );
      expect(sent.headers['api-key']).toBe(key);
      // The key never comes back to the client nor shows in the admin table.
      expect([...response.headers.values()].join(' ')).not.toContain(key);
      const table = await (
        await fetch(`${dp.proxy.adminUrl}/admin/v1/table`, {
          headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' },
        })
      ).text();
      expect(table).toContain('azure-creds');
      expect(table).not.toContain(key);
      // Nor in any log line, even at debug level with a failure logged.
      dp.sims.az!.setBehavior({ errorRate: 1, errorStatus: 500 });
      await dp.client.chat.completions.create(chat()).catch(() => undefined);
      expect(logLines.length).toBeGreaterThan(0);
      expect(logLines.join('\n')).not.toContain(key);
    } finally {
      delete process.env.MODELROUTE_SECRET_AZURE_CREDS_APIKEY;
    }
  });

  test('a missing credential fails over to a backend that needs none, and the error never shows a key', async () => {
    dp = await startDataPlane(
      [{ name: 'keyed', spec: { secretRef: { name: 'nowhere' } } }, { name: 'open' }],
      [
        route('chat', {
          rules: [
            {
              name: 'all',
              strategy: 'priority',
              backendRefs: [{ name: 'keyed' }, { name: 'open' }],
            },
          ],
        }),
      ],
      { credentials: undefined },
    );
    const { response } = await dp.client.chat.completions.create(chat()).withResponse();
    expect(response.headers.get('x-modelroute-backend')).toBe('default/open');
  });
});

test("admin stats count each backend's outcomes by kind", async () => {
  dp = await startDataPlane(
    [{ name: 'a' }, { name: 'b' }],
    [
      route('chat', {
        rules: [{ name: 'all', strategy: 'priority', backendRefs: [{ name: 'a' }, { name: 'b' }] }],
      }),
    ],
  );
  await dp.sims.a!.close();
  await dp.client.chat.completions.create(chat());
  const stats = (await (
    await fetch(`${dp.proxy.adminUrl}/admin/v1/stats`, {
      headers: { authorization: 'Bearer test-admin-token-0123456789abcdef' },
    })
  ).json()) as {
    backends: { backendId: string; failures: Record<string, number>; successes: number }[];
  };
  expect(stats.backends.find((b) => b.backendId === 'default/a')?.failures['connect-failure']).toBe(
    1,
  );
  expect(stats.backends.find((b) => b.backendId === 'default/b')?.successes).toBe(1);
});
