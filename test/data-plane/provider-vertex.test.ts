// Vertex AI through a real proxy: Gemini and Claude on simulated Vertex
// endpoints, with Google access tokens from a service account key (a Secret)
// and from the GKE metadata server, refreshed before they expire.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APIError } from 'openai';
import type { ModelBackendInput } from '../../src/api/v1alpha1/index.js';
import { startDevMode } from '../../src/proxy/local/dev-mode.js';
import { simulatedServiceAccountKey } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { route, startDataPlane, type DataPlane, type TestBackend } from '../support/data-plane.js';
import { eventually } from '../support/eventually.js';

const PRICING = { inputPerMillion: 1, outputPerMillion: 4 };
const SECRET = 'vertex-sa';

let dp: DataPlane | undefined;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelroute-vertex-'));
});
afterEach(async () => {
  await dp?.close();
  dp = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a service account key into the mounted-Secret directory, pointing at a simulator's token endpoint. */
function mountKey(keyJson: string, simulatorUrl: string, secret = SECRET): void {
  mkdirSync(join(dir, secret), { recursive: true });
  const key = { ...(JSON.parse(keyJson) as object), token_uri: `${simulatorUrl}/token` };
  writeFileSync(join(dir, secret, 'credentials.json'), JSON.stringify(key));
}

type Auth = NonNullable<ModelBackendInput['spec']['auth']>;

function vertexBackend(
  name: string,
  provider: 'vertex-gemini' | 'anthropic-vertex',
  auth: Auth,
  simulator: TestBackend['simulator'] = {},
): TestBackend {
  return {
    name,
    spec: {
      provider,
      vertex: { project: 'sim-project', location: 'us-central1' },
      auth,
      pricing: PRICING,
      capabilities: ['tools'],
    },
    simulator: { outputTokens: 5, google: {}, ...simulator },
  };
}

const keyAuth = (secret = SECRET): Auth => ({
  gcp: { source: 'serviceAccountKey', secretRef: { name: secret, key: 'credentials.json' } },
});
const metadataAuth: Auth = { gcp: { source: 'metadataServer' } };

const only = (name: string) => route(name, { rules: [{ name: 'all', backendRefs: [{ name }] }] });
const ask = (model: string) => ({
  model,
  messages: [
    { role: 'system' as const, content: 'Be brief.' },
    { role: 'user' as const, content: 'Say hello.' },
  ],
});

/** Token requests a simulator answered (the OAuth endpoint and the metadata server). */
const tokenRequests = (dp: DataPlane, sim: string) =>
  dp.sims[sim]!.requests.filter(
    (r) => r.path === '/token' || r.path.startsWith('/computeMetadata'),
  );

const expectCost = (
  headers: Headers,
  usage: { prompt_tokens: number; completion_tokens: number },
) =>
  expect(Number(headers.get('x-modelroute-cost-usd'))).toBeCloseTo(
    (usage.prompt_tokens * PRICING.inputPerMillion +
      usage.completion_tokens * PRICING.outputPerMillion) /
      1e6,
    10,
  );

describe('vertex-gemini with a service account key', () => {
  async function start(clock?: () => number) {
    const sa = simulatedServiceAccountKey('http://placeholder');
    dp = await startDataPlane(
      [
        vertexBackend('gemini', 'vertex-gemini', keyAuth(), {
          google: { serviceAccounts: [sa.account] },
        }),
      ],
      [only('gemini')],
      { credentialsDir: dir, ...(clock ? { now: clock } : {}) },
    );
    mountKey(sa.keyJson, dp.sims.gemini!.url);
    return dp;
  }

  test('buffered: the answer, usage and cost; one token serves many requests', async () => {
    const dp = await start();
    const { data, response } = await dp.client.chat.completions
      .create(ask('gemini'))
      .withResponse();
    expect(data.choices[0]?.message.content).toEqual(expect.any(String));
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.completion_tokens).toBe(5);
    expect(response.headers.get('x-modelroute-backend')).toBe('default/gemini');
    expectCost(response.headers, data.usage!);

    await dp.client.chat.completions.create(ask('gemini'));
    const calls = dp.sims.gemini!.requests.filter((r) => r.path.includes(':generateContent'));
    expect(calls).toHaveLength(2);
    expect(calls[0]?.path).toBe(
      '/v1/projects/sim-project/locations/us-central1/publishers/google/models/gemini-upstream:generateContent',
    );
    expect(calls[0]?.headers.authorization).toMatch(/^Bearer ya29\.sim\./);
    expect(calls[0]?.body).toMatchObject({
      systemInstruction: { parts: [{ text: 'Be brief.' }] },
      contents: [{ role: 'user', parts: [{ text: 'Say hello.' }] }],
    });
    expect(tokenRequests(dp, 'gemini')).toHaveLength(1);
  });

  test('streaming: chunks, then the finish reason and usage', async () => {
    const dp = await start();
    const stream = await dp.client.chat.completions.create({
      ...ask('gemini'),
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage;
    let finish;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish ??= chunk.choices[0]?.finish_reason ?? undefined;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.trim().split(/\s+/)).toHaveLength(5);
    expect(finish).toBe('stop');
    expect(usage?.completion_tokens).toBe(5);
    expect(dp.sims.gemini!.requests.at(-1)?.path).toMatch(/:streamGenerateContent\?alt=sse$/);
  });

  test('tools: a forced call comes back as tool_calls; its result goes back as functionResponse', async () => {
    const dp = await start();
    const tools = [
      {
        type: 'function' as const,
        function: {
          name: 'weather',
          description: 'Current weather',
          parameters: { type: 'object', properties: { city: { type: 'string' } } },
        },
      },
    ];
    const first = await dp.client.chat.completions.create({
      ...ask('gemini'),
      tools,
      tool_choice: 'required',
    });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call).toMatchObject({
      type: 'function',
      function: { name: 'weather', arguments: '{}' },
    });
    const second = await dp.client.chat.completions.create({
      model: 'gemini',
      tools,
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [call!] },
        { role: 'tool', tool_call_id: call!.id, content: '{"celsius":21}' },
      ],
    });
    expect(second.choices[0]?.message.content).toEqual(expect.any(String));
    expect(dp.sims.gemini!.requests.at(-1)?.body).toMatchObject({
      contents: [
        { role: 'user' },
        { role: 'model', parts: [{ functionCall: { name: 'weather', args: {} } }] },
        {
          role: 'user',
          parts: [{ functionResponse: { name: 'weather', response: { celsius: 21 } } }],
        },
      ],
    });
  });

  test('an upstream error reaches the client with Google’s message', async () => {
    const dp = await start();
    dp.sims.gemini!.setBehavior({ statusSequence: [400] });
    const err = await dp.client.chat.completions.create(ask('gemini')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).message).toContain('INVALID_ARGUMENT: Simulated upstream error');
  });

  test('tokens are refreshed before they expire, and an expired one is never used', async () => {
    let skewMs = 0;
    const dp = await start(() => Date.now() + skewMs);
    await dp.client.chat.completions.create(ask('gemini'));
    expect(tokenRequests(dp, 'gemini')).toHaveLength(1);

    // Four minutes before expiry: the request uses the cached token, a new one is fetched meanwhile.
    skewMs = 56 * 60_000;
    await dp.client.chat.completions.create(ask('gemini'));
    await eventually(() => expect(tokenRequests(dp, 'gemini')).toHaveLength(2));
    const used = () =>
      dp.sims
        .gemini!.requests.filter((r) => r.path.includes(':generateContent'))
        .map((r) => r.headers.authorization);
    await dp.client.chat.completions.create(ask('gemini'));
    const [t1, t2, t3] = used();
    expect(t2).toBe(t1);
    expect(t3).not.toBe(t1);

    // Past the second token's expiry: the request waits for a third.
    skewMs = 3 * 3600_000;
    await dp.client.chat.completions.create(ask('gemini'));
    expect(tokenRequests(dp, 'gemini')).toHaveLength(3);
    expect(new Set(used()).size).toBe(3);
  });
});

test('a Vertex backend that fails over to OpenAI: the answer and its cost are the OpenAI backend’s', async () => {
  const sa = simulatedServiceAccountKey('http://placeholder');
  dp = await startDataPlane(
    [
      vertexBackend('gemini', 'vertex-gemini', keyAuth(), {
        google: { serviceAccounts: [sa.account] },
        statusSequence: [503],
      }),
      { name: 'gpt', spec: { pricing: { inputPerMillion: 10, outputPerMillion: 30 } } },
    ],
    [
      route('chat', {
        rules: [
          { name: 'all', strategy: 'priority', backendRefs: [{ name: 'gemini' }, { name: 'gpt' }] },
        ],
      }),
    ],
    { credentialsDir: dir },
  );
  mountKey(sa.keyJson, dp.sims.gemini!.url);
  const { data, response } = await dp.client.chat.completions.create(ask('chat')).withResponse();
  expect(response.headers.get('x-modelroute-backend')).toBe('default/gpt');
  expect(response.headers.get('x-modelroute-attempts')).toBe('2');
  const usage = data.usage!;
  expect(Number(response.headers.get('x-modelroute-cost-usd'))).toBeCloseTo(
    (usage.prompt_tokens * 10 + usage.completion_tokens * 30) / 1e6,
    10,
  );
  // The 503 came from Vertex, after a token: the failure was the model's, not the credential's.
  expect(dp.sims.gemini!.requests.filter((r) => r.path.includes(':generateContent'))).toHaveLength(
    1,
  );
});

describe('a refused service account key', () => {
  async function start(fallback: boolean) {
    // The simulator trusts one account; the mounted key is another's (its signature cannot verify).
    const trusted = simulatedServiceAccountKey('http://placeholder');
    const stranger = simulatedServiceAccountKey('http://placeholder');
    dp = await startDataPlane(
      [
        vertexBackend('gemini', 'vertex-gemini', keyAuth(), {
          google: { serviceAccounts: [trusted.account] },
        }),
        { name: 'gpt', spec: { pricing: PRICING } },
      ],
      [
        route('chat', {
          rules: [
            {
              name: 'all',
              strategy: 'priority',
              backendRefs: fallback ? [{ name: 'gemini' }, { name: 'gpt' }] : [{ name: 'gemini' }],
            },
          ],
        }),
      ],
      { credentialsDir: dir },
    );
    mountKey(stranger.keyJson, dp.sims.gemini!.url);
    return dp;
  }

  test('fails over to the next backend without calling Vertex', async () => {
    const dp = await start(true);
    const { data, response } = await dp.client.chat.completions.create(ask('chat')).withResponse();
    expect(response.headers.get('x-modelroute-backend')).toBe('default/gpt');
    expectCost(response.headers, data.usage!);
    expect(tokenRequests(dp, 'gemini')).toHaveLength(1);
    expect(dp.sims.gemini!.requests.some((r) => r.path.includes(':generate'))).toBe(false);
  });

  test('a key Secret that is not mounted is named as the missing cloud credential', async () => {
    dp = await startDataPlane(
      [vertexBackend('gemini', 'vertex-gemini', keyAuth('not-mounted'))],
      [only('gemini')],
      { credentialsDir: dir },
    );
    const err = await dp.client.chat.completions.create(ask('gemini')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).message).toContain(
      'its cloud credential is not available to the proxy (the Secret or key is missing)',
    );
  });

  test('with no other backend, the client is told why and what to do', async () => {
    const dp = await start(false);
    const err = await dp.client.chat.completions.create(ask('chat')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    const message = (err as APIError).message;
    expect(message).toContain('invalid_grant: Invalid JWT Signature.');
    expect(message).toContain('create a new key');
    expect(message).not.toContain('PRIVATE KEY');
  });
});

describe('anthropic-vertex with the metadata server (GKE Workload Identity)', () => {
  async function start() {
    // The proxy reads GCE_METADATA_HOST when it first needs a token: after the simulator is up.
    const env: NodeJS.ProcessEnv = {};
    dp = await startDataPlane(
      [vertexBackend('claude', 'anthropic-vertex', metadataAuth)],
      [only('claude')],
      { env },
    );
    env.GCE_METADATA_HOST = `127.0.0.1:${dp.sims.claude!.port}`;
    return dp;
  }

  test('buffered: rawPredict with the Vertex anthropic_version; usage and cost', async () => {
    const dp = await start();
    const { data, response } = await dp.client.chat.completions
      .create(ask('claude'))
      .withResponse();
    expect(data.choices[0]?.message.content).toEqual(expect.any(String));
    expect(data.usage?.completion_tokens).toBe(5);
    expectCost(response.headers, data.usage!);
    const sent = dp.sims.claude!.requests.find((r) => r.path.endsWith(':rawPredict'));
    expect(sent?.path).toBe(
      '/v1/projects/sim-project/locations/us-central1/publishers/anthropic/models/claude-upstream:rawPredict',
    );
    expect(sent?.body).toMatchObject({
      anthropic_version: 'vertex-2023-10-16',
      system: 'Be brief.',
    });
    expect(sent?.body).not.toHaveProperty('model');
    const metadata = tokenRequests(dp, 'claude');
    expect(metadata).toHaveLength(1);
    expect(metadata[0]?.headers['metadata-flavor']).toBe('Google');
  });

  test('streaming through streamRawPredict, with usage', async () => {
    const dp = await start();
    const stream = await dp.client.chat.completions.create({
      ...ask('claude'),
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      if (chunk.usage) usage = chunk.usage;
    }
    expect(text.trim().split(/\s+/)).toHaveLength(5);
    expect(usage?.completion_tokens).toBe(5);
    expect(dp.sims.claude!.requests.at(-1)?.path).toMatch(/:streamRawPredict$/);
  });

  test('tools: a forced tool_use comes back as tool_calls, streamed too; results go back as tool_result', async () => {
    const dp = await start();
    const tools = [
      { type: 'function' as const, function: { name: 'weather', parameters: { type: 'object' } } },
    ];
    const first = await dp.client.chat.completions.create({
      ...ask('claude'),
      tools,
      tool_choice: 'required',
    });
    expect(dp.sims.claude!.requests.at(-1)?.body).toMatchObject({
      tools: [{ name: 'weather', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any' },
    });
    const call = first.choices[0]?.message.tool_calls?.[0];
    expect(first.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call).toMatchObject({
      type: 'function',
      function: { name: 'weather', arguments: '{}' },
    });

    const stream = await dp.client.chat.completions.create({
      ...ask('claude'),
      tools,
      tool_choice: { type: 'function', function: { name: 'weather' } },
      stream: true,
    });
    let args = '';
    let name;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta.tool_calls?.[0];
      name ??= delta?.function?.name;
      args += delta?.function?.arguments ?? '';
    }
    expect({ name, args }).toEqual({ name: 'weather', args: '{}' });

    await dp.client.chat.completions.create({
      model: 'claude',
      tools,
      messages: [
        { role: 'user', content: 'Weather?' },
        { role: 'assistant', content: null, tool_calls: [call!] },
        { role: 'tool', tool_call_id: call!.id, content: '{"celsius":21}' },
      ],
    });
    expect(dp.sims.claude!.requests.at(-1)?.body).toMatchObject({
      messages: [
        { role: 'user' },
        { role: 'assistant', content: [{ type: 'tool_use', id: call!.id, name: 'weather' }] },
        {
          role: 'user',
          content: [{ type: 'tool_result', tool_use_id: call!.id, content: '{"celsius":21}' }],
        },
      ],
    });
  });

  test('an upstream error in Anthropic’s shape is mapped', async () => {
    const dp = await start();
    dp.sims.claude!.setBehavior({ statusSequence: [400] });
    const err = await dp.client.chat.completions.create(ask('claude')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).message).toContain('Simulated upstream error (HTTP 400)');
  });

  test('without a metadata server the error says how to set up Workload Identity', async () => {
    const env: NodeJS.ProcessEnv = {};
    dp = await startDataPlane(
      [vertexBackend('claude', 'anthropic-vertex', metadataAuth)],
      [only('claude')],
      { env },
    );
    // An answering server that is not a metadata server: its 404.
    env.GCE_METADATA_HOST = new URL(dp.proxy.dataUrl).host;
    const err = await dp.client.chat.completions.create(ask('claude')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).message).toContain('Workload Identity');
  });
});

describe('local mode', () => {
  test('simulate:// Vertex backends answer without a Google account', async () => {
    writeFileSync(
      join(dir, 'vertex.yaml'),
      [
        'apiVersion: modelroute.io/v1alpha1',
        'kind: ModelBackend',
        'metadata: { name: gemini }',
        'spec:',
        '  provider: vertex-gemini',
        '  model: gemini-2.5-flash',
        '  endpoint: simulate://gemini',
        '  vertex: { project: my-project, location: us-central1 }',
        '  auth: { gcp: { source: serviceAccountKey, secretRef: { name: real-key } } }',
        '---',
        'apiVersion: modelroute.io/v1alpha1',
        'kind: ModelBackend',
        'metadata: { name: claude }',
        'spec:',
        '  provider: anthropic-vertex',
        '  model: claude-sonnet-4-5@20250929',
        '  endpoint: simulate://claude',
        '  vertex: { project: my-project, location: us-east5 }',
        '---',
        'apiVersion: modelroute.io/v1alpha1',
        'kind: ModelRoute',
        'metadata: { name: fast }',
        'spec: { model: fast, rules: [{ name: all, backendRefs: [{ name: gemini }] }] }',
        '---',
        'apiVersion: modelroute.io/v1alpha1',
        'kind: ModelRoute',
        'metadata: { name: smart }',
        'spec: { model: smart, rules: [{ name: all, backendRefs: [{ name: claude }] }] }',
      ].join('\n'),
    );
    const dev = await startDevMode({
      configPaths: [dir],
      simulateAll: false,
      host: '127.0.0.1',
      dataPort: 0,
      adminPort: 0,
      logger: createLogger({ level: 'error', write: () => undefined }),
    });
    try {
      for (const [model, backend] of [
        ['fast', 'default/gemini'],
        ['smart', 'default/claude'],
      ]) {
        const res = await fetch(`${dev.proxy.dataUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(ask(model!)),
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('x-modelroute-backend')).toBe(backend);
        await res.text();
      }
    } finally {
      await dev.close();
    }
  });
});
