import type { CompiledAuth, CompiledBackend } from '../../routing/table.js';
import type { UpstreamAuth } from '../types.js';
import { createAwsAuth } from './aws.js';
import { parseStsCredentials, xmlElement } from './aws-sts.js';
import { CredentialUnavailableError, type AuthDeps } from './types.js';

const T0 = Date.parse('2026-12-04T12:00:00Z');

const backend = (auth: CompiledAuth | undefined): CompiledBackend => ({
  id: 'default/claude-bedrock',
  namespace: 'default',
  name: 'claude-bedrock',
  provider: 'bedrock',
  baseUrl: 'https://bedrock-runtime.eu-west-1.amazonaws.com',
  model: 'anthropic.claude-3-haiku',
  bedrock: { region: 'eu-west-1' },
  ...(auth ? { auth } : {}),
  pricing: { inputPerMillion: 1, outputPerMillion: 2, cachedInputPerMillion: 0.1 },
  limits: {},
  capabilities: [],
  compliance: [],
  timeouts: { connectMs: 1000, firstTokenMs: 10000, totalMs: 60000 },
  health: 'Healthy',
});

function stsAnswer(n: number, expiresAtMs: number): string {
  return `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <SessionToken>token-${n}&amp;more</SessionToken>
      <SecretAccessKey>secret-${n}</SecretAccessKey>
      <Expiration>${new Date(expiresAtMs).toISOString()}</Expiration>
      <AccessKeyId>ASIA${n}</AccessKeyId>
    </Credentials>
  </AssumeRoleWithWebIdentityResult>
</AssumeRoleWithWebIdentityResponse>`;
}

interface Call {
  url: string;
  init: RequestInit | undefined;
}

function harness(env: NodeJS.ProcessEnv, respond: (call: Call, n: number) => Response) {
  let now = T0;
  const calls: Call[] = [];
  const files: Record<string, string> = { '/var/run/token': 'jwt-1' };
  const deps: AuthDeps = {
    env,
    now: () => now,
    fetch: ((url: string | URL, init?: RequestInit) => {
      const call = { url: String(url), init };
      calls.push(call);
      return Promise.resolve(respond(call, calls.length));
    }) as typeof globalThis.fetch,
    secret: (_b, ref) => {
      const values: Record<string, string> = {
        'aws-keys/accessKeyId': 'AKIASECRET',
        'aws-keys/secretAccessKey': 'shh',
      };
      const v = values[`${ref.secretName}/${ref.key}`];
      if (v === undefined) throw new Error(`missing ${ref.secretName}/${ref.key}`);
      return v;
    },
    readFile: (path) => {
      const v = files[path];
      if (v === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return v;
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

const WEB_IDENTITY_ENV = {
  AWS_WEB_IDENTITY_TOKEN_FILE: '/var/run/token',
  AWS_ROLE_ARN: 'arn:aws:iam::123456789012:role/proxy',
  AWS_ROLE_SESSION_NAME: 'proxy-session',
  AWS_ENDPOINT_URL_STS: 'http://sts.test',
};

async function resolve(value: UpstreamAuth | Promise<UpstreamAuth>): Promise<UpstreamAuth> {
  return value;
}

describe('aws credentials from a Secret', () => {
  test('reads access keys; the session token is optional', async () => {
    const h = harness({}, () => new Response('', { status: 500 }));
    const source = createAwsAuth(
      backend({ type: 'aws', source: 'secret', secretName: 'aws-keys' }),
      h.deps,
    );
    await expect(resolve(source.current())).resolves.toEqual({
      kind: 'aws',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIASECRET', secretAccessKey: 'shh' },
    });
    expect(h.calls).toHaveLength(0);
  });
});

describe('aws web identity', () => {
  test('exchanges the token file at STS, caches until shortly before expiry, then refreshes', async () => {
    const h = harness(WEB_IDENTITY_ENV, (_c, n) => new Response(stsAnswer(n, T0 + 3600_000 * n)));
    const source = createAwsAuth(backend({ type: 'aws', source: 'webIdentity' }), h.deps);
    const first = await resolve(source.current());
    expect(first).toEqual({
      kind: 'aws',
      region: 'eu-west-1',
      credentials: {
        accessKeyId: 'ASIA1',
        secretAccessKey: 'secret-1',
        sessionToken: 'token-1&more',
        expiresAtMs: T0 + 3600_000,
      },
    });
    expect(h.calls[0]?.url).toBe('http://sts.test');
    const form = new URLSearchParams(h.calls[0]?.init?.body as string);
    expect(Object.fromEntries(form)).toEqual({
      Action: 'AssumeRoleWithWebIdentity',
      Version: '2011-06-15',
      RoleArn: 'arn:aws:iam::123456789012:role/proxy',
      RoleSessionName: 'proxy-session',
      WebIdentityToken: 'jwt-1',
    });

    // Fresh: served from the cache without a call.
    h.advance(30 * 60_000);
    expect(source.current()).toEqual(first);
    expect(h.calls).toHaveLength(1);

    // Within the refresh window: the old one is served, one refresh runs with the rotated token file.
    h.files['/var/run/token'] = 'jwt-2';
    h.advance(26 * 60_000);
    expect(source.current()).toEqual(first);
    expect(source.current()).toEqual(first);
    await new Promise((r) => setImmediate(r));
    expect(h.calls).toHaveLength(2);
    expect(new URLSearchParams(h.calls[1]?.init?.body as string).get('WebIdentityToken')).toBe(
      'jwt-2',
    );
    const second = await resolve(source.current());
    expect(second.kind === 'aws' && second.credentials.accessKeyId).toBe('ASIA2');
  });

  test('callers waiting for the first credential share one STS call', async () => {
    const h = harness(WEB_IDENTITY_ENV, (_c, n) => new Response(stsAnswer(n, T0 + 3600_000)));
    const source = createAwsAuth(backend({ type: 'aws', source: 'webIdentity' }), h.deps);
    const all = await Promise.all([source.current(), source.current(), source.current()]);
    expect(h.calls).toHaveLength(1);
    expect(new Set(all.map((a) => (a.kind === 'aws' ? a.credentials.accessKeyId : '')))).toEqual(
      new Set(['ASIA1']),
    );
  });

  test('an STS refusal names the code and the fix, never the token', async () => {
    const h = harness(
      WEB_IDENTITY_ENV,
      () =>
        new Response(
          `<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error></ErrorResponse>`,
          { status: 403 },
        ),
    );
    const source = createAwsAuth(backend({ type: 'aws', source: 'webIdentity' }), h.deps);
    const error = await resolve(source.current()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CredentialUnavailableError);
    const e = error as CredentialUnavailableError;
    expect(e.refused).toBe(true);
    expect(e.message).toContain('backend default/claude-bedrock (source webIdentity)');
    expect(e.message).toContain('AccessDenied: Not authorized');
    expect(e.message).toContain("role's trust policy");
    expect(e.message).not.toContain('jwt-1');
  });

  test('a missing token file is reported with its path', async () => {
    const h = harness(
      { ...WEB_IDENTITY_ENV, AWS_WEB_IDENTITY_TOKEN_FILE: '/nope' },
      () => new Response(''),
    );
    const source = createAwsAuth(backend({ type: 'aws', source: 'webIdentity' }), h.deps);
    await expect(resolve(source.current())).rejects.toThrow(
      /cannot read the web identity token file \/nope \(ENOENT\)/,
    );
    expect(h.calls).toHaveLength(0);
  });

  test('the default STS endpoint is regional', async () => {
    const { AWS_ENDPOINT_URL_STS: _omit, ...env } = WEB_IDENTITY_ENV;
    const h = harness(env, (_c, n) => new Response(stsAnswer(n, T0 + 3600_000)));
    await resolve(createAwsAuth(backend({ type: 'aws', source: 'webIdentity' }), h.deps).current());
    expect(h.calls[0]?.url).toBe('https://sts.eu-west-1.amazonaws.com');
  });
});

describe('aws container credentials', () => {
  const env = {
    AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://169.254.170.23/v1/credentials',
    AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: '/var/run/token',
  };

  test('reads the endpoint with the token file as authorization', async () => {
    const h = harness(
      env,
      () =>
        new Response(
          JSON.stringify({
            AccessKeyId: 'ASIAPOD',
            SecretAccessKey: 'pod-secret',
            Token: 'pod-token',
            Expiration: new Date(T0 + 3600_000).toISOString(),
          }),
        ),
    );
    const auth = await resolve(
      createAwsAuth(backend({ type: 'aws', source: 'containerCredentials' }), h.deps).current(),
    );
    expect(auth).toEqual({
      kind: 'aws',
      region: 'eu-west-1',
      credentials: {
        accessKeyId: 'ASIAPOD',
        secretAccessKey: 'pod-secret',
        sessionToken: 'pod-token',
        expiresAtMs: T0 + 3600_000,
      },
    });
    expect(h.calls[0]?.url).toBe(env.AWS_CONTAINER_CREDENTIALS_FULL_URI);
    expect((h.calls[0]?.init?.headers as Record<string, string>).authorization).toBe('jwt-1');
  });

  test('a relative URI goes to the ECS/EKS link-local host', async () => {
    const h = harness({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '/v2/creds' }, () =>
      Response.json({ AccessKeyId: 'A', SecretAccessKey: 'S' }),
    );
    await resolve(createAwsAuth(backend({ type: 'aws', source: 'default' }), h.deps).current());
    expect(h.calls[0]?.url).toBe('http://169.254.170.2/v2/creds');
  });

  test('a refusal says what to check', async () => {
    const h = harness(env, () =>
      Response.json({ code: 'AccessDenied', message: 'no association' }, { status: 403 }),
    );
    const source = createAwsAuth(backend({ type: 'aws', source: 'containerCredentials' }), h.deps);
    await expect(resolve(source.current())).rejects.toThrow(
      /container credentials endpoint .* refused \(no association\); check the pod identity association/,
    );
  });
});

describe('aws default chain', () => {
  test('web identity first, when its variables are set', async () => {
    const h = harness(
      { ...WEB_IDENTITY_ENV, AWS_ACCESS_KEY_ID: 'AKIAENV', AWS_SECRET_ACCESS_KEY: 'x' },
      (_c, n) => new Response(stsAnswer(n, T0 + 3600_000)),
    );
    const auth = await resolve(createAwsAuth(backend(undefined), h.deps).current());
    expect(auth.kind === 'aws' && auth.credentials.accessKeyId).toBe('ASIA1');
  });

  test('then environment keys', () => {
    const h = harness(
      { AWS_ACCESS_KEY_ID: 'AKIAENV', AWS_SECRET_ACCESS_KEY: 'x', AWS_SESSION_TOKEN: 't' },
      () => new Response('', { status: 500 }),
    );
    const auth = createAwsAuth(backend({ type: 'aws', source: 'default' }), h.deps).current();
    expect(auth).toEqual({
      kind: 'aws',
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIAENV', secretAccessKey: 'x', sessionToken: 't' },
    });
  });

  test('nothing found: lists what was looked for and how to fix it', async () => {
    const h = harness({}, () => new Response(''));
    await expect(
      resolve(createAwsAuth(backend({ type: 'aws', source: 'default' }), h.deps).current()),
    ).rejects.toThrow(
      /no AWS credentials found\. Looked for: web identity .*container credentials endpoint .*AWS_ACCESS_KEY_ID/,
    );
  });
});

describe('STS XML', () => {
  test('parses credentials and refuses incomplete ones', () => {
    expect(parseStsCredentials(stsAnswer(7, T0))).toEqual({
      accessKeyId: 'ASIA7',
      secretAccessKey: 'secret-7',
      sessionToken: 'token-7&more',
      expiresAtMs: T0,
    });
    expect(parseStsCredentials('<Credentials><AccessKeyId>A</AccessKeyId></Credentials>')).toBe(
      undefined,
    );
    expect(parseStsCredentials('not xml')).toBe(undefined);
  });

  test('decodes entities, ignores impossible code points', () => {
    expect(xmlElement('<M>a &lt;b&gt; &#65;&#x42; &#x110000;</M>', 'M')).toBe(
      'a <b> AB &#x110000;',
    );
    expect(xmlElement('<MessageX>no</MessageX>', 'Message')).toBe(undefined);
  });
});
