import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { modelBackend } from '../api/v1alpha1/index.js';
import { compileRoutingTable } from '../routing/compile.js';
import { modelRoute } from '../api/v1alpha1/index.js';
import { startSimulatedBackend } from '../simulator/index.js';
import {
  HealthProber,
  judgeProbeAnswer,
  probeRequest,
  urlOnOrigin,
  type ProbeTarget,
} from './prober.js';

function target(
  provider: 'openai' | 'azure-openai' | 'anthropic' | 'openai-compatible',
  endpoint: string,
  extra: Record<string, unknown> = {},
): ProbeTarget {
  const backend = modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name: 'b' },
    spec: {
      provider,
      endpoint,
      model: 'm',
      healthCheck: { unhealthyThreshold: 2, healthyThreshold: 2, timeout: '1s' },
      ...extra,
    },
  });
  const route = modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'r' },
    spec: { model: 'r', rules: [{ name: 'r', backendRefs: [{ name: 'b' }] }] },
  });
  return { backend: compileRoutingTable([route], [backend]).backends[0]!, spec: backend.spec };
}

describe('probeRequest', () => {
  test.each([
    [
      'openai',
      'https://api.example.com/v1',
      {},
      'https://api.example.com/v1/models',
      'authorization',
    ],
    [
      'azure-openai',
      'https://x.openai.azure.com',
      { azure: { deployment: 'd', apiVersion: '2024-10-21' } },
      'https://x.openai.azure.com/openai/models?api-version=2024-10-21',
      'api-key',
    ],
    [
      'anthropic',
      'https://api.anthropic.com',
      {},
      'https://api.anthropic.com/v1/models',
      'x-api-key',
    ],
  ] as const)(
    "%s: GET the model list with the key in the provider's header",
    async (provider, endpoint, extra, url, header) => {
      const req = await probeRequest(target(provider, endpoint, extra), {
        kind: 'api-key',
        key: 'k',
      });
      expect(req.url).toBe(url);
      expect((req.init.headers as Record<string, string>)[header]).toMatch(/k$/);
    },
  );

  test('http probes use the configured path; completion probes send a 1-token chat', async () => {
    expect(
      (
        await probeRequest(
          target('openai-compatible', 'http://h:1/v1', {
            healthCheck: { probe: 'http', path: '/health' },
          }),
          undefined,
        )
      ).url,
    ).toBe('http://h:1/health');
    const completion = await probeRequest(
      target('openai-compatible', 'http://h:1/v1', { healthCheck: { probe: 'completion' } }),
      undefined,
    );
    expect(completion.url).toBe('http://h:1/v1/chat/completions');
    expect(JSON.parse(completion.init.body as string)).toMatchObject({ max_tokens: 1 });
  });
});

const lenientOptions = { now: () => 0, onTransition: () => {}, clientErrorsMeanUp: true };

async function expectUnhealthyAfterTwo(
  prober: HealthProber,
  t: ProbeTarget,
  reason: string,
  message: string,
): Promise<void> {
  await prober.probeOnce(t);
  expect(await prober.probeOnce(t)).toMatchObject({
    to: 'Unhealthy',
    record: { reason, message: expect.stringContaining(message) },
  });
}

describe('HealthProber', () => {
  test('Healthy on the first answer, Unhealthy after the threshold once the backend is gone', async () => {
    const sim = await startSimulatedBackend();
    const t = target('openai', `${sim.url}/v1`);
    const prober = new HealthProber({ now: () => 0, onTransition: () => {} });
    expect(await prober.probeOnce(t)).toMatchObject({ from: 'Unknown', to: 'Healthy' });
    await sim.close();
    expect(await prober.probeOnce(t)).toBeUndefined();
    expect(await prober.probeOnce(t)).toMatchObject({
      from: 'Healthy',
      to: 'Unhealthy',
      record: { message: expect.stringMatching(/probe failed/) },
    });
  });

  test('a 401 to a keyless prober is up only when the backend has a key the prober lacks', async () => {
    const server = createServer((_req, res) => res.writeHead(401).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      const lenient = () =>
        new HealthProber({ now: () => 0, onTransition: () => {}, clientErrorsMeanUp: true });
      const withKey = target('openai-compatible', url, { secretRef: { name: 's' } });
      expect(await lenient().probeOnce(withKey)).toMatchObject({ to: 'Healthy' });
      // No secretRef: the endpoint wants a key nobody will send.
      const keyless = lenient();
      await keyless.probeOnce(target('openai-compatible', url));
      expect(await keyless.probeOnce(target('openai-compatible', url))).toMatchObject({
        to: 'Unhealthy',
        record: { reason: 'CredentialRefused', message: expect.stringContaining('spec.secretRef') },
      });
      // A prober holding the key (local mode) hears the key refused.
      await expectUnhealthyAfterTwo(
        new HealthProber({
          ...lenientOptions,
          authFor: () => ({ kind: 'api-key', key: 'sk-revoked' }),
        }),
        withKey,
        'CredentialRefused',
        'refused the credential',
      );
    } finally {
      server.close();
    }
  });

  test('a 404 is not up: EndpointPathNotFound, naming the path', async () => {
    const server = createServer((_req, res) => res.writeHead(404).end('no such route'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/wrong`;
    try {
      await expectUnhealthyAfterTwo(
        new HealthProber(lenientOptions),
        target('openai-compatible', url, { secretRef: { name: 's' } }),
        'EndpointPathNotFound',
        'HTTP 404 for /wrong/models: endpoint path not found',
      );
    } finally {
      server.close();
    }
  });

  test('a redirect is not followed: the key never reaches the other origin', async () => {
    const elsewhere: string[] = [];
    const other = createServer((req, res) => {
      elsewhere.push(String(req.headers.authorization));
      res.writeHead(200).end('{}');
    });
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    const server = createServer((_req, res) =>
      res.writeHead(302, { location: `${otherUrl}/v1/models` }).end(),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const prober = new HealthProber({
        now: () => 0,
        onTransition: () => {},
        authFor: () => ({ kind: 'api-key', key: 'sk-secret' }),
      });
      const t = target(
        'openai-compatible',
        `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
      );
      await prober.probeOnce(t);
      await prober.probeOnce(t);
      expect(prober.tracker.get('default/b')).toMatchObject({
        state: 'Unhealthy',
        reason: 'EndpointRedirects',
      });
      expect(elsewhere).toEqual([]);
    } finally {
      server.close();
      other.close();
    }
  });
  test('a distrusted success counts as a failure, saying why', async () => {
    const sim = await startSimulatedBackend();
    try {
      const t = target('openai', `${sim.url}/v1`);
      let doubt: { reason: string; message: string } | undefined = {
        reason: 'CallsFailing',
        message: 'proxies saw 9 of 10 calls fail (90%)',
      };
      const prober = new HealthProber({
        now: () => 0,
        onTransition: () => {},
        distrust: () => doubt,
      });
      await prober.probeOnce(t);
      expect(await prober.probeOnce(t)).toMatchObject({
        to: 'Unhealthy',
        record: {
          message: 'probe answered HTTP 200, but proxies saw 9 of 10 calls fail (90%)',
          reason: 'CallsFailing',
        },
      });
      doubt = undefined;
      await prober.probeOnce(t);
      expect(await prober.probeOnce(t)).toMatchObject({ to: 'Healthy' });
    } finally {
      await sim.close();
    }
  });
});

describe('judgeProbeAnswer', () => {
  const ctx = {
    path: '/v1/models',
    sentKey: false,
    hasCredentials: true,
    clientErrorsMeanUp: true,
  };
  test.each([
    [200, true, undefined],
    [204, true, undefined],
    [301, false, 'EndpointRedirects'],
    [401, true, undefined],
    [403, true, undefined],
    [404, false, 'EndpointPathNotFound'],
    [405, true, undefined],
    [429, false, 'RateLimited'],
    [500, false, 'ProbeFailed'],
    [503, false, 'ProbeFailed'],
  ])('HTTP %i to a keyless controller probe: ok=%s reason=%s', (status, ok, reason) => {
    const verdict = judgeProbeAnswer(status, ctx);
    expect(verdict.ok).toBe(ok);
    expect(verdict.reason).toBe(reason);
  });

  test('only 2xx is up for a strict prober; 401/403 with the key sent is CredentialRefused', () => {
    for (let status = 100; status < 600; status++) {
      const strict = judgeProbeAnswer(status, { ...ctx, clientErrorsMeanUp: false, sentKey: true });
      expect(strict.ok).toBe(status >= 200 && status < 300);
      if (status === 401 || status === 403) expect(strict.reason).toBe('CredentialRefused');
    }
  });
});

describe('urlOnOrigin (seeded fuzz)', () => {
  const pieces = [
    '/',
    '//',
    '\\',
    '@',
    'evil.example',
    ':80',
    'http:',
    '?',
    '#',
    '..',
    '%2f',
    'x',
    '%40',
    ' ',
  ];
  test('no probe path or suffix, valid or not, yields a URL off the backend origin', () => {
    let seed = 11;
    const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const bases = [
      'https://api.example.com/v1',
      'http://127.0.0.1:8000',
      'http://svc.ns.svc.cluster.local:80/v1',
    ];
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const n = 1 + Math.floor(rand() * 6);
      let path = '';
      for (let j = 0; j < n; j++) path += pieces[Math.floor(rand() * pieces.length)];
      const base = bases[i % bases.length]!;
      const origin = new URL(base).origin;
      for (const replace of [true, false]) {
        let url: string;
        try {
          url = urlOnOrigin(base, path, replace);
        } catch {
          continue;
        }
        accepted += 1;
        const parsed = new URL(url);
        expect(parsed.origin).toBe(origin);
        expect(parsed.username + parsed.password).toBe('');
      }
    }
    expect(accepted).toBeGreaterThan(1000);
  });

  test('the schema refuses probe paths that name another authority', () => {
    expect(() => urlOnOrigin('https://a.example/v1', '//evil.example:80/x', true)).toThrow(
      /not a single absolute path/,
    );
    expect(urlOnOrigin('https://a.example/v1', '/health?x=1', true)).toBe(
      'https://a.example/health?x=1',
    );
  });
});
