// AWS Bedrock through a real proxy: Converse (bedrock) and InvokeModel
// (anthropic-bedrock) backends on a simulated Bedrock that checks every
// SigV4 signature, with credentials from a Secret, web identity (a simulated
// STS) and the container credentials endpoint; answers, streams, tools,
// usage and cost, errors, and a wrong secret key that fails over.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APIError } from 'openai';
import type { ModelBackendInput } from '../../src/api/v1alpha1/index.js';
import { devModeOptions } from '../../src/cli/dev.js';
import { resolveServerSettings } from '../../src/cli/server-flags.js';
import { startDevMode } from '../../src/proxy/local/dev-mode.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createCredentialResolver } from '../../src/proxy/credentials.js';
import type { AwsSimulatorOptions } from '../../src/simulator/bedrock-identity.js';
import { route, startDataPlane, type DataPlane } from '../support/data-plane.js';
import { rawExchange } from '../support/raw-http.js';

const ACCESS_KEY = { accessKeyId: 'AKIADATAPLANE', secretAccessKey: 'right-secret' };
const ROLE_ARN = 'arn:aws:iam::123456789012:role/modelroute-proxy';
const PRICING = { inputPerMillion: 3, outputPerMillion: 15 };
const CLAUDE = 'anthropic.claude-3-haiku-20240307-v1:0';

const ACCOUNT: AwsSimulatorOptions = {
  accessKeys: [ACCESS_KEY],
  apiKeys: ['ABSK-bedrock-api-key'],
  region: 'us-east-1',
  webIdentity: { roleArn: ROLE_ARN, token: 'projected-sa-token' },
  containerCredentials: { authorizationToken: 'pod-identity-token' },
};

/** The proxy's Secret keys, as the injector would mount them (env form). */
const secrets = (secretAccessKey = ACCESS_KEY.secretAccessKey) =>
  createCredentialResolver({
    env: {
      MODELROUTE_SECRET_AWS_KEYS_ACCESSKEYID: ACCESS_KEY.accessKeyId,
      MODELROUTE_SECRET_AWS_KEYS_SECRETACCESSKEY: secretAccessKey,
      MODELROUTE_SECRET_BEDROCK_KEY_APIKEY: 'ABSK-bedrock-api-key',
    },
  });

const bedrockSpec = (
  provider: 'bedrock' | 'anthropic-bedrock',
  auth: ModelBackendInput['spec']['auth'] | undefined,
  extra: Partial<ModelBackendInput['spec']> = {},
): Partial<ModelBackendInput['spec']> => ({
  provider,
  bedrock: { region: 'us-east-1' },
  pricing: PRICING,
  ...(auth ? { auth } : {}),
  ...extra,
});

const SECRET_AUTH = { aws: { source: 'secret' as const, secretRef: { name: 'aws-keys' } } };

let dp: DataPlane | undefined;
let tmp: string | undefined;
afterEach(async () => {
  await dp?.close();
  dp = undefined;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

const one = (name: string) => route('chat', { rules: [{ name: 'all', backendRefs: [{ name }] }] });

const ask = { model: 'chat', messages: [{ role: 'user' as const, content: 'Say hello.' }] };
const toolAsk = {
  ...ask,
  tools: [
    {
      type: 'function' as const,
      function: { name: 'lookup', parameters: { type: 'object', properties: {} } },
    },
  ],
  tool_choice: 'required' as const,
};

async function streamed(dpl: DataPlane, body: Record<string, unknown> = {}) {
  const stream = await dpl.client.chat.completions.create({
    ...ask,
    ...body,
    stream: true,
    stream_options: { include_usage: true },
  });
  let text = '';
  let args = '';
  let finish: string | null | undefined;
  let usage;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta.content ?? '';
    for (const call of chunk.choices[0]?.delta.tool_calls ?? [])
      args += call.function?.arguments ?? '';
    finish = chunk.choices[0]?.finish_reason ?? finish;
    usage = chunk.usage ?? usage;
  }
  return { text, args, finish, usage };
}

describe.each(['bedrock', 'anthropic-bedrock'] as const)('%s', (provider) => {
  const paths =
    provider === 'bedrock'
      ? { buffered: 'converse', streamed: 'converse-stream' }
      : { buffered: 'invoke', streamed: 'invoke-with-response-stream' };

  test('a Secret access key: buffered, streamed, tools, usage and cost', async () => {
    dp = await startDataPlane(
      [
        {
          name: 'claude',
          spec: bedrockSpec(provider, SECRET_AUTH, { model: CLAUDE, capabilities: ['tools'] }),
          simulator: { outputTokens: 6, aws: ACCOUNT },
        },
      ],
      [one('claude')],
      { credentials: secrets() },
    );
    const { data, response } = await dp.client.chat.completions.create(ask).withResponse();
    expect(data.choices[0]?.message.content?.trim().split(/\s+/)).toHaveLength(6);
    expect(data.choices[0]?.finish_reason).toBe('stop');
    const usage = data.usage!;
    expect(usage.completion_tokens).toBe(6);
    expect(usage.prompt_tokens).toBeGreaterThan(0);
    const cost = (usage.prompt_tokens * 3 + usage.completion_tokens * 15) / 1e6;
    expect(Number(response.headers.get('x-modelroute-cost-usd'))).toBeCloseTo(cost, 10);
    const sent = dp.sims.claude!.requests[0]!;
    expect(sent.path).toBe(`/model/${encodeURIComponent(CLAUDE)}/${paths.buffered}`);
    expect(sent.headers.authorization).toMatch(
      /^AWS4-HMAC-SHA256 Credential=AKIADATAPLANE\/\d{8}\/us-east-1\/bedrock\/aws4_request, /,
    );

    const stream = await streamed(dp);
    expect(stream.text.trim().split(/\s+/)).toHaveLength(6);
    expect(stream.finish).toBe('stop');
    expect(stream.usage?.completion_tokens).toBe(6);
    expect(dp.sims.claude!.requests[1]?.path).toMatch(new RegExp(`/${paths.streamed}$`));

    // The stream's cost (an HTTP/1.0 client gets it as a comment) is priced from the streamed usage.
    const body = JSON.stringify({ ...ask, stream: true, stream_options: { include_usage: true } });
    const raw = await rawExchange(dp.proxy.dataUrl, [
      `POST /v1/chat/completions HTTP/1.0\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    ]);
    const usageChunk = raw.text
      .split('\n\n')
      .filter((e) => e.startsWith('data: {') && e.includes('"usage"'))
      .map((e) => JSON.parse(e.slice('data: '.length)) as { usage: typeof usage })
      .at(-1);
    const streamedUsage = usageChunk!.usage;
    const streamCost = /^: x-modelroute-cost-usd=(\S+)$/m.exec(raw.text)?.[1];
    expect(Number(streamCost)).toBeCloseTo(
      (streamedUsage.prompt_tokens * 3 + streamedUsage.completion_tokens * 15) / 1e6,
      8,
    );

    const tools = await dp.client.chat.completions.create(toolAsk);
    expect(tools.choices[0]?.finish_reason).toBe('tool_calls');
    expect(tools.choices[0]?.message.tool_calls?.[0]).toMatchObject({
      type: 'function',
      function: { name: 'lookup', arguments: '{"query":"simulated"}' },
    });
    const toolStream = await streamed(dp, toolAsk);
    expect(toolStream.finish).toBe('tool_calls');
    expect(JSON.parse(toolStream.args)).toEqual({ query: 'simulated' });
  });

  test('web identity through the simulated STS, fetched once and reused', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'bedrock-wi-'));
    const tokenFile = join(tmp, 'token');
    writeFileSync(tokenFile, 'projected-sa-token\n');
    const env: NodeJS.ProcessEnv = {
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: ROLE_ARN,
    };
    dp = await startDataPlane(
      [
        {
          name: 'claude',
          // No auth and no secretRef: the default chain, as the AWS SDKs read it.
          spec: bedrockSpec(provider, undefined),
          simulator: { outputTokens: 4, aws: ACCOUNT },
        },
      ],
      [one('claude')],
      { env },
    );
    env.AWS_ENDPOINT_URL_STS = dp.sims.claude!.url;
    const first = await dp.client.chat.completions.create(ask);
    expect(first.usage?.completion_tokens).toBe(4);
    const stream = await streamed(dp);
    expect(stream.usage?.completion_tokens).toBe(4);
    expect(dp.sims.claude!.aws.minted).toBe(1);
    const call = dp.sims.claude!.requests.find((r) => r.path.startsWith('/model/'))!;
    expect(call.headers['x-amz-security-token']).toEqual(expect.any(String));
  });

  test('the container credentials endpoint', async () => {
    const env: NodeJS.ProcessEnv = { AWS_CONTAINER_AUTHORIZATION_TOKEN: 'pod-identity-token' };
    dp = await startDataPlane(
      [
        {
          name: 'claude',
          spec: bedrockSpec(provider, { aws: { source: 'containerCredentials' } }),
          simulator: { outputTokens: 3, aws: ACCOUNT },
        },
      ],
      [one('claude')],
      { env },
    );
    env.AWS_CONTAINER_CREDENTIALS_FULL_URI = `${dp.sims.claude!.url}/v1/credentials`;
    const answer = await dp.client.chat.completions.create(ask);
    expect(answer.usage?.completion_tokens).toBe(3);
    expect(dp.sims.claude!.aws.minted).toBe(1);
  });

  test('a Bedrock API key goes as a Bearer token', async () => {
    dp = await startDataPlane(
      [
        {
          name: 'claude',
          spec: bedrockSpec(provider, undefined, {
            secretRef: { name: 'bedrock-key', key: 'apiKey' },
          }),
          simulator: { outputTokens: 2, aws: ACCOUNT },
        },
      ],
      [one('claude')],
      { credentials: secrets() },
    );
    const answer = await dp.client.chat.completions.create(ask);
    expect(answer.usage?.completion_tokens).toBe(2);
    expect(dp.sims.claude!.requests[0]?.headers.authorization).toBe('Bearer ABSK-bedrock-api-key');
  });

  test("an upstream error comes back in OpenAI's shape with Bedrock's message", async () => {
    dp = await startDataPlane(
      [
        {
          name: 'claude',
          spec: bedrockSpec(provider, SECRET_AUTH),
          simulator: { aws: ACCOUNT, statusSequence: [400] },
        },
      ],
      [one('claude')],
      { credentials: secrets() },
    );
    const error = await dp.client.chat.completions.create(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).status).toBe(400);
    expect((error as APIError).message).toContain('Simulated upstream error (HTTP 400).');
  });

  test('a wrong secret key is refused by the signature check, and the route fails over', async () => {
    dp = await startDataPlane(
      [
        {
          name: 'claude',
          spec: bedrockSpec(provider, SECRET_AUTH),
          simulator: { aws: ACCOUNT },
        },
        { name: 'spare', simulator: { outputTokens: 2 } },
      ],
      [
        route('chat', {
          rules: [
            {
              name: 'all',
              strategy: 'priority',
              backendRefs: [{ name: 'claude' }, { name: 'spare' }],
            },
          ],
          retries: { attempts: 2, backoff: '10ms', maxBackoff: '1s' },
        }),
        route('only-bedrock', { rules: [{ name: 'all', backendRefs: [{ name: 'claude' }] }] }),
      ],
      { credentials: secrets('wrong-secret') },
    );
    const { response } = await dp.client.chat.completions.create(ask).withResponse();
    expect(response.headers.get('x-modelroute-backend')).toBe('default/spare');
    expect(response.headers.get('x-modelroute-attempts')).toBe('2');
    expect(dp.sims.claude!.requests).toHaveLength(1);

    const error = await dp.client.chat.completions
      .create({ ...ask, model: 'only-bedrock' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toContain(
      'The request signature we calculated does not match the signature you provided',
    );
    expect((error as APIError).message).not.toContain('wrong-secret');
  });
});

describe('credential failures', () => {
  test('STS refusing the role: a clear error naming the source and the fix, nothing sent to Bedrock', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'bedrock-wi-'));
    const tokenFile = join(tmp, 'token');
    writeFileSync(tokenFile, 'projected-sa-token');
    const env: NodeJS.ProcessEnv = {
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/someone-else',
    };
    dp = await startDataPlane(
      [
        {
          name: 'nova',
          spec: bedrockSpec('bedrock', { aws: { source: 'webIdentity' } }),
          simulator: { aws: ACCOUNT },
        },
      ],
      [one('nova')],
      { env },
    );
    env.AWS_ENDPOINT_URL_STS = dp.sims.nova!.url;
    const error = await dp.client.chat.completions.create(ask).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(APIError);
    expect((error as APIError).message).toMatch(
      /source webIdentity\): STS AssumeRoleWithWebIdentity refused \(AccessDenied: Not authorized to perform sts:AssumeRoleWithWebIdentity\); check the role's trust policy/,
    );
    expect((error as APIError).message).not.toContain('projected-sa-token');
    expect(dp.sims.nova!.requests.filter((r) => r.path.startsWith('/model/'))).toHaveLength(0);
  });
});

describe('local mode (modelroute dev)', () => {
  test('simulate:// Bedrock backends answer without an AWS account', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'bedrock-dev-'));
    const file = join(tmp, 'bedrock.yaml');
    writeFileSync(
      file,
      `apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: { name: nova }
spec:
  provider: bedrock
  endpoint: simulate://nova?tps=0
  model: amazon.nova-lite-v1:0
  bedrock: { region: us-east-1 }
  pricing: { inputPerMillion: 0.06, outputPerMillion: 0.24 }
---
apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: { name: claude }
spec:
  provider: anthropic-bedrock
  endpoint: https://bedrock-runtime.us-east-1.amazonaws.com
  model: anthropic.claude-3-haiku-20240307-v1:0
  bedrock: { region: us-east-1 }
  pricing: { inputPerMillion: 0.25, outputPerMillion: 1.25 }
---
apiVersion: modelroute.io/v1alpha1
kind: ModelRoute
metadata: { name: chat }
spec:
  model: chat
  rules:
    - name: all
      strategy: priority
      backendRefs: [{ name: nova }, { name: claude }]
`,
    );
    const resolved = resolveServerSettings(
      { port: '0' },
      {},
      { port: '8080', adminPort: '0', adminHost: '127.0.0.1' },
    );
    if (!resolved.ok) throw new Error(resolved.message);
    const dev = await startDevMode(
      devModeOptions(
        resolved.settings,
        { config: [file], simulate: true },
        createLogger({ level: 'error', write: () => {} }),
      ),
    );
    try {
      for (const stream of [false, true]) {
        const res = await fetch(`${dev.proxy.dataUrl}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ ...ask, stream }),
        });
        expect(res.status).toBe(200);
        expect(await res.text()).toContain(stream ? 'data: [DONE]' : '"chat.completion"');
      }
      const nova = dev.simulators.get('default/nova');
      expect(nova?.requests.some((r) => r.path.endsWith('/converse'))).toBe(true);
    } finally {
      await dev.close();
    }
  });
});
