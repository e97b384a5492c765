// A mounted API key goes only to the origins the pod was admitted with: a
// table pushed with the (fleet-wide) admin token that points a backend at
// another URL gets no key sent, a clear refusal, a log line and a counter.
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { modelBackend } from '../../src/api/v1alpha1/index.js';
import { parseCredentialBinding } from '../../src/proxy/credentials.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { compileRoutingTable } from '../../src/routing/compile.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { ADMIN_TOKEN, route } from '../support/data-plane.js';

const KEY = 'sk-bound-key-0123456789';
let proxy: RunningProxy | undefined;
const sims: SimulatedBackend[] = [];

afterEach(async () => {
  await proxy?.close();
  await Promise.all(sims.splice(0).map((s) => s.close()));
});

const backendAt = (url: string) =>
  modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name: 'gpt', namespace: 'default' },
    spec: {
      provider: 'openai-compatible',
      endpoint: `${url}/v1`,
      model: 'gpt-upstream',
      secretRef: { name: 'openai', key: 'apiKey' },
    },
  });

test('a pushed table naming another origin for a bound key: no key sent, a refusal, a log line, a counter', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mr-creds-'));
  mkdirSync(join(dir, 'openai'));
  writeFileSync(join(dir, 'openai', 'apiKey'), KEY);
  const real = await startSimulatedBackend({ models: ['gpt-upstream'], requireApiKey: KEY });
  const other = await startSimulatedBackend({ models: ['gpt-upstream'] });
  sims.push(real, other);
  const logs: string[] = [];
  proxy = await startProxy({
    adminToken: { value: ADMIN_TOKEN },
    credentialsDir: dir,
    credentialBinding: parseCredentialBinding(
      JSON.stringify({ 'openai/apiKey': [new URL(real.url).origin] }),
    ),
    logger: createLogger({ level: 'warn', write: (line) => logs.push(line) }),
  });
  const chat = route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'gpt' }] }] });
  const push = (url: string) =>
    fetch(`${proxy!.adminUrl}/admin/v1/table`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(compileRoutingTable([chat], [backendAt(url)])),
    });
  const client = new OpenAI({ baseURL: `${proxy.dataUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
  const ask = () =>
    client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });

  expect((await push(real.url)).status).toBe(200);
  await expect(ask()).resolves.toMatchObject({ object: 'chat.completion' });
  expect(real.requests.at(-1)?.headers.authorization).toBe(`Bearer ${KEY}`);

  // Whoever holds the admin token points the backend elsewhere.
  expect((await push(other.url)).status).toBe(200);
  await expect(ask()).rejects.toMatchObject({ status: expect.any(Number) });
  expect(other.requests).toHaveLength(0);
  expect(logs.join('\n')).toContain(
    'API key not sent: the table names an origin the key is not bound to',
  );
  expect(logs.join('\n')).not.toContain(KEY);
  const metrics = await (await fetch(`${proxy.adminUrl}/metrics`)).text();
  expect(metrics).toMatch(/^modelroute_proxy_credential_refusals_total\{secret="openai"\} [1-9]/m);
  expect(metrics).not.toContain(KEY);
});
