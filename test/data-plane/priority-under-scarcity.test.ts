// Priority under scarcity (issue 14), as tenants see it through local mode:
// a strong backend with a small rpm quota and an alternate. As the strong
// one fills, the low-priority tenant moves to the alternate (or, on a route
// with no alternate, is shed with 429 capacity_shed and Retry-After) while
// the high-priority tenant keeps the strong backend up to its quota.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { devModeOptions } from '../../src/cli/dev.js';
import { resolveServerSettings } from '../../src/cli/server-flags.js';
import { apiKeyPrefix, generateApiKey, hashApiKey } from '../../src/identity/api-key.js';
import { startDevMode, type DevMode } from '../../src/proxy/local/dev-mode.js';
import { createLogger } from '../../src/telemetry/logger.js';

const LOW_KEY = generateApiKey(() => Buffer.alloc(32, 21));
const HIGH_KEY = generateApiKey(() => Buffer.alloc(32, 22));
/** The strong backend's quota; low priority may use it up to 0.8 of that (the default ceiling). */
const RPM = 40;
const LOW_CEILING = 0.8;

const key = (name: string, tenant: string, value: string) => `apiVersion: modelroute.io/v1alpha1
kind: ModelAPIKey
metadata: {name: ${name}}
spec: {tenant: ${tenant}, hash: "${hashApiKey(value)}", prefix: ${apiKeyPrefix(value)}}
`;

const MANIFESTS = `apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: {name: strong}
spec:
  provider: openai-compatible
  endpoint: simulate://strong
  model: strong
  limits: {rpm: ${RPM}}
---
apiVersion: modelroute.io/v1alpha1
kind: ModelBackend
metadata: {name: alternate}
spec: {provider: openai-compatible, endpoint: simulate://alternate, model: alternate}
---
apiVersion: modelroute.io/v1alpha1
kind: ModelRoute
metadata: {name: chat}
spec:
  model: chat
  rules:
    - name: strong-first
      strategy: priority
      backendRefs: [{name: strong}, {name: alternate}]
---
apiVersion: modelroute.io/v1alpha1
kind: ModelRoute
metadata: {name: strong-only}
spec:
  model: strong-only
  rules:
    - name: strong
      backendRefs: [{name: strong}]
---
apiVersion: modelroute.io/v1alpha1
kind: ModelTenant
metadata: {name: batch}
spec: {priority: low}
---
apiVersion: modelroute.io/v1alpha1
kind: ModelTenant
metadata: {name: interactive}
spec: {priority: high}
---
${key('batch-key', 'batch', LOW_KEY)}---
${key('interactive-key', 'interactive', HIGH_KEY)}`;

let dev: DevMode | undefined;
afterAll(async () => {
  await dev?.close();
});

async function startLocal(): Promise<DevMode> {
  const dir = mkdtempSync(join(tmpdir(), 'modelroute-scarcity-'));
  writeFileSync(join(dir, 'scarcity.yaml'), MANIFESTS);
  const resolved = resolveServerSettings(
    { port: '0' },
    {},
    { port: '8080', adminPort: '0', adminHost: '127.0.0.1' },
  );
  if (!resolved.ok) throw new Error(resolved.message);
  return startDevMode(
    devModeOptions(
      resolved.settings,
      { config: [dir], simulate: true },
      createLogger({ level: 'error', write: () => {} }),
    ),
  );
}

/** What a caller saw: the backend that served it, or the error. */
interface Outcome {
  status: number;
  backend?: string | null;
  code?: unknown;
  retryAfter?: string | null;
  message?: string;
}

async function askAs(d: DevMode, apiKey: string, model: string): Promise<Outcome> {
  const client = new OpenAI({ baseURL: `${d.proxy.dataUrl}/v1`, apiKey, maxRetries: 0 });
  try {
    const { response } = await client.chat.completions
      .create({ model, messages: [{ role: 'user', content: 'Summarise the quarter.' }] })
      .withResponse();
    return { status: 200, backend: response.headers.get('x-modelroute-backend') };
  } catch (err) {
    if (!(err instanceof APIError)) throw err;
    const e = err as APIError;
    return {
      status: e.status ?? 0,
      code: e.code,
      retryAfter: e.headers?.get('retry-after') ?? null,
      message: e.message,
    };
  }
}

test('priority under scarcity: low moves to the alternate or is shed, high keeps the strong backend', async () => {
  dev = await startLocal();
  const d = dev;
  // Counted from answers, not the simulator: local mode's health probes reach it too.
  const answers: Outcome[] = [];
  const strongServed = () =>
    answers.filter((o) => o.status === 200 && o.backend === 'default/strong').length;
  const ask = async (apiKey: string, model = 'chat') => {
    const outcome = await askAs(d, apiKey, model);
    answers.push(outcome);
    return outcome;
  };

  // Unloaded, both classes get the strong backend.
  expect(await ask(LOW_KEY)).toEqual({ status: 200, backend: 'default/strong' });
  expect(await ask(HIGH_KEY)).toEqual({ status: 200, backend: 'default/strong' });

  // A concurrent burst of low-priority batch traffic, more than the strong
  // backend's quota: it fills strong to the low ceiling exactly, the rest
  // goes to the alternate.
  const lowBatch = await Promise.all(Array.from({ length: RPM }, () => ask(LOW_KEY)));
  expect(lowBatch.every((o) => o.status === 200)).toBe(true);
  expect(lowBatch.filter((o) => o.backend === 'default/alternate')).toHaveLength(
    RPM - (RPM * LOW_CEILING - 2),
  );
  expect(strongServed()).toBe(RPM * LOW_CEILING);
  // Where the strong backend is the only one, low is shed now (kept for higher classes).
  const scarce = await ask(LOW_KEY, 'strong-only');
  expect(scarce).toMatchObject({ status: 429, code: 'capacity_shed', retryAfter: '1' });
  expect(scarce.message).toContain(
    'default/strong (Scarce: load 0.80 reached the low-priority ceiling of 0.8',
  );

  // ...then, under the same load, low goes to the alternate while high keeps strong
  // until the quota itself is reached.
  const rounds = RPM - RPM * LOW_CEILING;
  const mixed = await Promise.all(
    Array.from({ length: rounds }, async () => ({
      low: await ask(LOW_KEY),
      high: await ask(HIGH_KEY),
    })),
  );
  expect(mixed.map((m) => m.low)).toEqual(
    Array.from({ length: rounds }, () => ({ status: 200, backend: 'default/alternate' })),
  );
  expect(mixed.map((m) => m.high)).toEqual(
    Array.from({ length: rounds }, () => ({ status: 200, backend: 'default/strong' })),
  );
  expect(strongServed()).toBe(RPM);

  // A route with no alternate: low is shed with 429 capacity_shed and Retry-After.
  const shed = await ask(LOW_KEY, 'strong-only');
  expect(shed).toMatchObject({ status: 429, code: 'capacity_shed' });
  expect(Number(shed.retryAfter)).toBeGreaterThanOrEqual(1);
  expect(shed.message).toContain('route default/strong-only is at capacity');
  expect(shed.message).toContain('default/strong (AtLimit');

  // The quota holds for high too: over it, high moves to the alternate rather than past the limit.
  expect(await ask(HIGH_KEY)).toEqual({ status: 200, backend: 'default/alternate' });
  expect(strongServed()).toBe(RPM);
}, 30_000); // ~1 s alone; generous for a busy 2-core machine, far inside the 60 s rpm window
