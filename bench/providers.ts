// What each provider's translation costs a request inside the proxy, in
// microseconds: building the upstream request (with its credential: a key
// header, a Bearer token, or a SigV4 signature) and reading a buffered
// answer back into OpenAI's shape, per provider, in interleaved rounds in
// one process. The end-to-end `bench proxy` cannot resolve a few
// microseconds on a shared machine; this measures the code itself.
// Prints JSON; never a pass/fail test. Run: npm run bench:providers (--quick: CI sizes)
import type { Provider } from '../src/api/v1alpha1/index.js';
import { adapterFor } from '../src/providers/registry.js';
import type { UpstreamAuth } from '../src/providers/types.js';
import type { CompiledBackend } from '../src/routing/table.js';
import { benchFlags } from './flags.js';

const { quick } = benchFlags('bench/providers.ts');
const PER_ROUND = quick ? 200 : 5_000;
const ROUNDS = quick ? 2 : 9;

const backend = (provider: Provider, baseUrl: string, extra: Partial<CompiledBackend> = {}) =>
  ({
    id: `bench/${provider}`,
    namespace: 'bench',
    name: provider,
    provider,
    baseUrl,
    model: 'm-1',
    pricing: { inputPerMillion: 1, outputPerMillion: 2, cachedInputPerMillion: 1 },
    limits: {},
    capabilities: ['chat'],
    compliance: [],
    timeouts: { connectMs: 1000, firstTokenMs: 1000, totalMs: 1000 },
    health: 'Healthy',
    ...extra,
  }) satisfies CompiledBackend;

const AWS: UpstreamAuth = {
  kind: 'aws',
  region: 'us-east-1',
  credentials: {
    accessKeyId: 'AKIABENCH',
    secretAccessKey: 'bench-secret',
    sessionToken: 'bench-session-token',
  },
};
const BEARER: UpstreamAuth = { kind: 'bearer', token: 'ya29.bench-token' };
const KEY: UpstreamAuth = { kind: 'api-key', key: 'sk-bench' };

const text = 'Summarise the quarterly report in three bullet points. '.repeat(16); // ~900 bytes
const body = {
  model: 'chat',
  max_tokens: 256,
  messages: [
    { role: 'system', content: 'You are terse.' },
    { role: 'user', content: text },
  ],
};
const usage = { input_tokens: 230, output_tokens: 40 };
const answer = 'Revenue grew. Costs fell. Margins widened.';

const cases: {
  name: string;
  backend: CompiledBackend;
  auth: UpstreamAuth;
  response: string;
}[] = [
  {
    name: 'openai',
    backend: backend('openai', 'https://api.example/v1'),
    auth: KEY,
    response: JSON.stringify({
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model: 'm-1',
      choices: [
        { index: 0, message: { role: 'assistant', content: answer }, finish_reason: 'stop' },
      ],
      usage: { prompt_tokens: 230, completion_tokens: 40, total_tokens: 270 },
    }),
  },
  {
    name: 'anthropic',
    backend: backend('anthropic', 'https://api.example'),
    auth: KEY,
    response: JSON.stringify({
      id: 'm',
      type: 'message',
      role: 'assistant',
      model: 'm-1',
      content: [{ type: 'text', text: answer }],
      stop_reason: 'end_turn',
      usage,
    }),
  },
  {
    name: 'bedrock (SigV4)',
    backend: backend('bedrock', 'https://bedrock-runtime.us-east-1.amazonaws.com', {
      bedrock: { region: 'us-east-1' },
    }),
    auth: AWS,
    response: JSON.stringify({
      output: { message: { role: 'assistant', content: [{ text: answer }] } },
      stopReason: 'end_turn',
      usage: { inputTokens: 230, outputTokens: 40, totalTokens: 270 },
    }),
  },
  {
    name: 'anthropic-bedrock (SigV4)',
    backend: backend('anthropic-bedrock', 'https://bedrock-runtime.us-east-1.amazonaws.com', {
      bedrock: { region: 'us-east-1' },
    }),
    auth: AWS,
    response: JSON.stringify({
      id: 'm',
      type: 'message',
      role: 'assistant',
      model: 'm-1',
      content: [{ type: 'text', text: answer }],
      stop_reason: 'end_turn',
      usage,
    }),
  },
  {
    name: 'vertex-gemini',
    backend: backend('vertex-gemini', 'https://us-central1-aiplatform.googleapis.com', {
      vertex: { project: 'bench-project', location: 'us-central1' },
    }),
    auth: BEARER,
    response: JSON.stringify({
      candidates: [{ content: { role: 'model', parts: [{ text: answer }] }, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 230, candidatesTokenCount: 40, totalTokenCount: 270 },
    }),
  },
];

async function round(c: (typeof cases)[number]): Promise<{ buildUs: number; parseUs: number }> {
  const adapter = adapterFor(c.backend.provider);
  let start = process.hrtime.bigint();
  for (let i = 0; i < PER_ROUND; i++) {
    const built = adapter.buildRequest({
      backend: c.backend,
      endpoint: 'chat',
      body,
      stream: false,
      auth: c.auth,
    });
    const result = built instanceof Promise ? await built : built;
    if (!result.ok) throw new Error(`${c.name}: ${result.message}`);
  }
  const buildUs = Number(process.hrtime.bigint() - start) / 1000 / PER_ROUND;
  start = process.hrtime.bigint();
  for (let i = 0; i < PER_ROUND; i++) {
    const parsed = adapter.parseResponse({
      endpoint: 'chat',
      body: c.response,
      responseModel: 'chat',
    });
    if (parsed.usage?.promptTokens !== 230) throw new Error(`${c.name}: usage not read`);
  }
  const parseUs = Number(process.hrtime.bigint() - start) / 1000 / PER_ROUND;
  return { buildUs, parseUs };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const to2 = (x: number) => Math.round(x * 100) / 100;

const samples = new Map(
  cases.map((c) => [c.name, { build: [] as number[], parse: [] as number[] }]),
);
for (let r = 0; r < ROUNDS; r++) {
  // Rotate the order, so no provider always runs first (on a colder cache).
  for (let k = 0; k < cases.length; k++) {
    const c = cases[(k + r) % cases.length]!;
    const { buildUs, parseUs } = await round(c);
    samples.get(c.name)!.build.push(buildUs);
    samples.get(c.name)!.parse.push(parseUs);
  }
}

const results: Record<string, { build_request_us: number; parse_response_us: number }> = {};
for (const [name, s] of samples) {
  // The first round warms up.
  results[name] = {
    build_request_us: to2(median(s.build.slice(1))),
    parse_response_us: to2(median(s.parse.slice(1))),
  };
}

process.stdout.write(
  `${JSON.stringify(
    {
      benchmark: 'providers',
      quick,
      requests_per_round: PER_ROUND,
      rounds: ROUNDS,
      request_body_bytes: JSON.stringify(body).length,
      results,
    },
    null,
    2,
  )}\n`,
);
