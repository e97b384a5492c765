// Per-backend TLS: a private CA bundle (Secret or ConfigMap), a client
// certificate for backends that require mutual TLS, a server name; backends
// with different TLS settings never share a connection, and a backend whose
// material is missing or broken fails on its own while others keep serving.
import { APIError } from 'openai';
import { createCredentialResolver } from '../../src/proxy/credentials.js';
import { HealthProber } from '../../src/health/prober.js';
import { startSimulatedBackend } from '../../src/simulator/index.js';
import { route, startDataPlane, type DataPlane, type TestBackend } from '../support/data-plane.js';
import { issue, testCa, type TestCa } from '../support/test-pki.js';

let ca: TestCa;
let otherCa: TestCa;
let serving: { cert: string; key: string };
let client: { cert: string; key: string };
let strangerClient: { cert: string; key: string };
let dp: DataPlane | undefined;

beforeAll(async () => {
  ca = await testCa('private-ca');
  otherCa = await testCa('someone-else');
  serving = await issue(ca, 'server', { ip: ['127.0.0.1'], dns: ['llm.internal'] });
  client = await issue(ca, 'client');
  strangerClient = await issue(otherCa, 'client');
});
afterEach(async () => {
  await dp?.close();
  dp = undefined;
});

const chat = (model = 'chat') => ({
  model,
  messages: [{ role: 'user' as const, content: 'Say hello.' }],
});
const routeTo = (...names: string[]) =>
  route('chat', {
    rules: [
      {
        name: 'all',
        strategy: 'priority',
        backendRefs: names.map((name, priority) => ({ name, priority })),
      },
    ],
  });
const caFromSecret = { caBundle: { secretRef: { name: 'private-ca', key: 'ca.crt' } } };
const resolver = (env: Record<string, string>) =>
  createCredentialResolver({
    env: { MODELROUTE_SECRET_PRIVATE_CA_CA_CRT: ca.cert, ...env },
  });

async function failure(plane: DataPlane): Promise<APIError> {
  const err = await plane.client.chat.completions.create(chat()).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(APIError);
  return err as APIError;
}

describe('a private CA', () => {
  test('reachable only with its caBundle, and the two never share a connection', async () => {
    const sim = await startSimulatedBackend({ tls: serving });
    try {
      dp = await startDataPlane(
        [
          { name: 'trusting', spec: { tls: caFromSecret, endpoint: `${sim.url}/v1` } },
          { name: 'plain', spec: { endpoint: `${sim.url}/v1` } },
        ],
        [
          routeTo('trusting'),
          route('plain', { rules: [{ name: 'all', backendRefs: [{ name: 'plain' }] }] }),
        ],
        { credentials: resolver({}) },
      );
      const ok = await dp.client.chat.completions.create(chat());
      expect(ok.choices[0]?.message.content).toEqual(expect.any(String));
      // The same server without the bundle: refused by TLS, not served over
      // the connection the trusting backend opened.
      const err = await dp.client.chat.completions.create(chat('plain')).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(APIError);
      expect((err as APIError).status).toBeGreaterThanOrEqual(500);
      expect(sim.requests).toHaveLength(1);
    } finally {
      await sim.close();
    }
  });

  test('the bundle from a ConfigMap (mounted or env)', async () => {
    dp = await startDataPlane(
      [
        {
          name: 'cm',
          spec: { tls: { caBundle: { configMapRef: { name: 'corp-roots', key: 'bundle.pem' } } } },
          simulator: { tls: serving },
        },
      ],
      [routeTo('cm')],
      // Another CA first: a bundle of several certificates.
      { env: { MODELROUTE_CONFIGMAP_CORP_ROOTS_BUNDLE_PEM: otherCa.cert + ca.cert } },
    );
    const ok = await dp.client.chat.completions.create(chat());
    expect(ok.choices[0]?.message.content).toEqual(expect.any(String));
  });

  test('serverName: the certificate names a host other than the endpoint', async () => {
    const named = await issue(ca, 'server', { dns: ['llm.internal'] });
    dp = await startDataPlane(
      [
        {
          name: 'named',
          spec: { tls: { ...caFromSecret, serverName: 'llm.internal' } },
          simulator: { tls: named },
        },
        { name: 'unnamed', spec: { tls: caFromSecret }, simulator: { tls: named } },
      ],
      [
        routeTo('named'),
        route('other', { rules: [{ name: 'all', backendRefs: [{ name: 'unnamed' }] }] }),
      ],
      { credentials: resolver({}) },
    );
    const ok = await dp.client.chat.completions.create(chat());
    expect(ok.choices[0]?.message.content).toEqual(expect.any(String));
    const err = await dp.client.chat.completions.create(chat('other')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
  });

  test('a missing or unparsable bundle fails that backend only, saying which and why', async () => {
    dp = await startDataPlane(
      [
        {
          name: 'broken',
          spec: { tls: { caBundle: { secretRef: { name: 'junk-ca', key: 'ca.crt' } } } },
          simulator: { tls: serving },
        },
        { name: 'fine' },
      ],
      [routeTo('broken', 'fine')],
      { credentials: resolver({ MODELROUTE_SECRET_JUNK_CA_CA_CRT: 'not a certificate' }) },
    );
    const { response } = await dp.client.chat.completions.create(chat()).withResponse();
    expect(response.headers.get('x-modelroute-backend')).toBe('default/fine');
    expect(dp.sims.broken!.requests).toHaveLength(0);

    await dp.close();
    dp = await startDataPlane(
      [
        {
          name: 'broken',
          spec: { tls: { caBundle: { secretRef: { name: 'junk-ca', key: 'ca.crt' } } } },
          simulator: { tls: serving },
        },
      ],
      [routeTo('broken')],
      { credentials: resolver({ MODELROUTE_SECRET_JUNK_CA_CA_CRT: 'not a certificate' }) },
    );
    const junk = await failure(dp);
    expect(junk.message).toMatch(
      /default\/broken: spec\.tls\.caBundle \(Secret "junk-ca" key "ca\.crt"\) holds no PEM certificate/,
    );
    expect(junk.code).toBe('upstream_tls_unusable');

    await dp.close();
    dp = await startDataPlane(
      [
        {
          name: 'broken',
          spec: { tls: { caBundle: { secretRef: { name: 'absent-ca', key: 'ca.crt' } } } },
          simulator: { tls: serving },
        },
      ],
      [routeTo('broken')],
      { credentials: resolver({}) },
    );
    expect((await failure(dp)).message).toMatch(
      /spec\.tls\.caBundle cannot be read: .*Secret "absent-ca" key "ca\.crt"/,
    );
  });
});

describe('mutual TLS', () => {
  const mtls = (name: string, tls: Record<string, unknown>): TestBackend => ({
    name,
    spec: { tls: { ...caFromSecret, ...tls } },
    simulator: { tls: { ...serving, clientCa: ca.cert } },
  });
  const clientSecrets = (pair: { cert: string; key: string }, name = 'client-tls') => ({
    [`MODELROUTE_SECRET_${name.toUpperCase().replace(/-/g, '_')}_TLS_CRT`]: pair.cert,
    [`MODELROUTE_SECRET_${name.toUpperCase().replace(/-/g, '_')}_TLS_KEY`]: pair.key,
  });

  test('the server accepts the proxy only with the client certificate', async () => {
    dp = await startDataPlane(
      [
        mtls('with', { clientCertificate: { secretRef: { name: 'client-tls' } } }),
        mtls('without', {}),
      ],
      [
        routeTo('with'),
        route('bare', { rules: [{ name: 'all', backendRefs: [{ name: 'without' }] }] }),
      ],
      { credentials: resolver(clientSecrets(client)) },
    );
    const ok = await dp.client.chat.completions.create(chat());
    expect(ok.choices[0]?.message.content).toEqual(expect.any(String));
    expect(dp.sims.with!.requests).toHaveLength(1);
    const err = await dp.client.chat.completions.create(chat('bare')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect(dp.sims.without!.requests).toHaveLength(0);
  });

  test("a certificate the server does not trust is refused; a key that is not the certificate's is caught first", async () => {
    dp = await startDataPlane(
      [mtls('stranger', { clientCertificate: { secretRef: { name: 'client-tls' } } })],
      [routeTo('stranger')],
      { credentials: resolver(clientSecrets(strangerClient)) },
    );
    await failure(dp);
    expect(dp.sims.stranger!.requests).toHaveLength(0);

    await dp.close();
    dp = await startDataPlane(
      [mtls('mismatched', { clientCertificate: { secretRef: { name: 'client-tls' } } })],
      [routeTo('mismatched')],
      { credentials: resolver(clientSecrets({ cert: client.cert, key: strangerClient.key })) },
    );
    const err = await failure(dp);
    expect(err.message).toMatch(
      /spec\.tls\.clientCertificate \(Secret "client-tls"\): tls\.key is not the key of the certificate in tls\.crt/,
    );
    expect(err.message).not.toContain('PRIVATE KEY');
  });
});

describe('health probes in local mode', () => {
  test('go over the proxy’s pools, so the CA bundle and client certificate apply', async () => {
    dp = await startDataPlane(
      [
        {
          name: 'private',
          spec: {
            tls: { ...caFromSecret, clientCertificate: { secretRef: { name: 'client-tls' } } },
            headers: { 'OpenAI-Project': 'proj_1' },
          },
          simulator: { tls: { ...serving, clientCa: ca.cert } },
        },
      ],
      [routeTo('private')],
      {
        credentials: resolver({
          MODELROUTE_SECRET_CLIENT_TLS_TLS_CRT: client.cert,
          MODELROUTE_SECRET_CLIENT_TLS_TLS_KEY: client.key,
        }),
      },
    );
    const runtime = dp.proxy.runtime;
    const backend = runtime.store.prepared!.table.backends[0]!;
    const target = { backend, spec: dp.backends[0]!.spec };
    const pooled = new HealthProber({
      now: Date.now,
      onTransition: () => undefined,
      dispatcherFor: (b, origin) => runtime.pools.forBackend(b, origin, b.timeouts.connectMs),
    });
    await pooled.probeOnce(target);
    expect(pooled.tracker.get(backend.id).consecutiveSuccesses).toBe(1);
    expect(dp.sims.private!.requests[0]?.headers['openai-project']).toBe('proj_1');

    const plain = new HealthProber({ now: Date.now, onTransition: () => undefined });
    await plain.probeOnce(target);
    expect(plain.tracker.get(backend.id).consecutiveFailures).toBe(1);
    expect(plain.tracker.get(backend.id).message).toMatch(/probe failed/);
  });

  test('the controller (no TLS material): a handshake refused for lack of spec.tls counts as up, not a closed port', async () => {
    dp = await startDataPlane(
      [
        { name: 'private-ca', spec: { tls: caFromSecret }, simulator: { tls: serving } },
        {
          name: 'mtls',
          spec: { tls: { ...caFromSecret, clientCertificate: { secretRef: { name: 'c' } } } },
          simulator: { tls: { ...serving, clientCa: ca.cert } },
        },
        { name: 'plain', spec: { tls: { serverName: 'x' } } },
      ],
      [routeTo('private-ca', 'mtls', 'plain')],
      { credentials: resolver({}) },
    );
    const controller = new HealthProber({
      now: Date.now,
      onTransition: () => undefined,
      clientErrorsMeanUp: true,
    });
    const table = dp.proxy.runtime.store.prepared!.table;
    const targetOf = (name: string) => ({
      backend: table.backends.find((b) => b.name === name)!,
      spec: dp!.backends.find((b) => b.metadata.name === name)!.spec,
    });
    for (const name of ['private-ca', 'mtls']) {
      await controller.probeOnce(targetOf(name));
      const record = controller.tracker.get(`default/${name}`);
      expect(record.consecutiveSuccesses).toBe(1);
      expect(record.message).toMatch(/wants TLS settings \(spec\.tls\) only the proxies hold/);
    }
    // A closed port is down, spec.tls or not.
    const plain = targetOf('plain');
    await dp.sims.plain!.close();
    await controller.probeOnce(plain);
    expect(controller.tracker.get('default/plain').consecutiveFailures).toBe(1);
  });
});
