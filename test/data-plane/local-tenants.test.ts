// Local mode follows the same rule as a cluster: the samples trust no
// self-asserted tenant header, and a developer calls as a tenant with
// `modelroute dev --tenant NAME` or with a virtual key whose hash is in the YAML.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { type APIError } from 'openai';
import { devModeOptions } from '../../src/cli/dev.js';
import { resolveServerSettings } from '../../src/cli/server-flags.js';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../../src/identity/api-key.js';
import { startDevMode, type DevMode } from '../../src/proxy/local/dev-mode.js';
import { createLogger } from '../../src/telemetry/logger.js';

const SAMPLES = join(import.meta.dirname, '..', '..', 'manifests', 'samples');
const WHO_OWNS_WHAT = join(
  import.meta.dirname,
  '..',
  '..',
  'manifests',
  'examples',
  'who-owns-what',
);
const PREMIUM_KEY = generateApiKey(() => Buffer.alloc(32, 7));

/** The samples plus a key for acme-premium, as a developer would keep it beside them. */
function keyFile(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'modelroute-keys-')), 'key.yaml');
  writeFileSync(
    path,
    `apiVersion: modelroute.io/v1alpha1
kind: ModelAPIKey
metadata: {name: dev-premium}
spec: {tenant: acme-premium, hash: "${hashApiKey(PREMIUM_KEY)}", prefix: ${apiKeyPrefix(PREMIUM_KEY)}}
`,
  );
  return path;
}

const running: DevMode[] = [];
afterAll(async () => {
  await Promise.all(running.map((d) => d.close()));
});

async function dev(tenant?: string, config?: string[]): Promise<DevMode> {
  const resolved = resolveServerSettings(
    { port: '0' },
    {},
    {
      port: '8080',
      adminPort: '0',
      adminHost: '127.0.0.1',
    },
  );
  if (!resolved.ok) throw new Error(resolved.message);
  const started = await startDevMode(
    devModeOptions(
      resolved.settings,
      { config: config ?? [SAMPLES, keyFile()], simulate: true, tenant },
      createLogger({ level: 'error', write: () => {} }),
    ),
  );
  running.push(started);
  return started;
}

async function ask(d: DevMode, model: string, key = 'sk-anything', headers = {}) {
  const client = new OpenAI({
    baseURL: `${d.proxy.dataUrl}/v1`,
    apiKey: key,
    maxRetries: 0,
    defaultHeaders: headers,
  });
  const { response } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content: 'What is the capital of France?' }] })
    .withResponse();
  return {
    tenant: response.headers.get('x-modelroute-tenant'),
    rule: response.headers.get('x-modelroute-rule'),
    backend: response.headers.get('x-modelroute-backend'),
    ignored: response.headers.get('x-modelroute-ignored-headers'),
  };
}

test('the samples ignore a self-asserted tenant header; a key from the YAML calls as its tenant', async () => {
  const d = await dev();
  expect(await ask(d, 'chat', 'sk-anything', { 'x-modelroute-tenant': 'acme-premium' })).toEqual({
    tenant: 'default',
    rule: 'by-difficulty',
    backend: 'default/gpt-4o-mini',
    ignored: 'x-modelroute-tenant',
  });
  expect(await ask(d, 'chat', PREMIUM_KEY)).toMatchObject({
    tenant: 'acme-premium',
    rule: 'premium-tenants',
    backend: 'default/gpt-4o',
  });
});

test('dev --tenant: requests are that tenant’s, with its compliance and its allowed models', async () => {
  const premium = await dev('acme-premium');
  expect(await ask(premium, 'chat')).toMatchObject({
    tenant: 'acme-premium',
    rule: 'premium-tenants',
  });
  const clinical = await dev('clinical');
  expect(await ask(clinical, 'clinical-assistant')).toMatchObject({
    tenant: 'clinical',
    rule: 'phi',
    backend: 'default/llama-3-70b-clinical',
  });
  await expect(ask(clinical, 'chat')).rejects.toMatchObject({
    status: 403,
    code: 'model_not_allowed',
  } satisfies Partial<APIError>);
});

test('who owns what: an app route reaches the platform backends its grant allows, and its tenants pick the rule', async () => {
  const interactive = await dev('interactive', [WHO_OWNS_WHAT]);
  expect(await ask(interactive, 'assistant')).toMatchObject({
    tenant: 'interactive',
    rule: 'interactive-gets-the-strong-model',
    backend: 'llm-platform/gpt-4o',
  });
  const batch = await dev('batch', [WHO_OWNS_WHAT]);
  const answer = await ask(batch, 'assistant', 'sk-anything', { 'x-modelroute-priority': 'high' });
  expect(answer).toMatchObject({
    tenant: 'batch',
    rule: 'everyone-else-by-difficulty',
    ignored: 'x-modelroute-priority',
  });
  expect(answer.backend).toMatch(/^llm-platform\/gpt-4o(-mini)?$/);
});

test('who owns what: without its grant the app route is refused at start, naming the grant to apply', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'modelroute-no-grant-'));
  const platform = readFileSync(join(WHO_OWNS_WHAT, 'platform.yaml'), 'utf8');
  // Keep the backends, drop both grants.
  writeFileSync(join(dir, 'platform.yaml'), platform.split(/^---$/m).slice(0, 2).join('---'));
  writeFileSync(join(dir, 'team-a.yaml'), readFileSync(join(WHO_OWNS_WHAT, 'team-a.yaml'), 'utf8'));
  await expect(dev('interactive', [dir])).rejects.toThrow(/ModelBackendGrant/);
});
