// Issue 18's "done when": one route fails over between an OpenAI backend, a
// Bedrock backend and a Vertex AI backend, each on a simulator that checks
// its credentials the way the real service does, and the request is priced
// at the rates of the backend that served it. Chat Completions, streaming,
// and the Messages API (Anthropic's SDK) take the same path.
import Anthropic from '@anthropic-ai/sdk';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCredentialResolver } from '../../src/proxy/credentials.js';
import { simulatedServiceAccountKey } from '../../src/simulator/index.js';
import { route, startDataPlane, type DataPlane } from '../support/data-plane.js';
import { rawExchange } from '../support/raw-http.js';

const PRICES = {
  gpt: { inputPerMillion: 10, outputPerMillion: 30 },
  nova: { inputPerMillion: 0.8, outputPerMillion: 3.2 },
  gemini: { inputPerMillion: 1.25, outputPerMillion: 10 },
} as const;
const AWS_KEY = { accessKeyId: 'AKIAFAILOVER', secretAccessKey: 'the-right-secret' };

let dp: DataPlane | undefined;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelroute-failover-'));
});
afterEach(async () => {
  await dp?.close();
  dp = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/**
 * gpt (OpenAI) first, then nova (Bedrock Converse, SigV4 with a Secret's
 * access key), then gemini (Vertex AI, a service account key's tokens).
 * `openai` and `bedrock` say how those two answer.
 */
async function start(options: {
  openaiStatus: number[];
  bedrockSecret: string;
}): Promise<DataPlane> {
  const sa = simulatedServiceAccountKey('http://placeholder');
  dp = await startDataPlane(
    [
      {
        name: 'gpt',
        spec: { provider: 'openai', pricing: PRICES.gpt, secretRef: { name: 'openai' } },
        simulator: { statusSequence: options.openaiStatus, requireApiKey: 'sk-openai' },
      },
      {
        name: 'nova',
        spec: {
          provider: 'bedrock',
          model: 'amazon.nova-pro-v1:0',
          bedrock: { region: 'us-east-1' },
          auth: { aws: { source: 'secret', secretRef: { name: 'aws-keys' } } },
          pricing: PRICES.nova,
        },
        simulator: { aws: { accessKeys: [AWS_KEY], region: 'us-east-1' } },
      },
      {
        name: 'gemini',
        spec: {
          provider: 'vertex-gemini',
          model: 'gemini-2.5-flash',
          vertex: { project: 'sim-project', location: 'us-central1' },
          auth: { gcp: { source: 'serviceAccountKey', secretRef: { name: 'vertex-sa' } } },
          pricing: PRICES.gemini,
        },
        simulator: { google: { serviceAccounts: [sa.account] } },
      },
    ],
    [
      route('chat', {
        rules: [
          {
            name: 'all',
            strategy: 'priority',
            backendRefs: [{ name: 'gpt' }, { name: 'nova' }, { name: 'gemini' }],
          },
        ],
      }),
    ],
    {
      credentials: createCredentialResolver({
        directory: dir,
        env: {
          MODELROUTE_SECRET_OPENAI_APIKEY: 'sk-openai',
          MODELROUTE_SECRET_AWS_KEYS_ACCESSKEYID: AWS_KEY.accessKeyId,
          MODELROUTE_SECRET_AWS_KEYS_SECRETACCESSKEY: options.bedrockSecret,
        },
      }),
    },
  );
  // The key's token_uri is the Vertex simulator's OAuth endpoint.
  mkdirSync(join(dir, 'vertex-sa'), { recursive: true });
  const key = { ...(JSON.parse(sa.keyJson) as object), token_uri: `${dp.sims.gemini!.url}/token` };
  writeFileSync(join(dir, 'vertex-sa', 'credentials.json'), JSON.stringify(key));
  return dp;
}

const ask = {
  model: 'chat',
  messages: [{ role: 'user' as const, content: 'Name three rivers.' }],
};

const priced = (
  price: { inputPerMillion: number; outputPerMillion: number },
  input: number,
  output: number,
) => (input * price.inputPerMillion + output * price.outputPerMillion) / 1e6;

const inferenceCalls = (dp: DataPlane, sim: string) =>
  dp.sims[sim]!.requests.filter((r) => r.method === 'POST' && !r.path.endsWith('/token')).length;

test('OpenAI answers 500, Bedrock refuses the signature (403): Vertex serves, priced at its rates', async () => {
  const dp = await start({ openaiStatus: [500, 500], bedrockSecret: 'a-wrong-secret' });
  const { data, response } = await dp.client.chat.completions.create(ask).withResponse();
  expect(response.headers.get('x-modelroute-backend')).toBe('default/gemini');
  expect(response.headers.get('x-modelroute-attempts')).toBe('3');
  expect(data.choices[0]?.message.content).toEqual(expect.any(String));
  const usage = data.usage!;
  expect(usage.prompt_tokens).toBeGreaterThan(0);
  expect(Number(response.headers.get('x-modelroute-cost-usd'))).toBeCloseTo(
    priced(PRICES.gemini, usage.prompt_tokens, usage.completion_tokens),
    10,
  );
  // Each backend was really tried, in order, and Bedrock saw a signed request it refused.
  expect(inferenceCalls(dp, 'gpt')).toBeGreaterThanOrEqual(1);
  expect(inferenceCalls(dp, 'nova')).toBe(1);
  expect(inferenceCalls(dp, 'gemini')).toBe(1);
});

test('OpenAI answers 500 while streaming: Bedrock serves the stream, priced at its rates', async () => {
  const dp = await start({ openaiStatus: [500, 500], bedrockSecret: AWS_KEY.secretAccessKey });
  // HTTP/1.0, so the stream's cost comes as an SSE comment rather than a trailer.
  const body = JSON.stringify({ ...ask, stream: true, stream_options: { include_usage: true } });
  const raw = await rawExchange(dp.proxy.dataUrl, [
    `POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  ]);
  expect(raw.headers['x-modelroute-backend']).toBe('default/nova');
  const events = raw.text.split('\n\n').filter((e) => e.startsWith('data: {'));
  const text = events
    .map(
      (e) => JSON.parse(e.slice('data: '.length)) as { choices: { delta: { content?: string } }[] },
    )
    .map((c) => c.choices[0]?.delta.content ?? '')
    .join('');
  expect(text.length).toBeGreaterThan(0);
  const { usage } = JSON.parse(
    events
      .filter((e) => e.includes('"usage":{'))
      .at(-1)!
      .slice('data: '.length),
  ) as { usage: { prompt_tokens: number; completion_tokens: number } };
  expect(usage.prompt_tokens).toBeGreaterThan(0);
  const cost = /^: x-modelroute-cost-usd=(\S+)$/m.exec(raw.text)?.[1];
  expect(Number(cost)).toBeCloseTo(
    priced(PRICES.nova, usage.prompt_tokens, usage.completion_tokens),
    8,
  );
  expect(inferenceCalls(dp, 'gemini')).toBe(0);
});

test('the Messages API (Anthropic SDK) takes the same route: OpenAI down, Bedrock refused, Vertex answers', async () => {
  const dp = await start({ openaiStatus: [503, 503], bedrockSecret: 'a-wrong-secret' });
  const client = new Anthropic({ baseURL: dp.proxy.dataUrl, apiKey: 'unused', maxRetries: 0 });
  const { data, response } = await client.messages
    .create({ model: 'chat', max_tokens: 64, messages: [{ role: 'user', content: 'Hello?' }] })
    .withResponse();
  expect(response.headers.get('x-modelroute-backend')).toBe('default/gemini');
  expect(data.content[0]?.type).toBe('text');
  expect(Number(response.headers.get('x-modelroute-cost-usd'))).toBeCloseTo(
    priced(PRICES.gemini, data.usage.input_tokens, data.usage.output_tokens),
    10,
  );
});
