import type { CompiledAuth, CompiledBackend } from '../../routing/table.js';
import { createAzureEntraAuth } from './azure-entra.js';
import { CredentialUnavailableError, type AuthDeps, type AuthSource } from './types.js';

const SCOPE = 'https://cognitiveservices.azure.com/.default';

const backend = (
  auth: Partial<Extract<CompiledAuth, { type: 'azure-entra' }>> = {},
): CompiledBackend => ({
  id: 'default/gpt',
  namespace: 'default',
  name: 'gpt',
  provider: 'azure-openai',
  baseUrl: 'https://example.openai.azure.com',
  model: 'gpt-4o',
  azure: { deployment: 'gpt4o', apiVersion: '2024-10-21' },
  auth: { type: 'azure-entra', source: 'workloadIdentity', scope: SCOPE, ...auth },
  pricing: { inputPerMillion: 1, outputPerMillion: 2, cachedInputPerMillion: 0.5 },
  limits: {},
  capabilities: [],
  compliance: [],
  timeouts: { connectMs: 1000, firstTokenMs: 10000, totalMs: 60000 },
  health: 'Healthy',
});

interface Call {
  url: string;
  form: URLSearchParams;
}

function harness(answers: (() => Response)[], env: NodeJS.ProcessEnv = {}) {
  let now = 1_000_000;
  const calls: Call[] = [];
  const files: Record<string, string> = {
    '/var/run/secrets/azure/tokens/azure-identity-token': 'jwt-1',
  };
  const deps: AuthDeps = {
    fetch: (input, init) => {
      calls.push({
        url: typeof input === 'string' ? input : input instanceof URL ? input.href : input.url,
        form: new URLSearchParams(typeof init?.body === 'string' ? init.body : ''),
      });
      const answer = answers.shift();
      if (!answer) return Promise.reject(new TypeError('fetch failed'));
      return Promise.resolve(answer());
    },
    secret: (_backend, ref) => {
      if (ref.secretName === 'entra' && ref.key === 'clientSecret') return 'the-client-secret';
      throw new Error('no such secret');
    },
    env: {
      AZURE_TENANT_ID: 'tenant-env',
      AZURE_CLIENT_ID: 'client-env',
      AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token',
      ...env,
    },
    now: () => now,
    readFile: (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return text;
    },
  };
  return {
    deps,
    calls,
    files,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

const token =
  (value: string, expiresIn: number | string = 3600) =>
  () =>
    new Response(
      JSON.stringify({ token_type: 'Bearer', expires_in: expiresIn, access_token: value }),
      {
        status: 200,
        headers: { 'content-type': 'application/json' },
      },
    );

const refusal = (status: number, error: string, description: string) => () =>
  new Response(JSON.stringify({ error, error_description: description, error_codes: [1] }), {
    status,
  });

/** The CredentialUnavailableError a source fails with (the test fails if it does not). */
async function failureOf(source: AuthSource): Promise<CredentialUnavailableError> {
  try {
    await source.current();
  } catch (err) {
    if (err instanceof CredentialUnavailableError) return err;
    throw err;
  }
  throw new Error('expected the credential to be unavailable');
}

describe('azure entra: workload identity', () => {
  test('posts the federated token as a client assertion to the tenant of AZURE_TENANT_ID', async () => {
    const h = harness([token('tok-1')]);
    const source = createAzureEntraAuth(backend(), h.deps);
    await expect(source.current()).resolves.toEqual({ kind: 'bearer', token: 'tok-1' });
    expect(h.calls).toHaveLength(1);
    const [call] = h.calls;
    expect(call?.url).toBe('https://login.microsoftonline.com/tenant-env/oauth2/v2.0/token');
    expect(Object.fromEntries(call?.form ?? [])).toEqual({
      grant_type: 'client_credentials',
      client_id: 'client-env',
      scope: SCOPE,
      client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
      client_assertion: 'jwt-1',
    });
  });

  test('settings win over env; AZURE_AUTHORITY_HOST without a trailing slash', async () => {
    const h = harness([token('tok-1')], { AZURE_AUTHORITY_HOST: 'http://127.0.0.1:9' });
    const source = createAzureEntraAuth(backend({ tenantId: 'T', clientId: 'C' }), h.deps);
    await source.current();
    expect(h.calls[0]?.url).toBe('http://127.0.0.1:9/T/oauth2/v2.0/token');
    expect(h.calls[0]?.form.get('client_id')).toBe('C');
  });

  test('cached until near expiry, then refreshed with the token file read again', async () => {
    const h = harness([token('tok-1', '3600'), token('tok-2')]);
    const source = createAzureEntraAuth(backend(), h.deps);
    await source.current();
    h.advance(30 * 60_000);
    expect(source.current()).toEqual({ kind: 'bearer', token: 'tok-1' });
    expect(h.calls).toHaveLength(1);
    h.files['/var/run/secrets/azure/tokens/azure-identity-token'] = 'jwt-2';
    h.advance(30 * 60_000);
    await expect(source.current()).resolves.toEqual({ kind: 'bearer', token: 'tok-2' });
    expect(h.calls[1]?.form.get('client_assertion')).toBe('jwt-2');
  });

  test('an AADSTS refusal says what is wrong and how to fix it', async () => {
    const h = harness([
      refusal(
        400,
        'invalid_client',
        'AADSTS70021: No matching federated identity record found for presented assertion.\r\nTrace ID: x',
      ),
    ]);
    const failure = await failureOf(createAzureEntraAuth(backend(), h.deps));
    const error = failure;
    expect(error.refused).toBe(true);
    expect(error.message).toContain('AADSTS70021');
    expect(error.message).not.toContain('Trace ID');
    expect(error.message).toContain('federated credential');
    expect(error.message).toContain('default/gpt');
    expect(error.message).not.toContain('jwt-1');
  });

  test('no token file: a clear error, no request', async () => {
    const h = harness([], { AZURE_FEDERATED_TOKEN_FILE: '' });
    await expect(createAzureEntraAuth(backend(), h.deps).current()).rejects.toThrow(
      /AZURE_FEDERATED_TOKEN_FILE is not set/,
    );
    const missing = harness([], { AZURE_FEDERATED_TOKEN_FILE: '/nope' });
    await expect(createAzureEntraAuth(backend(), missing.deps).current()).rejects.toThrow(
      /readable federated token at \/nope \(ENOENT\)/,
    );
    expect(h.calls).toHaveLength(0);
  });

  test('no tenant or client id: says where to set them', async () => {
    const h = harness([], { AZURE_TENANT_ID: undefined });
    await expect(createAzureEntraAuth(backend(), h.deps).current()).rejects.toThrow(
      /no tenant id; set spec.auth.azureEntra.tenantId or AZURE_TENANT_ID/,
    );
    const c = harness([], { AZURE_CLIENT_ID: undefined });
    await expect(createAzureEntraAuth(backend(), c.deps).current()).rejects.toThrow(/no client id/);
  });

  test('unreachable endpoint and a non-token answer are unavailable, not refused', async () => {
    const h = harness([]);
    const down = await failureOf(createAzureEntraAuth(backend(), h.deps));
    expect(down.message).toMatch(/could not be reached/);
    expect(down.refused).toBe(false);
    const odd = harness([() => new Response('<html>', { status: 200 })]);
    await expect(createAzureEntraAuth(backend(), odd.deps).current()).rejects.toThrow(
      /without access_token/,
    );
  });
});

describe('azure entra: client secret', () => {
  const secretBackend = backend({
    source: 'clientSecret',
    tenantId: 'T',
    clientId: 'C',
    secret: { secretName: 'entra', key: 'clientSecret' },
  });

  test('posts client_secret from the Secret', async () => {
    const h = harness([token('tok-s')]);
    await expect(createAzureEntraAuth(secretBackend, h.deps).current()).resolves.toEqual({
      kind: 'bearer',
      token: 'tok-s',
    });
    expect(Object.fromEntries(h.calls[0]?.form ?? [])).toEqual({
      grant_type: 'client_credentials',
      client_id: 'C',
      scope: SCOPE,
      client_secret: 'the-client-secret',
    });
  });

  test('a wrong secret is refused without echoing it', async () => {
    const h = harness([
      refusal(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.'),
    ]);
    const failure = await failureOf(createAzureEntraAuth(secretBackend, h.deps));
    expect(failure.message).toContain('AADSTS7000215');
    expect(failure.message).toContain('client secret is wrong or expired');
    expect(failure.message).not.toContain('the-client-secret');
  });
});
