import { anthropicBedrockAdapter } from '../providers/anthropic-bedrock/adapter.js';
import { bedrockAdapter } from '../providers/bedrock/adapter.js';
import { signRequest } from '../providers/shared/sigv4.js';
import type { CompiledBackend } from '../routing/table.js';
import { EventStreamDecoder } from '../providers/shared/event-stream.js';
import { startSimulatedBackend, type SimulatedBackend } from './server.js';

const KEY = { accessKeyId: 'AKIASIMTEST', secretAccessKey: 'sim-secret' };
let sim: SimulatedBackend;

beforeAll(async () => {
  sim = await startSimulatedBackend({
    outputTokens: 3,
    aws: {
      accessKeys: [KEY],
      apiKeys: ['ABSK-good'],
      region: 'us-east-1',
      webIdentity: { roleArn: 'arn:aws:iam::1:role/r', token: 'jwt' },
      containerCredentials: { authorizationToken: 'pod-token' },
    },
  });
});
afterAll(() => sim.close());

async function call(
  operation: string,
  body: unknown,
  credentials:
    { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | string = KEY,
) {
  const url = `${sim.url}/model/anthropic.claude-v2%3A1/${operation}`;
  const request = {
    url,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
  const headers =
    typeof credentials === 'string'
      ? { ...request.headers, authorization: `Bearer ${credentials}` }
      : (await signRequest(request, { credentials, region: 'us-east-1', service: 'bedrock' }))
          .headers;
  return fetch(url, { method: 'POST', headers, body: request.body });
}

const CONVERSE = { messages: [{ role: 'user', content: [{ text: 'hello there' }] }] };

describe('simulated Bedrock', () => {
  test('Converse answers a signed request', async () => {
    const res = await call('converse', CONVERSE);
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      output: { message: { role: 'assistant' } },
      stopReason: 'end_turn',
      usage: { inputTokens: 3, outputTokens: 3, totalTokens: 6 },
    });
  });

  test('a wrong secret, an unknown key and a wrong API key get AWS 403s', async () => {
    const wrong = await call('converse', CONVERSE, { ...KEY, secretAccessKey: 'nope' });
    expect(wrong.status).toBe(403);
    expect(wrong.headers.get('x-amzn-errortype')).toBe('InvalidSignatureException');
    expect(((await wrong.json()) as { message: string }).message).toMatch(
      /^The request signature we calculated does not match/,
    );
    const unknown = await call('converse', CONVERSE, { ...KEY, accessKeyId: 'AKIANOBODY' });
    expect(unknown.status).toBe(403);
    expect(await unknown.json()).toEqual({
      message: 'The security token included in the request is invalid.',
    });
    expect((await call('converse', CONVERSE, 'ABSK-good')).status).toBe(200);
    expect((await call('converse', CONVERSE, 'ABSK-bad')).status).toBe(403);
  });

  test('validation errors in the Bedrock shape', async () => {
    const res = await call('converse', { messages: [] });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-amzn-errortype')).toBe('ValidationException');
    const invoke = await call('invoke', {
      messages: [],
      max_tokens: 5,
      model: 'x',
      anthropic_version: 'bedrock-2023-05-31',
    });
    expect(((await invoke.json()) as { message: string }).message).toContain(
      'extraneous key [model]',
    );
  });

  test('ConverseStream and InvokeModelWithResponseStream send event-stream frames', async () => {
    const res = await call('converse-stream', CONVERSE);
    expect(res.headers.get('content-type')).toBe('application/vnd.amazon.eventstream');
    const frames = new EventStreamDecoder().push(Buffer.from(await res.arrayBuffer()));
    expect(frames.map((f) => f.headers[':event-type'])).toEqual([
      'messageStart',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockStop',
      'messageStop',
      'metadata',
    ]);
    const invoke = await call('invoke-with-response-stream', {
      anthropic_version: 'bedrock-2023-05-31',
      max_tokens: 10,
      messages: [{ role: 'user', content: 'hi' }],
      tools: [{ name: 'lookup', input_schema: { type: 'object' } }],
      tool_choice: { type: 'any' },
    });
    const events = new EventStreamDecoder()
      .push(Buffer.from(await invoke.arrayBuffer()))
      .map(
        (f) =>
          JSON.parse(
            Buffer.from(
              (JSON.parse(f.payload.toString()) as { bytes: string }).bytes,
              'base64',
            ).toString(),
          ) as { type: string },
      );
    expect(events.map((e) => e.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(events[1]).toMatchObject({ content_block: { type: 'tool_use', name: 'lookup' } });
  });

  test('STS and the container endpoint mint credentials the runtime then accepts', async () => {
    const sts = await fetch(`${sim.url}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fr&RoleSessionName=s&WebIdentityToken=jwt',
    });
    expect(sts.status).toBe(200);
    const xml = await sts.text();
    const get = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(xml)?.[1] ?? '';
    const minted = {
      accessKeyId: get('AccessKeyId'),
      secretAccessKey: get('SecretAccessKey'),
      sessionToken: get('SessionToken'),
    };
    expect((await call('converse', CONVERSE, minted)).status).toBe(200);
    const { sessionToken: _drop, ...withoutToken } = minted;
    expect((await call('converse', CONVERSE, withoutToken)).status).toBe(403);

    const refused = await fetch(`${sim.url}/`, {
      method: 'POST',
      body: 'Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fother&RoleSessionName=s&WebIdentityToken=jwt',
    });
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain('<Code>AccessDenied</Code>');

    const pod = await fetch(`${sim.url}/v1/credentials`, {
      headers: { authorization: 'pod-token' },
    });
    const creds = (await pod.json()) as Record<string, string>;
    expect(
      (
        await call('converse', CONVERSE, {
          accessKeyId: creds.AccessKeyId ?? '',
          secretAccessKey: creds.SecretAccessKey ?? '',
          sessionToken: creds.Token ?? '',
        })
      ).status,
    ).toBe(200);
    expect((await fetch(`${sim.url}/v1/credentials`)).status).toBe(401);
    expect(sim.aws.minted).toBe(2);
  });
});

describe("the adapters' health probes", () => {
  test.each([
    ['bedrock', bedrockAdapter],
    ['anthropic-bedrock', anthropicBedrockAdapter],
  ] as const)(
    '%s: models and completion probes are answered 200, signed',
    async (provider, adapter) => {
      const backend = {
        id: `default/${provider}`,
        namespace: 'default',
        name: provider,
        provider,
        baseUrl: sim.url,
        model: 'anthropic.claude-3-haiku-20240307-v1:0',
        bedrock: { region: 'us-east-1' },
        pricing: { inputPerMillion: 1, outputPerMillion: 1, cachedInputPerMillion: 1 },
        limits: {},
        capabilities: [],
        compliance: [],
        timeouts: { connectMs: 1000, firstTokenMs: 1000, totalMs: 1000 },
        health: 'Healthy',
      } satisfies CompiledBackend;
      for (const kind of ['models', 'completion'] as const) {
        const probe = await adapter.probeRequest({
          backend,
          kind,
          auth: { kind: 'aws', region: 'us-east-1', credentials: KEY },
        });
        const res = await fetch(probe.url, {
          method: probe.method,
          headers: probe.headers,
          body: probe.body,
        });
        expect(res.status).toBe(200);
      }
    },
  );
});
