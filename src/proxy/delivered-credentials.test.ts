// A real proxy fetching a platform backend's key from a real HTTPS credential
// endpoint (fake TokenReview and cluster reads), sending it to a simulated
// backend that checks it: no key on disk, a clear 503 while the key is on its
// way, rotation seen on refresh, and a controller it cannot verify never asked.
// The same channel gives a sidecar with no admin-token Secret its own admin
// token at start, which the controller's first push then carries.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { eventually } from '../../test/support/eventually.js';
import {
  createCredentialServer,
  POD_NAME_EXTRA,
  POD_UID_EXTRA,
  type SecretRead,
} from '../controller/credential-server.js';
import { compileRoutingTable } from '../routing/compile.js';
import { backend, route } from '../routing/__fixtures__/objects.js';
import { startSimulatedBackend, type SimulatedBackend } from '../simulator/index.js';
import { createLogger } from '../telemetry/logger.js';
import { startAdmissionServer, type RunningAdmissionServer } from '../webhook/admission-server.js';
import { issueCertificates, type WebhookCertificates } from '../webhook/cert-authority.js';
import { podAdminToken } from './admin/admin-token.js';
import { CREDENTIALS_PATH } from './credential-protocol.js';
import { startProxy, type RunningProxy } from './proxy.js';

const quiet = () => createLogger({ level: 'error', write: () => {} });
const PROXY_TOKEN = 'projected-token-of-proxy-a';
const FLEET = 'fleet-admin-token-of-the-controller-0123';
const POD_UID = '6f1c2d3e-0000-4000-8000-00000000000a';

let sim: SimulatedBackend;
let certs: WebhookCertificates;
let controller: RunningAdmissionServer;
let secret: SecretRead;
/** Resolved when a Secret read may answer (holds the first delivery back). */
let secretGate: Promise<void> = Promise.resolve();
let secretReads = 0;
const started: RunningProxy[] = [];
let tokenFile: string;

const issue = () =>
  issueCertificates(
    { action: 'issue-all', reason: 'test' },
    undefined,
    { dnsNames: [], ipAddresses: ['127.0.0.1'] },
    Date.now(),
  );

beforeAll(async () => {
  sim = await startSimulatedBackend({ models: ['gpt-upstream'], requireApiKey: 'sk-first' });
  secret = { ok: true, values: new Map([['openai', 'sk-first']]) };
  certs = await issue();
  const serve = createCredentialServer({
    reviewer: {
      review: (token) =>
        Promise.resolve(
          token === PROXY_TOKEN
            ? {
                authenticated: true,
                username: 'system:serviceaccount:app-a:default',
                extra: { [POD_NAME_EXTRA]: ['proxy-a'], [POD_UID_EXTRA]: [POD_UID] },
                audiences: ['modelroute-controller'],
              }
            : { authenticated: false },
        ),
    },
    getPod: (namespace, name) =>
      Promise.resolve({
        namespace,
        name,
        uid: POD_UID,
        labels: { 'modelroute.io/proxy': 'true' },
        // What the injector sets when the credential channel is on.
        annotations: { 'modelroute.io/admin-token': 'delivered' },
      }),
    readSecret: async () => {
      await secretGate;
      secretReads += 1;
      return secret;
    },
    tableBackends: () => Promise.resolve(table().backends),
    credentialNamespaces: new Set(['platform']),
    adminToken: FLEET,
    logger: quiet(),
    now: Date.now,
    secretCacheMs: 0,
    refreshAfterSeconds: 1,
  });
  controller = await startAdmissionServer({
    host: '127.0.0.1',
    port: 0,
    logger: quiet(),
    handlers: {},
    routes: {
      [CREDENTIALS_PATH]: ({ headers, body }) =>
        serve({ authorization: headers.authorization, body }),
    },
  });
  controller.setCertificate(certs);
  tokenFile = join(mkdtempSync(join(tmpdir(), 'modelroute-token-')), 'token');
  writeFileSync(tokenFile, PROXY_TOKEN);
}, 30_000);

afterAll(async () => {
  await Promise.all(started.map((p) => p.close()));
  await controller.close();
  await sim.close();
});

/** The table the controller would push to a proxy in app-a: a granted platform backend. */
function table() {
  const platformBackend = backend(
    'gpt',
    {
      endpoint: `${sim.url}/v1`,
      model: 'gpt-upstream',
      secretRef: { name: 'keys', key: 'openai' },
    },
    'platform',
  );
  const chat = route(
    'chat',
    {
      model: 'chat',
      rules: [{ name: 'main', strategy: 'priority', backendRefs: [{ name: 'gpt' }] }],
    },
    { namespace: 'platform' },
  );
  return compileRoutingTable([chat], [platformBackend]);
}

async function proxyWith(ca: string): Promise<{ proxy: RunningProxy; client: OpenAI }> {
  // One proxy at a time, so the Secret reads counted are this proxy's.
  for (const earlier of started.splice(0)) await earlier.close();
  const proxy = await startProxy({
    logger: quiet(),
    adminToken: { value: 'delivered-credentials-test-token' },
    credentialDelivery: {
      url: `${controller.url}${CREDENTIALS_PATH}`,
      ca,
      tokenFile,
      namespace: 'app-a',
    },
  });
  started.push(proxy);
  const client = new OpenAI({ baseURL: `${proxy.dataUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  return { proxy, client };
}

const ask = (client: OpenAI) =>
  client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });

test('a request before the key arrives gets a 503 naming the backend; then the delivered key is used', async () => {
  let open!: () => void;
  secretGate = new Promise((resolve) => (open = resolve));
  const { proxy, client } = await proxyWith(certs.trustBundle);
  // The push is acknowledged at once: the fetch runs in the background.
  expect(proxy.runtime.store.update(table())).toMatchObject({ ok: true });
  const early = await ask(client).catch((err: unknown) => err);
  expect(early).toBeInstanceOf(OpenAI.APIError);
  expect((early as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
  expect((early as Error).message).toContain('platform/gpt');
  expect((early as Error).message).toContain('being fetched from the modelroute controller');
  open();
  await eventually(async () => {
    const answer = await ask(client);
    expect(answer.choices[0]?.message.content).toBeTruthy();
  });
}, 30_000);

test('a rotated Secret is used after the refresh the controller asked for', async () => {
  secretGate = Promise.resolve();
  const { proxy, client } = await proxyWith(certs.trustBundle);
  proxy.runtime.store.update(table());
  await eventually(async () => expect((await ask(client)).choices).toHaveLength(1));
  secret = { ok: true, values: new Map([['openai', 'sk-rotated']]) };
  // refreshAfterSeconds is 1. Fetches are sequential: a second read after the
  // rotation means the answer of the first (the new key) is already held.
  const readsAtRotation = secretReads;
  await eventually(() => expect(secretReads).toBeGreaterThanOrEqual(readsAtRotation + 2), 15_000);
  sim.setBehavior({ requireApiKey: 'sk-rotated' });
  expect((await ask(client)).choices).toHaveLength(1);
}, 30_000);

test('a controller whose certificate the CA file does not verify is never sent the token', async () => {
  const otherCa = (await issue()).trustBundle;
  const { proxy, client } = await proxyWith(otherCa);
  proxy.runtime.store.update(table());
  await eventually(async () => {
    const err = await ask(client).catch((e: unknown) => e);
    expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
    expect((err as Error).message).toContain('cannot reach the controller');
  });
  expect((await ask(client).catch((e: unknown) => e)) as Error).not.toHaveProperty(
    'message',
    expect.stringContaining(PROXY_TOKEN),
  );
}, 30_000);

test('a sidecar without an admin-token Secret fetches its own token at start and takes a push with it', async () => {
  for (const earlier of started.splice(0)) await earlier.close();
  const logs: string[] = [];
  const proxy = await startProxy({
    logger: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    // No adminToken: what the injector gives a pod when the credential channel is on.
    credentialDelivery: {
      url: `${controller.url}${CREDENTIALS_PATH}`,
      ca: certs.trustBundle,
      tokenFile,
      namespace: 'app-a',
    },
  });
  started.push(proxy);
  const own = podAdminToken(FLEET, 'app-a', 'proxy-a', POD_UID);
  const push = (token: string) =>
    fetch(`${proxy.adminUrl}/admin/v1/table`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(table()),
    });
  // No table yet and nothing to fetch keys for: the token still arrives, unasked.
  await eventually(async () => expect((await push(own)).status).toBe(200));
  expect(proxy.runtime.store.version).toBe(table().version);
  for (const other of [
    podAdminToken(FLEET, 'app-a', 'proxy-b', POD_UID),
    podAdminToken(FLEET, 'app-a', 'proxy-a', 'uid-of-an-earlier-pod'),
    FLEET,
  ])
    expect((await push(other)).status).toBe(401);
  const text = logs.join('\n');
  expect(text).toContain('"adminAccessDelivered":true');
  expect(text).not.toContain(own);
  expect(text).not.toContain('no admin token configured');
}, 30_000);
