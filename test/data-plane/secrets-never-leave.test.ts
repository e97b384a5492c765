// A provider that echoes the proxy's key in its errors ("Incorrect API key
// provided: sk-…") must not get that key to anyone: for every provider
// dialect, endpoint and key shape, the key appears nowhere in what the client,
// the span exporter and the log received.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { modelBackend, type ModelBackendInput } from '../../src/api/v1alpha1/index.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { compileRoutingTable } from '../../src/routing/compile.js';
import { seededRandom } from '../../src/routing/random.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createTracing } from '../../src/telemetry/tracing.js';
import { KEY_SHAPES, keyForms } from '../support/key-shapes.js';
import { ADMIN_TOKEN, post, route, startDataPlane, type DataPlane } from '../support/data-plane.js';

type Provider = ModelBackendInput['spec']['provider'];

const PROVIDERS: { provider: Provider; spec: Partial<ModelBackendInput['spec']> }[] = [
  { provider: 'openai', spec: {} },
  {
    provider: 'azure-openai',
    spec: { azure: { deployment: 'dep', apiVersion: '2024-10-21' } },
  },
  { provider: 'anthropic', spec: {} },
];

const REQUESTS: {
  name: string;
  path: string;
  body: (model: string) => unknown;
  only?: Provider[];
}[] = [
  {
    name: 'chat',
    path: '/v1/chat/completions',
    body: (model) => ({ model, messages: [{ role: 'user', content: 'hi' }] }),
  },
  {
    name: 'chat stream',
    path: '/v1/chat/completions',
    body: (model) => ({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  },
  {
    name: 'completions',
    path: '/v1/completions',
    body: (model) => ({ model, prompt: 'hi' }),
    only: ['openai', 'azure-openai'],
  },
  {
    name: 'embeddings',
    path: '/v1/embeddings',
    body: (model) => ({ model, input: 'hi' }),
    only: ['openai', 'azure-openai'],
  },
];

function leaks(key: string, where: Record<string, string>): string[] {
  const found: string[] = [];
  for (const [name, text] of Object.entries(where))
    for (const form of keyForms(key)) if (text.includes(form)) found.push(`${name} holds ${form}`);
  return found;
}

describe.each(PROVIDERS)('$provider echoing the key', ({ provider, spec }) => {
  const rng = seededRandom(provider.length);
  const keys = Object.fromEntries(
    Object.entries(KEY_SHAPES).map(([shape, make]) => [shape, make(rng)]),
  );
  const exporter = new InMemorySpanExporter();
  const logLines: string[] = [];
  let dp: DataPlane;

  beforeAll(async () => {
    const shapes = Object.keys(keys);
    dp = await startDataPlane(
      shapes.map((shape) => ({
        name: `b-${shape}`,
        spec: {
          provider,
          ...spec,
          secretRef: { name: `s-${shape}`, key: 'apiKey' },
          capabilities: ['chat', 'streaming', 'completions', 'embeddings'],
        },
        // The key the proxy sends is wrong, and the 401 repeats it.
        simulator: { requireApiKey: 'the-right-key', echoApiKey: true },
      })),
      shapes.map((shape) =>
        route(`m-${shape}`, { rules: [{ name: 'r', backendRefs: [{ name: `b-${shape}` }] }] }),
      ),
      {
        credentials: {
          apiKeyFor: (backend) => keys[backend.name.slice('b-'.length)],
        },
        tracing: createTracing({ serviceName: 'test', exporter }),
        logger: createLogger({ level: 'debug', write: (line) => logLines.push(line) }),
      },
    );
  });
  afterAll(async () => {
    await dp.close();
  });

  const cases = REQUESTS.filter((r) => !r.only || r.only.includes(provider)).flatMap((r) =>
    Object.keys(KEY_SHAPES).map((shape) => ({ ...r, shape })),
  );

  test.each(cases)('$name, $shape key: nowhere in the answer, spans or logs', async (c) => {
    const key = keys[c.shape] as string;
    exporter.reset();
    logLines.length = 0;
    const res = await post(`${dp.proxy.dataUrl}${c.path}`, c.body(`m-${c.shape}`));
    // The upstream did refuse the key, and echoed it: the test is live.
    const sim = dp.sims[`b-${c.shape}`];
    expect(sim?.requests.length).toBeGreaterThan(0);
    // The client's own key was not the problem: never a 401 for it.
    expect(res.status).toBe(502);
    expect(res.json).toMatchObject({
      error: { type: 'upstream_error', code: 'upstream_credential_refused' },
    });
    expect(res.text).toMatch(/\[REDACTED\]/);
    await dp.proxy.runtime.tracing.forceFlush();
    const spans = JSON.stringify(
      exporter.getFinishedSpans().map((s) => ({
        name: s.name,
        status: s.status,
        attributes: s.attributes,
        events: s.events,
      })),
    );
    expect(spans).toMatch(/HTTP 401/); // the span says what happened, without the key
    const headers = [...res.headers.entries()].map(([k, v]) => `${k}: ${v}`).join('\n');
    // What the controller reads (stats become status and Events) and what Prometheus scrapes.
    const admin = (path: string) =>
      fetch(`${dp.proxy.adminUrl}${path}`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      }).then((r) => r.text());
    const [stats, metrics] = await Promise.all([admin('/admin/v1/stats'), admin('/metrics')]);
    expect(
      leaks(key, { body: res.text, headers, spans, logs: logLines.join('\n'), stats, metrics }),
    ).toEqual([]);
  });
});

describe('an error event in the middle of a stream', () => {
  const key = 'sk-proj-midstreamKEYmidstreamKEYmidstream0123';
  let upstream: Server;
  let proxy: RunningProxy;
  let spaced = false;

  beforeAll(async () => {
    // A backend that starts answering, then reports an error naming the key.
    upstream = createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(
        `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { role: 'assistant', content: 'Hel' }, finish_reason: null }] })}\n\n`,
      );
      // Compact JSON, or spaced as some servers write it.
      const error = { error: { message: `Incorrect API key provided: ${key}`, type: 'invalid' } };
      res.end(
        `data: ${JSON.stringify(error, null, spaced ? 1 : undefined).replace(/\n/g, '')}\n\n`,
      );
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const port = (upstream.address() as AddressInfo).port;
    proxy = await startProxy({
      adminToken: { value: ADMIN_TOKEN },
      logger: createLogger({ level: 'error', write: () => {} }),
      credentials: { apiKeyFor: () => key },
    });
    const backend = modelBackend.parse({
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelBackend',
      metadata: { name: 'b', namespace: 'default' },
      spec: {
        provider: 'openai',
        endpoint: `http://127.0.0.1:${port}/v1`,
        model: 'm',
        secretRef: { name: 's', key: 'k' },
      },
    });
    const routes = [route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'b' }] }] })];
    const result = proxy.runtime.store.update(compileRoutingTable(routes, [backend]));
    if (!result.ok) throw new Error(result.error);
  });
  afterAll(async () => {
    await proxy.close();
    await new Promise((resolve) => upstream.close(resolve));
  });

  test.each([false, true])('reaches the client redacted (spaced JSON: %s)', async (form) => {
    spaced = form;
    const res = await post(`${proxy.dataUrl}/v1/chat/completions`, {
      model: 'chat',
      stream: true,
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.text).toContain('Hel');
    expect(res.text).toContain('[REDACTED]');
    expect(leaks(key, { body: res.text })).toEqual([]);
  });
});
