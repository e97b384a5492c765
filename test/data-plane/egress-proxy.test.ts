// Egress through a forward proxy: with HTTPS_PROXY / HTTP_PROXY set, upstream
// connections (and token endpoint calls) tunnel through it with CONNECT,
// kept alive; NO_PROXY exceptions and unset variables connect directly.
import { modelBackend } from '../../src/api/v1alpha1/index.js';
import { HealthProber } from '../../src/health/prober.js';
import { createCredentialResolver } from '../../src/proxy/credentials.js';
import { compileRoutingTable } from '../../src/routing/compile.js';
import { egressFetch } from '../../src/proxy/egress/egress-fetch.js';
import { egressProxiesFromEnv } from '../../src/proxy/egress/proxy-env.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { startConnectProxy, type ConnectProxy } from '../support/connect-proxy.js';
import { route, startDataPlane, type DataPlane, type TestBackend } from '../support/data-plane.js';
import { issue, testCa, type TestCa } from '../support/test-pki.js';

let ca: TestCa;
let serving: { cert: string; key: string };
let forward: ConnectProxy;
let dp: DataPlane | undefined;

beforeAll(async () => {
  ca = await testCa();
  serving = await issue(ca, 'server', { ip: ['127.0.0.1'], dns: ['localhost'] });
});
beforeEach(async () => {
  forward = await startConnectProxy();
});
afterEach(async () => {
  await dp?.close();
  dp = undefined;
  await forward.close();
});

const chat = { model: 'chat', messages: [{ role: 'user' as const, content: 'Say hello.' }] };
const oneRoute = [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'up' }] }] })];

/** An https backend signed by the test CA, its bundle in a Secret (read from the env). */
const https = (): TestBackend => ({
  name: 'up',
  spec: { tls: { caBundle: { secretRef: { name: 'private-ca', key: 'ca.crt' } } } },
  simulator: { tls: serving },
});
const secrets = () =>
  createCredentialResolver({ env: { MODELROUTE_SECRET_PRIVATE_CA_CA_CRT: ca.cert } });

async function twoCalls(plane: DataPlane): Promise<void> {
  for (let i = 0; i < 2; i++) {
    const answer = await plane.client.chat.completions.create(chat);
    expect(answer.choices[0]?.message.content).toEqual(expect.any(String));
  }
}

describe('egress through HTTPS_PROXY', () => {
  test('https upstream calls tunnel through the proxy, one kept-alive tunnel for both', async () => {
    dp = await startDataPlane([https()], oneRoute, {
      env: { HTTPS_PROXY: forward.url },
      credentials: secrets(),
    });
    await twoCalls(dp);
    expect(forward.tunnels).toEqual([`127.0.0.1:${dp.sims.up!.port}`]);
    expect(dp.sims.up!.requests).toHaveLength(2);
  });

  test('lower-case https_proxy wins over HTTPS_PROXY', async () => {
    dp = await startDataPlane([https()], oneRoute, {
      env: { https_proxy: forward.url, HTTPS_PROXY: 'http://127.0.0.1:1' },
      credentials: secrets(),
    });
    await twoCalls(dp);
    expect(forward.tunnels).toHaveLength(1);
  });

  test.each([
    ['the IP', '127.0.0.1'],
    ['a CIDR range', 'example.com, 127.0.0.0/8'],
    ['*', '*'],
  ])('NO_PROXY with %s: direct', async (_what, noProxy) => {
    dp = await startDataPlane([https()], oneRoute, {
      env: { HTTPS_PROXY: forward.url, NO_PROXY: noProxy },
      credentials: secrets(),
    });
    await twoCalls(dp);
    expect(forward.tunnels).toEqual([]);
  });

  test('NO_PROXY naming another port still tunnels', async () => {
    dp = await startDataPlane([https()], oneRoute, {
      env: { HTTPS_PROXY: forward.url, no_proxy: '127.0.0.1:1' },
      credentials: secrets(),
    });
    await twoCalls(dp);
    expect(forward.tunnels).toHaveLength(1);
  });

  test('http upstreams follow HTTP_PROXY (absolute-form, no tunnel), not HTTPS_PROXY', async () => {
    dp = await startDataPlane([{ name: 'up' }], oneRoute, { env: { HTTPS_PROXY: forward.url } });
    await twoCalls(dp);
    expect(forward.tunnels).toEqual([]);
    await dp.close();
    dp = await startDataPlane([{ name: 'up' }], oneRoute, { env: { HTTP_PROXY: forward.url } });
    await twoCalls(dp);
    expect(forward.tunnels).toEqual([]);
    expect(forward.forwarded).toEqual([
      `${dp.sims.up!.url}/v1/chat/completions`,
      `${dp.sims.up!.url}/v1/chat/completions`,
    ]);
    expect(dp.sims.up!.requests).toHaveLength(2);
  });

  test('no proxy variables: direct', async () => {
    dp = await startDataPlane([https()], oneRoute, { env: {}, credentials: secrets() });
    await twoCalls(dp);
    expect(forward.tunnels).toEqual([]);
  });

  test('a proxy variable that is not a URL stops the proxy with a clear error', async () => {
    await expect(
      startDataPlane([{ name: 'up' }], oneRoute, { env: { HTTPS_PROXY: 'http://[bad' } }),
    ).rejects.toThrow(/HTTPS_PROXY is not a URL/);
  });
});

describe('mutual TLS through the tunnel', () => {
  test('the client certificate is presented to the backend, not to the proxy', async () => {
    const client = await issue(ca, 'client');
    dp = await startDataPlane(
      [
        {
          name: 'up',
          spec: {
            tls: {
              caBundle: { secretRef: { name: 'private-ca', key: 'ca.crt' } },
              clientCertificate: { secretRef: { name: 'client-tls' } },
            },
          },
          simulator: { tls: { ...serving, clientCa: ca.cert } },
        },
      ],
      oneRoute,
      {
        env: { HTTPS_PROXY: forward.url },
        credentials: createCredentialResolver({
          env: {
            MODELROUTE_SECRET_PRIVATE_CA_CA_CRT: ca.cert,
            MODELROUTE_SECRET_CLIENT_TLS_TLS_CRT: client.cert,
            MODELROUTE_SECRET_CLIENT_TLS_TLS_KEY: client.key,
          },
        }),
      },
    );
    await twoCalls(dp);
    expect(forward.tunnels).toEqual([`127.0.0.1:${dp.sims.up!.port}`]);
  });
});

describe("token endpoints and the controller's probes go the same way", () => {
  let sim: SimulatedBackend;
  beforeEach(async () => {
    sim = await startSimulatedBackend({});
  });
  afterEach(() => sim.close());

  test('through the proxy, unless NO_PROXY matches', async () => {
    const through = egressFetch(egressProxiesFromEnv({ HTTP_PROXY: forward.url }));
    expect((await through(`${sim.url}/v1/models`)).status).toBe(200);
    expect(forward.forwarded).toEqual([`${sim.url}/v1/models`]);
    const direct = egressFetch(
      egressProxiesFromEnv({ HTTP_PROXY: forward.url, NO_PROXY: 'localhost,127.0.0.1' }),
    );
    expect((await direct(`${sim.url}/v1/models`)).status).toBe(200);
    expect(forward.forwarded).toHaveLength(1);
    expect(egressFetch(egressProxiesFromEnv({}))).toBe(globalThis.fetch);
  });

  test('a prober given the egress fetch probes through the proxy', async () => {
    const prober = new HealthProber({
      now: Date.now,
      onTransition: () => undefined,
      fetch: egressFetch(egressProxiesFromEnv({ HTTP_PROXY: forward.url })),
    });
    const parsed = modelBackend.parse({
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelBackend',
      metadata: { name: 'sim', namespace: 'default' },
      spec: { provider: 'openai-compatible', model: 'm', endpoint: `${sim.url}/v1` },
    });
    const backend = compileRoutingTable(
      [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'sim' }] }] })],
      [parsed],
    ).backends[0]!;
    await prober.probeOnce({ backend, spec: parsed.spec });
    expect(prober.tracker.get(backend.id).consecutiveSuccesses).toBe(1);
    expect(forward.forwarded).toEqual([`${sim.url}/v1/models`]);
  });
});
