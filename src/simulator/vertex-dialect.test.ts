// Vertex AI on the simulator: Google's token endpoint and metadata server, and
// the Gemini and Claude model paths, which take only live tokens it issued.
import { parseServiceAccountKey, signServiceAccountAssertion } from '../providers/auth/google.js';
import { anthropicVertexAdapter } from '../providers/anthropic-vertex/adapter.js';
import type { ProbeArgs } from '../providers/types.js';
import { vertexGeminiAdapter } from '../providers/vertex-gemini/adapter.js';
import type { CompiledBackend } from '../routing/table.js';
import { post } from './__fixtures__/http.js';
import { startSimulatedBackend, type SimulatedBackend } from './index.js';
import {
  SimulatedGoogleAuth,
  simulatedServiceAccountKey,
  METADATA_TOKEN_PATH,
} from './vertex-auth.js';

let sim: SimulatedBackend;
let keyJson: string;
let strangerKeyJson: string;

beforeAll(async () => {
  // The token_uri is only known once the port is: the key gets it after the server starts.
  const made = simulatedServiceAccountKey('http://placeholder');
  sim = await startSimulatedBackend({
    outputTokens: 3,
    google: { serviceAccounts: [made.account] },
  });
  const withUri = (json: string) =>
    JSON.stringify({ ...(JSON.parse(json) as object), token_uri: `${sim.url}/token` });
  keyJson = withUri(made.keyJson);
  // Same account name, another private key: its signature cannot verify.
  strangerKeyJson = withUri(simulatedServiceAccountKey('http://x').keyJson);
});
afterAll(() => sim.close());

async function exchange(key: string, nowMs = Date.now()) {
  const parsed = parseServiceAccountKey(key, 'test key');
  const form = new URLSearchParams({
    grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
    assertion: signServiceAccountAssertion(parsed, nowMs),
  });
  const res = await fetch(`${sim.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: form.toString(),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function token(): Promise<string> {
  const { json } = await exchange(keyJson);
  return json.access_token as string;
}

const GEMINI =
  '/v1/projects/sim-project/locations/us-central1/publishers/google/models/gemini-2.5-flash';
const CLAUDE =
  '/v1/projects/sim-project/locations/us-east5/publishers/anthropic/models/claude-sonnet-4-5@20250929';
const hello = { contents: [{ role: 'user', parts: [{ text: 'hello there' }] }] };

describe('Google token endpoint', () => {
  test('a signed assertion of a known service account gets an access token', async () => {
    const { status, json } = await exchange(keyJson);
    expect(status).toBe(200);
    expect(json).toMatchObject({ token_type: 'Bearer', expires_in: 3599 });
    expect(json.access_token).toMatch(/^ya29\./);
  });

  test('a signature by another key is invalid_grant', async () => {
    expect(await exchange(strangerKeyJson)).toEqual({
      status: 400,
      json: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' },
    });
  });

  test('an expired assertion is invalid_grant', async () => {
    const { status, json } = await exchange(keyJson, Date.now() - 2 * 3600_000);
    expect(status).toBe(400);
    expect(json.error_description).toContain('Check your iat and exp');
  });

  test('an assertion for another audience is invalid_grant', async () => {
    const other = JSON.stringify({
      ...(JSON.parse(keyJson) as object),
      token_uri: 'https://oauth2.googleapis.com/token',
    });
    const { json } = await exchange(other);
    expect(json.error).toBe('invalid_grant');
    expect(json.error_description).toContain('audience');
  });
});

describe('metadata server', () => {
  test('issues tokens only with Metadata-Flavor: Google', async () => {
    const without = await fetch(`${sim.url}${METADATA_TOKEN_PATH}`);
    expect(without.status).toBe(403);
    const res = await fetch(`${sim.url}${METADATA_TOKEN_PATH}`, {
      headers: { 'metadata-flavor': 'Google' },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { access_token: string };
    const answer = await post(`${sim.url}${GEMINI}:generateContent`, hello, {
      authorization: `Bearer ${body.access_token}`,
    });
    expect(answer.status).toBe(200);
  });
});

describe('Gemini paths', () => {
  test('no token, or one it never issued: Google 401 UNAUTHENTICATED', async () => {
    const presented: Record<string, string>[] = [{}, { authorization: 'Bearer ya29.forged' }];
    for (const headers of presented) {
      const res = await post(`${sim.url}${GEMINI}:generateContent`, hello, headers);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({
        error: { code: 401, status: 'UNAUTHENTICATED' },
      });
    }
  });

  test('generateContent answers a GenerateContentResponse with usage', async () => {
    const res = await post(`${sim.url}${GEMINI}:generateContent`, hello, {
      authorization: `Bearer ${await token()}`,
    });
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      candidates: [{ content: { role: 'model' }, finishReason: 'STOP' }],
      usageMetadata: { promptTokenCount: 3, candidatesTokenCount: 3, totalTokenCount: 6 },
      modelVersion: 'gemini-2.5-flash',
    });
  });

  test('streamGenerateContent?alt=sse streams text and ends with finishReason and usage', async () => {
    const res = await post(`${sim.url}${GEMINI}:streamGenerateContent?alt=sse`, hello, {
      authorization: `Bearer ${await token()}`,
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const events = (await res.text())
      .split('\r\n\r\n')
      .filter((e) => e !== '')
      .map((e) => JSON.parse(e.replace(/^data: /, '')) as { candidates: unknown[] });
    expect(events).toHaveLength(4);
    expect(events.at(-1)).toMatchObject({
      candidates: [{ finishReason: 'STOP' }],
      usageMetadata: { candidatesTokenCount: 3 },
    });
  });

  test('toolConfig mode ANY makes it call the function', async () => {
    const res = await post(
      `${sim.url}${GEMINI}:generateContent`,
      {
        ...hello,
        tools: [{ functionDeclarations: [{ name: 'weather' }] }],
        toolConfig: { functionCallingConfig: { mode: 'ANY' } },
      },
      { authorization: `Bearer ${await token()}` },
    );
    expect(await res.json()).toMatchObject({
      candidates: [{ content: { parts: [{ functionCall: { name: 'weather', args: {} } }] } }],
    });
  });

  test('bad bodies and injected errors come in Google’s error shape', async () => {
    const auth = { authorization: `Bearer ${await token()}` };
    const bad = await post(`${sim.url}${GEMINI}:generateContent`, { contents: [] }, auth);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: { code: 400, status: 'INVALID_ARGUMENT' } });
    sim.setBehavior({ statusSequence: [429] });
    const limited = await post(`${sim.url}${GEMINI}:generateContent`, hello, auth);
    expect(limited.status).toBe(429);
    expect(await limited.json()).toMatchObject({ error: { status: 'RESOURCE_EXHAUSTED' } });
    sim.setBehavior({ statusSequence: [] });
  });

  test('countTokens', async () => {
    const res = await post(`${sim.url}${GEMINI}:countTokens`, hello, {
      authorization: `Bearer ${await token()}`,
    });
    expect(await res.json()).toEqual({ totalTokens: 3, totalBillableCharacters: 11 });
  });
});

describe('Claude paths', () => {
  const claudeBody = {
    anthropic_version: 'vertex-2023-10-16',
    max_tokens: 10,
    messages: [{ role: 'user', content: 'hi' }],
  };

  test('rawPredict answers an Anthropic message for the model in the path', async () => {
    const res = await post(`${sim.url}${CLAUDE}:rawPredict`, claudeBody, {
      authorization: `Bearer ${await token()}`,
    });
    expect(await res.json()).toMatchObject({
      type: 'message',
      model: 'claude-sonnet-4-5@20250929',
      usage: { output_tokens: 3 },
    });
  });

  test('streamRawPredict streams Anthropic events', async () => {
    const res = await post(
      `${sim.url}${CLAUDE}:streamRawPredict`,
      { ...claudeBody, stream: true },
      {
        authorization: `Bearer ${await token()}`,
      },
    );
    const text = await res.text();
    expect(text).toContain('event: message_start');
    expect(text).toContain('event: message_stop');
  });

  test('without the Vertex anthropic_version: 400 in Anthropic’s shape; no token: Google 401', async () => {
    const { anthropic_version: _v, ...noVersion } = claudeBody;
    const bad = await post(`${sim.url}${CLAUDE}:rawPredict`, noVersion, {
      authorization: `Bearer ${await token()}`,
    });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({
      type: 'error',
      error: { type: 'invalid_request_error' },
    });
    const anonymous = await post(`${sim.url}${CLAUDE}:rawPredict`, claudeBody);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: { status: 'UNAUTHENTICATED' } });
  });

  test('count-tokens', async () => {
    const res = await post(
      `${sim.url}/v1/projects/p/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict`,
      { anthropic_version: 'vertex-2023-10-16', model: 'claude', messages: claudeBody.messages },
      { authorization: `Bearer ${await token()}` },
    );
    expect(await res.json()).toEqual({ input_tokens: 1 });
  });
});

describe('token expiry', () => {
  test('a token stops working when it expires', () => {
    let now = 1_000_000;
    const auth = new SimulatedGoogleAuth({
      serviceAccounts: [],
      tokenLifetimeSeconds: 60,
      now: () => now,
    });
    let issued = '';
    const res = {
      writeHead: () => res,
      end: (body: string) => {
        issued = (JSON.parse(body) as { access_token: string }).access_token;
      },
    };
    const req = { method: 'GET', headers: { 'metadata-flavor': 'Google' } };
    type Req = Parameters<SimulatedGoogleAuth['handle']>[0];
    type Res = Parameters<SimulatedGoogleAuth['handle']>[1];
    expect(auth.handle(req as unknown as Req, res as unknown as Res, METADATA_TOKEN_PATH, '')).toBe(
      true,
    );
    const withToken = { headers: { authorization: `Bearer ${issued}` } } as unknown as Req;
    expect(auth.authorized(withToken)).toBe(true);
    now += 59_999;
    expect(auth.authorized(withToken)).toBe(true);
    now += 1;
    expect(auth.authorized(withToken)).toBe(false);
    // A token whose expiry was edited no longer verifies.
    const later = issued.replace(
      /^ya29\.sim\.(\d+)/,
      (_m, at: string) => `ya29.sim.${Number(at) + 3600_000}`,
    );
    const edited = { headers: { authorization: `Bearer ${later}` } } as unknown as Req;
    expect(auth.authorized(edited)).toBe(false);
  });

  test('like Google, a token from one simulated endpoint works at another', async () => {
    const other = await startSimulatedBackend();
    try {
      const res = await fetch(`${other.url}${METADATA_TOKEN_PATH}`, {
        headers: { 'metadata-flavor': 'Google' },
      });
      const { access_token: foreign } = (await res.json()) as { access_token: string };
      const answer = await post(`${sim.url}${GEMINI}:generateContent`, hello, {
        authorization: `Bearer ${foreign}`,
      });
      expect(answer.status).toBe(200);
    } finally {
      await other.close();
    }
  });
});

describe('health probes', () => {
  const backend = (provider: CompiledBackend['provider'], model: string): CompiledBackend => ({
    id: `default/${model}`,
    namespace: 'default',
    name: model,
    provider,
    baseUrl: sim.url,
    model,
    vertex: { project: 'sim-project', location: 'us-central1' },
    auth: { type: 'gcp', source: 'default' },
    pricing: { inputPerMillion: 0, outputPerMillion: 0, cachedInputPerMillion: 0 },
    limits: {},
    capabilities: [],
    compliance: [],
    timeouts: { connectMs: 1000, firstTokenMs: 10000, totalMs: 60000 },
    health: 'Healthy',
  });

  test.each([
    ['vertex-gemini', vertexGeminiAdapter, 'gemini-2.5-flash'],
    ['anthropic-vertex', anthropicVertexAdapter, 'claude-sonnet-4-5@20250929'],
  ] as const)(
    '%s probes are answered 200 with a token and 401 without',
    async (provider, adapter, model) => {
      for (const kind of ['models', 'completion'] as const) {
        const args = (auth: ProbeArgs['auth']): ProbeArgs => ({
          backend: backend(provider, model),
          kind,
          auth,
        });
        const send = async (auth: ProbeArgs['auth']) => {
          const probe = adapter.probeRequest(args(auth));
          const res = await fetch(probe.url, {
            method: probe.method,
            headers: probe.headers,
            body: probe.body,
          });
          await res.arrayBuffer();
          return res.status;
        };
        expect(await send({ kind: 'bearer', token: await token() })).toBe(200);
        expect(await send(undefined)).toBe(401);
      }
    },
  );
});
