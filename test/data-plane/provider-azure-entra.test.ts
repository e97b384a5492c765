// Azure OpenAI with Entra ID through a real proxy: Azure Workload Identity's
// federated token exchanged at a simulated Entra token endpoint, the token
// sent as Bearer, refreshed when it expires; a refused exchange fails over
// with the AADSTS reason and its fix.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { APIError } from 'openai';
import { startConnectProxy } from '../support/connect-proxy.js';
import { route, startDataPlane, type DataPlane } from '../support/data-plane.js';

const TENANT = 'a1b2c3d4-tenant';
const CLIENT = 'e5f6-client';
const FEDERATED = 'eyJhbGciOiJSUzI1NiJ9.federated-sa-token.sig';

let dp: DataPlane | undefined;
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'entra-'));
});
afterEach(async () => {
  await dp?.close();
  dp = undefined;
  rmSync(dir, { recursive: true, force: true });
});

const chat = { model: 'chat', messages: [{ role: 'user' as const, content: 'Say hello.' }] };

const azureEntra = (name: string) => ({
  name,
  spec: {
    provider: 'azure-openai' as const,
    azure: { deployment: 'gpt4o', apiVersion: '2024-10-21' },
    auth: { azureEntra: { source: 'workloadIdentity' as const } },
  },
  simulator: { entra: { tenantId: TENANT, clientId: CLIENT, federatedToken: FEDERATED } },
});

/** Starts the plane, then points the proxy's workload identity env at the Entra simulator. */
async function start(
  tokenFileText: string,
  clock: { offsetMs: number },
  fallback = false,
  extraEnv: NodeJS.ProcessEnv = {},
) {
  const tokenFile = join(dir, 'azure-identity-token');
  writeFileSync(tokenFile, tokenFileText);
  const env: NodeJS.ProcessEnv = {
    AZURE_TENANT_ID: TENANT,
    AZURE_CLIENT_ID: CLIENT,
    AZURE_FEDERATED_TOKEN_FILE: tokenFile,
    ...extraEnv,
  };
  const plane = await startDataPlane(
    [azureEntra('az'), ...(fallback ? [{ name: 'spare' }] : [])],
    [
      route('chat', {
        rules: [
          {
            name: 'all',
            strategy: 'priority',
            backendRefs: fallback
              ? [
                  { name: 'az', priority: 0 },
                  { name: 'spare', priority: 1 },
                ]
              : [{ name: 'az' }],
          },
        ],
      }),
    ],
    { env, credentials: undefined, now: () => Date.now() + clock.offsetMs },
  );
  // Read at each token refresh, like the rest of the workload identity env.
  env.AZURE_AUTHORITY_HOST = `${plane.sims.az!.url}/`;
  return plane;
}

const tokenRequests = (plane: DataPlane) =>
  plane.sims.az!.requests.filter((r) => r.path.endsWith('/oauth2/v2.0/token'));
const inferenceRequests = (plane: DataPlane) =>
  plane.sims.az!.requests.filter((r) => r.path.startsWith('/openai/deployments/'));

describe('azure-openai with Entra ID workload identity', () => {
  test('the federated token buys a Bearer token, reused, and refreshed once it expires', async () => {
    const clock = { offsetMs: 0 };
    dp = await start(FEDERATED, clock);
    const first = await dp.client.chat.completions.create(chat);
    expect(first.choices[0]?.message.content).toEqual(expect.any(String));
    await dp.client.chat.completions.create({ ...chat, stream: false });

    const [exchange] = tokenRequests(dp);
    expect(exchange?.path).toBe(`/${TENANT}/oauth2/v2.0/token`);
    const form = new URLSearchParams(String(exchange?.body));
    expect(form.get('client_assertion')).toBe(FEDERATED);
    expect(form.get('scope')).toBe('https://cognitiveservices.azure.com/.default');
    expect(tokenRequests(dp)).toHaveLength(1);
    const calls = inferenceRequests(dp);
    expect(calls).toHaveLength(2);
    for (const call of calls) {
      expect(call.headers.authorization).toMatch(/^Bearer sim-entra\./);
      expect(call.headers['api-key']).toBeUndefined();
    }

    // An hour later the token has expired on both sides: a new one is fetched.
    dp.sims.az!.expireEntraTokens();
    clock.offsetMs = 3_600_000;
    const stream = await dp.client.chat.completions.create({ ...chat, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(tokenRequests(dp)).toHaveLength(2);
    const last = inferenceRequests(dp).at(-1);
    expect(last?.headers.authorization).not.toBe(calls[0]?.headers.authorization);
  });

  test('a token revoked before its expiry: Azure 401, mapped, and the next request gets a new token', async () => {
    const clock = { offsetMs: 0 };
    dp = await start(FEDERATED, clock);
    await dp.client.chat.completions.create(chat);
    // Revoked upstream while still fresh in the proxy's cache.
    dp.sims.az!.expireEntraTokens();
    const err = await dp.client.chat.completions.create(chat).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).message).toMatch(/Access token is missing, invalid/);
    // The refusal dropped the cached token: the next request fetches a new one and is served.
    const { data } = await dp.client.chat.completions.create(chat).withResponse();
    expect(data.choices[0]?.message.content).toEqual(expect.any(String));
    expect(tokenRequests(dp)).toHaveLength(2);
  });

  test('a refused federated token fails over, and the error names AADSTS and the fix', async () => {
    const clock = { offsetMs: 0 };
    dp = await start('not-the-registered-assertion', clock, true);
    const { data, response } = await dp.client.chat.completions.create(chat).withResponse();
    expect(data.choices[0]?.message.content).toEqual(expect.any(String));
    expect(response.headers.get('x-modelroute-backend')).toBe('default/spare');
    expect(inferenceRequests(dp)).toHaveLength(0);

    await dp.close();
    dp = await start('not-the-registered-assertion', clock);
    const err = await dp.client.chat.completions.create(chat).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    const message = (err as APIError).message;
    expect(message).toMatch(/AADSTS70021/);
    expect(message).toMatch(/federated credential/);
    expect(message).not.toContain('not-the-registered-assertion');
  });

  test('the token endpoint goes through the egress proxy like the calls', async () => {
    const forward = await startConnectProxy();
    try {
      dp = await start(FEDERATED, { offsetMs: 0 }, false, { HTTP_PROXY: forward.url });
      await dp.client.chat.completions.create(chat);
      const base = dp.sims.az!.url;
      expect(forward.forwarded).toEqual([
        `${base}/${TENANT}/oauth2/v2.0/token`,
        `${base}/openai/deployments/gpt4o/chat/completions?api-version=2024-10-21`,
      ]);
    } finally {
      await dp?.close();
      dp = undefined;
      await forward.close();
    }
  });
});
