import { createVerify, generateKeyPairSync } from 'node:crypto';
import type { CompiledAuth, CompiledBackend } from '../../routing/table.js';
import type { UpstreamAuth } from '../types.js';
import {
  createGoogleAuth,
  GOOGLE_CLOUD_PLATFORM_SCOPE,
  JWT_BEARER_GRANT,
  parseServiceAccountKey,
} from './google.js';
import { CredentialUnavailableError, type AuthDeps } from './types.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PRIVATE_PEM = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const TOKEN_URI = 'http://oauth.test/token';
const KEY = {
  type: 'service_account',
  project_id: 'my-project',
  private_key_id: 'kid-1',
  private_key: PRIVATE_PEM,
  client_email: 'router@my-project.iam.gserviceaccount.com',
  token_uri: TOKEN_URI,
};

const backend = (auth: Extract<CompiledAuth, { type: 'gcp' }>): CompiledBackend => ({
  id: 'default/gemini',
  namespace: 'default',
  name: 'gemini',
  provider: 'vertex-gemini',
  baseUrl: 'https://us-central1-aiplatform.googleapis.com',
  model: 'gemini-2.5-flash',
  vertex: { project: 'my-project', location: 'us-central1' },
  auth,
  pricing: { inputPerMillion: 0.3, outputPerMillion: 2.5, cachedInputPerMillion: 0.03 },
  limits: {},
  capabilities: [],
  compliance: [],
  timeouts: { connectMs: 1000, firstTokenMs: 10000, totalMs: 60000 },
  health: 'Healthy',
});

const SECRET = { secretName: 'vertex-sa', key: 'credentials.json' };
const keyBackend = backend({ type: 'gcp', source: 'serviceAccountKey', secret: SECRET });

interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
}

type Answer = { status: number; body: unknown };

/** A token endpoint answering from a script; every call is recorded. */
function fakeDeps(options: {
  answer?: (call: Call, n: number) => Answer | Promise<Answer>;
  env?: NodeJS.ProcessEnv;
  files?: Record<string, string>;
  secret?: string;
}) {
  let clock = 1_800_000_000_000;
  const calls: Call[] = [];
  const answer =
    options.answer ??
    ((_call: Call, n: number) => ({
      status: 200,
      body: { access_token: `token-${n}`, expires_in: 3599, token_type: 'Bearer' },
    }));
  const deps: AuthDeps = {
    fetch: async (input: string | URL | Request, init?: RequestInit) => {
      const call: Call = {
        url: input instanceof Request ? input.url : input.toString(),
        method: init?.method ?? 'GET',
        headers: Object.fromEntries(new Headers(init?.headers).entries()),
        body: typeof init?.body === 'string' ? init.body : '',
      };
      calls.push(call);
      const result = await answer(call, calls.length);
      return new Response(JSON.stringify(result.body), { status: result.status });
    },
    secret: (_backend, ref) => {
      expect(ref).toEqual(SECRET);
      return options.secret ?? JSON.stringify(KEY);
    },
    env: options.env ?? {},
    now: () => clock,
    readFile: (path) => {
      const text = options.files?.[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
      return text;
    },
  };
  return {
    deps,
    calls,
    advance: (ms: number) => {
      clock += ms;
    },
    now: () => clock,
  };
}

const current = async (source: { current(): UpstreamAuth | Promise<UpstreamAuth> }) =>
  await source.current();

async function failure(promise: Promise<unknown>): Promise<CredentialUnavailableError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(CredentialUnavailableError);
    return err as CredentialUnavailableError;
  }
  throw new Error('expected a CredentialUnavailableError');
}

function decodeJwt(jwt: string) {
  const [header, claims, signature] = jwt.split('.') as [string, string, string];
  const verified = createVerify('RSA-SHA256')
    .update(`${header}.${claims}`)
    .verify(publicKey, Buffer.from(signature, 'base64url'));
  return {
    verified,
    header: JSON.parse(Buffer.from(header, 'base64url').toString()) as Record<string, unknown>,
    claims: JSON.parse(Buffer.from(claims, 'base64url').toString()) as Record<string, number>,
  };
}

describe('service account key', () => {
  test('exchanges an RS256 JWT assertion at token_uri for a bearer token', async () => {
    const fake = fakeDeps({});
    const auth = createGoogleAuth(keyBackend, fake.deps);
    expect(await current(auth)).toEqual({ kind: 'bearer', token: 'token-1' });
    const [call] = fake.calls;
    expect(call?.url).toBe(TOKEN_URI);
    expect(call?.method).toBe('POST');
    expect(call?.headers['content-type']).toBe('application/x-www-form-urlencoded');
    const form = new URLSearchParams(call?.body);
    expect(form.get('grant_type')).toBe(JWT_BEARER_GRANT);
    const jwt = decodeJwt(form.get('assertion') ?? '');
    expect(jwt.verified).toBe(true);
    expect(jwt.header).toEqual({ alg: 'RS256', typ: 'JWT', kid: 'kid-1' });
    const iat = Math.floor(fake.now() / 1000);
    expect(jwt.claims).toEqual({
      iss: KEY.client_email,
      scope: GOOGLE_CLOUD_PLATFORM_SCOPE,
      aud: TOKEN_URI,
      iat,
      exp: iat + 3600,
    });
  });

  test('without token_uri the assertion goes to Google', async () => {
    const { token_uri: _omit, ...key } = KEY;
    const fake = fakeDeps({ secret: JSON.stringify(key) });
    await current(createGoogleAuth(keyBackend, fake.deps));
    expect(fake.calls[0]?.url).toBe('https://oauth2.googleapis.com/token');
    const form = new URLSearchParams(fake.calls[0]?.body);
    expect(decodeJwt(form.get('assertion') ?? '').claims.aud).toBe(
      'https://oauth2.googleapis.com/token',
    );
  });

  test('a fresh token is served from the cache, synchronously', async () => {
    const fake = fakeDeps({});
    const auth = createGoogleAuth(keyBackend, fake.deps);
    await current(auth);
    fake.advance(30 * 60_000);
    expect(auth.current()).toEqual({ kind: 'bearer', token: 'token-1' });
    expect(fake.calls).toHaveLength(1);
  });

  test('refreshes before expiry: the old token serves while the new one is fetched', async () => {
    const fake = fakeDeps({});
    const auth = createGoogleAuth(keyBackend, fake.deps);
    await current(auth);
    fake.advance(3599_000 - 4 * 60_000); // inside the 5-minute refresh window
    expect(auth.current()).toEqual({ kind: 'bearer', token: 'token-1' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(fake.calls).toHaveLength(2);
    expect(await current(auth)).toEqual({ kind: 'bearer', token: 'token-2' });
  });

  test('an expired token is never served: callers wait for a new one', async () => {
    const fake = fakeDeps({});
    const auth = createGoogleAuth(keyBackend, fake.deps);
    await current(auth);
    fake.advance(3600_000);
    const next = auth.current();
    expect(next).toBeInstanceOf(Promise);
    expect(await next).toEqual({ kind: 'bearer', token: 'token-2' });
  });

  test('concurrent callers share one token request', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const fake = fakeDeps({
      answer: async (_call, n) => {
        await gate;
        return { status: 200, body: { access_token: `token-${n}`, expires_in: 3600 } };
      },
    });
    const auth = createGoogleAuth(keyBackend, fake.deps);
    const all = Promise.all([current(auth), current(auth), current(auth)]);
    release();
    expect((await all).map((a) => (a.kind === 'bearer' ? a.token : ''))).toEqual([
      'token-1',
      'token-1',
      'token-1',
    ]);
    expect(fake.calls).toHaveLength(1);
  });

  test('invalid_grant says the key was refused and how to fix it, without the key', async () => {
    const fake = fakeDeps({
      answer: () => ({
        status: 400,
        body: { error: 'invalid_grant', error_description: 'Invalid JWT Signature.' },
      }),
    });
    const err = await failure(current(createGoogleAuth(keyBackend, fake.deps)));
    expect(err.refused).toBe(true);
    expect(err.message).toContain('default/gemini');
    expect(err.message).toContain(KEY.client_email);
    expect(err.message).toContain('invalid_grant: Invalid JWT Signature.');
    expect(err.message).toContain('create a new key and update the Secret');
    expect(err.message).not.toContain('PRIVATE KEY');
  });

  test('an unreachable token endpoint is unavailable, not refused', async () => {
    const fake = fakeDeps({ answer: () => Promise.reject(new Error('connect ECONNREFUSED')) });
    const err = await failure(current(createGoogleAuth(keyBackend, fake.deps)));
    expect(err.refused).toBe(false);
    expect(err.message).toContain('did not answer (connect ECONNREFUSED)');
  });

  test('a 2xx answer without a token is an error', async () => {
    const fake = fakeDeps({ answer: () => ({ status: 200, body: { id_token: 'x' } }) });
    const err = await failure(current(createGoogleAuth(keyBackend, fake.deps)));
    expect(err.message).toContain('without access_token and expires_in');
  });

  test.each([
    [{ ...KEY, client_email: undefined }, 'client_email is missing'],
    [{ ...KEY, private_key: 'nope' }, 'private_key is not a PEM private key'],
    [{ ...KEY, type: 'authorized_user' }, 'type must be "service_account"'],
  ])('a key without what it needs names the field and how to make a key', async (key, said) => {
    const fake = fakeDeps({ secret: JSON.stringify(key) });
    const err = await failure(current(createGoogleAuth(keyBackend, fake.deps)));
    expect(err.message).toContain('Secret "vertex-sa" key "credentials.json"');
    expect(err.message).toContain(said);
    expect(err.message).toContain('gcloud iam service-accounts keys create');
    expect(fake.calls).toHaveLength(0);
  });

  test('a key that is not JSON', () => {
    expect(() => parseServiceAccountKey('{"type":', 'file k.json')).toThrow(
      /file k.json is not JSON/,
    );
  });
});

describe('metadata server', () => {
  const metadataBackend = backend({ type: 'gcp', source: 'metadataServer' });

  test('asks GCE_METADATA_HOST for the default service account token', async () => {
    const fake = fakeDeps({ env: { GCE_METADATA_HOST: '127.0.0.1:8181' } });
    expect(await current(createGoogleAuth(metadataBackend, fake.deps))).toEqual({
      kind: 'bearer',
      token: 'token-1',
    });
    expect(fake.calls[0]).toMatchObject({
      url: 'http://127.0.0.1:8181/computeMetadata/v1/instance/service-accounts/default/token',
      method: 'GET',
      headers: { 'metadata-flavor': 'Google' },
    });
  });

  test('defaults to metadata.google.internal', async () => {
    const fake = fakeDeps({});
    await current(createGoogleAuth(metadataBackend, fake.deps));
    expect(fake.calls[0]?.url).toMatch(/^http:\/\/metadata\.google\.internal\/computeMetadata\//);
  });

  test('a 404 says how to set up Workload Identity', async () => {
    const fake = fakeDeps({ answer: () => ({ status: 404, body: 'Not Found' }) });
    const err = await failure(current(createGoogleAuth(metadataBackend, fake.deps)));
    expect(err.message).toContain('HTTP 404');
    expect(err.message).toContain('Workload Identity');
  });
});

describe('default source', () => {
  const defaultBackend = backend({ type: 'gcp', source: 'default' });

  test('GOOGLE_APPLICATION_CREDENTIALS names a service account key file', async () => {
    const fake = fakeDeps({
      env: { GOOGLE_APPLICATION_CREDENTIALS: '/var/run/sa/key.json', GCE_METADATA_HOST: 'x' },
      files: { '/var/run/sa/key.json': JSON.stringify(KEY) },
    });
    await current(createGoogleAuth(defaultBackend, fake.deps));
    expect(fake.calls[0]?.url).toBe(TOKEN_URI);
  });

  test('an unreadable GOOGLE_APPLICATION_CREDENTIALS file is named', async () => {
    const fake = fakeDeps({ env: { GOOGLE_APPLICATION_CREDENTIALS: '/nope.json' } });
    const err = await failure(current(createGoogleAuth(defaultBackend, fake.deps)));
    expect(err.message).toContain('cannot read GOOGLE_APPLICATION_CREDENTIALS file /nope.json');
  });

  test('without it, the metadata server', async () => {
    const fake = fakeDeps({ env: { GCE_METADATA_HOST: '127.0.0.1:9' } });
    await current(createGoogleAuth(defaultBackend, fake.deps));
    expect(fake.calls[0]?.url).toMatch(/^http:\/\/127\.0\.0\.1:9\/computeMetadata\//);
  });
});
