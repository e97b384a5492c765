import { startSimulatedBackend, type SimulatedBackend } from './server.js';

const entra = { tenantId: 'T', clientId: 'C', clientSecret: 's3cret', federatedToken: 'fed' };
const CHAT = '/openai/deployments/d/chat/completions?api-version=2024-10-21';

let sim: SimulatedBackend;
afterEach(() => sim.close());

const token = (form: Record<string, string>, tenant = 'T') =>
  fetch(`${sim.url}/${tenant}/oauth2/v2.0/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: 'C',
      scope: 'https://cognitiveservices.azure.com/.default',
      ...form,
    }).toString(),
  });

const chat = (headers: Record<string, string>) =>
  fetch(`${sim.url}${CHAT}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] }),
  });

describe('simulated Entra ID', () => {
  test('issues tokens for the client secret or the federated assertion; Azure takes them as Bearer', async () => {
    sim = await startSimulatedBackend({ entra, requireApiKey: 'the-key' });
    const forms: Record<string, string>[] = [
      { client_secret: 's3cret' },
      {
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: 'fed',
      },
    ];
    for (const form of forms) {
      const res = await token(form);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { access_token: string; expires_in: number };
      expect(body.expires_in).toBe(3599);
      expect((await chat({ authorization: `Bearer ${body.access_token}` })).status).toBe(200);
    }
    // The api-key still works; a made-up token does not.
    expect((await chat({ 'api-key': 'the-key' })).status).toBe(200);
    const refused = await chat({ authorization: 'Bearer made-up' });
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({
      error: expect.objectContaining({
        code: '401',
        message: expect.stringMatching(/Access token/),
      }),
    });
  });

  test('refusals in AADSTS shape; expired tokens are refused', async () => {
    sim = await startSimulatedBackend({ entra });
    const wrong = await token({ client_secret: 'nope' });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toMatchObject({
      error: 'invalid_client',
      error_description: expect.stringMatching(/^AADSTS7000215: /),
      error_codes: [7000215],
    });
    expect((await token({ client_secret: 's3cret' }, 'other')).status).toBe(400);
    const fed = await token({
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'not-fed',
    });
    expect(await fed.json()).toMatchObject({ error_codes: [70021] });
    const ok = (await (await token({ client_secret: 's3cret' })).json()) as {
      access_token: string;
    };
    sim.expireEntraTokens();
    expect((await chat({ authorization: `Bearer ${ok.access_token}` })).status).toBe(401);
    expect((await chat({})).status).toBe(401);
  });
});
