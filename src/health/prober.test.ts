import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { modelBackend } from '../api/v1alpha1/index.js';
import { compileRoutingTable } from '../routing/compile.js';
import { modelRoute } from '../api/v1alpha1/index.js';
import { startSimulatedBackend } from '../simulator/index.js';
import { HealthProber, probeRequest, type ProbeTarget } from './prober.js';

function target(
  provider: 'openai' | 'azure-openai' | 'anthropic',
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
    (provider, endpoint, extra, url, header) => {
      const req = probeRequest(target(provider, endpoint, extra), 'k');
      expect(req.url).toBe(url);
      expect((req.init.headers as Record<string, string>)[header]).toMatch(/k$/);
    },
  );

  test('http probes use the configured path; completion probes send a 1-token chat', () => {
    expect(
      probeRequest(
        target('openai', 'http://h:1/v1', { healthCheck: { probe: 'http', path: '/health' } }),
        undefined,
      ).url,
    ).toBe('http://h:1/health');
    const completion = probeRequest(
      target('openai', 'http://h:1/v1', { healthCheck: { probe: 'completion' } }),
      undefined,
    );
    expect(completion.url).toBe('http://h:1/v1/chat/completions');
    expect(JSON.parse(completion.init.body as string)).toMatchObject({ max_tokens: 1 });
  });
});

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

  test('without credentials, 401 means the endpoint is up when clientErrorsMeanUp is set', async () => {
    const server = createServer((_req, res) => res.writeHead(401).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
    try {
      const strict = new HealthProber({ now: () => 0, onTransition: () => {} });
      const lenient = new HealthProber({
        now: () => 0,
        onTransition: () => {},
        clientErrorsMeanUp: true,
      });
      await strict.probeOnce(target('openai', url));
      await strict.probeOnce(target('openai', url));
      expect(strict.tracker.get('default/b').state).toBe('Unhealthy');
      expect(await lenient.probeOnce(target('openai', url))).toMatchObject({ to: 'Healthy' });
    } finally {
      server.close();
    }
  });

  test('a distrusted success counts as a failure, saying why', async () => {
    const sim = await startSimulatedBackend();
    try {
      const t = target('openai', `${sim.url}/v1`);
      let doubt: string | undefined = 'proxies saw 9 of 10 calls fail (90%)';
      const prober = new HealthProber({
        now: () => 0,
        onTransition: () => {},
        distrust: () => doubt,
      });
      await prober.probeOnce(t);
      expect(await prober.probeOnce(t)).toMatchObject({
        to: 'Unhealthy',
        record: { message: 'probe answered HTTP 200, but proxies saw 9 of 10 calls fail (90%)' },
      });
      doubt = undefined;
      await prober.probeOnce(t);
      expect(await prober.probeOnce(t)).toMatchObject({ to: 'Healthy' });
    } finally {
      await sim.close();
    }
  });
});
