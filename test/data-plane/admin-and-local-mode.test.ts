// The admin port (tables, stats, probes, metrics), table persistence across
// restarts, tracing, and local mode run as a real process.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { startProxy } from '../../src/proxy/proxy.js';
import { compileRoutingTable } from '../../src/routing/compile.js';
import { tableContentVersion } from '../../src/routing/table.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { createTracing } from '../../src/telemetry/tracing.js';
import { REPO_ROOT } from '../support/cluster.js';
import { ADMIN_TOKEN, route, startDataPlane, type DataPlane } from '../support/data-plane.js';

let dp: DataPlane | undefined;
afterEach(async () => {
  await dp?.close();
  dp = undefined;
});

const auth = { authorization: `Bearer ${ADMIN_TOKEN}` };
const chatRoute = () => route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] });

async function putTable(adminUrl: string, body: unknown, headers: Record<string, string> = auth) {
  const res = await fetch(`${adminUrl}/admin/v1/table`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

/** A new proxy process's worth of state: starts from `tableFile` alone, as after a restart. */
async function withRestartedProxy(
  tableFile: string,
  check: (proxy: Awaited<ReturnType<typeof startProxy>>) => Promise<void>,
): Promise<void> {
  const restarted = await startProxy({
    tableFile,
    adminToken: { value: ADMIN_TOKEN },
    logger: createLogger({ level: 'error', write: () => {} }),
  });
  try {
    await check(restarted);
  } finally {
    await restarted.close();
  }
}

describe('admin API', () => {
  test('a table push needs the bearer token; a wrong one is 401 and changes nothing', async () => {
    dp = await startDataPlane([{ name: 'a' }], [chatRoute()]);
    const before = dp.proxy.runtime.store.version;
    const table = compileRoutingTable(
      [route('other', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] })],
      dp.backends,
    );
    for (const headers of [
      {} as Record<string, string>,
      { authorization: 'Bearer wrong' },
      { authorization: ADMIN_TOKEN },
      { authorization: `Basic ${ADMIN_TOKEN}` },
    ]) {
      const res = await putTable(dp.proxy.adminUrl, table, headers);
      expect(res.status).toBe(401);
      expect(res.json).toMatchObject({ error: { code: 'unauthorized' } });
    }
    expect(dp.proxy.runtime.store.version).toBe(before);
    const ok = await putTable(dp.proxy.adminUrl, table);
    // The acknowledgement says which table formats the proxy reads (docs/version-skew.md).
    expect(ok).toEqual({
      status: 200,
      json: { version: table.version, changed: true, tableFormats: [1, 2] },
    });
    expect(await putTable(dp.proxy.adminUrl, table)).toEqual({
      status: 200,
      json: { version: table.version, changed: false, tableFormats: [1, 2] },
    });
  });

  test.each([
    [
      'a wrong format version',
      (t: Record<string, unknown>) => ({ ...t, formatVersion: 99 }),
      /format 99 is not supported/,
    ],
    [
      'an unknown backend reference',
      (t: Record<string, unknown>) => withDanglingRef(t),
      /does not contain/,
    ],
    [
      'a version that does not match the content',
      (t: Record<string, unknown>) => ({ ...t, version: 'sha256:00000000000000000000' }),
      /does not match its content/,
    ],
    ['a missing field', (t: Record<string, unknown>) => ({ ...t, routes: undefined }), /routes/],
    ['not an object', () => [1, 2, 3], /invalid routing table/],
  ])(
    'a table with %s is rejected and the old one keeps serving',
    async (_name, mutate, message) => {
      dp = await startDataPlane([{ name: 'a' }], [chatRoute()]);
      const current = dp.proxy.runtime.store.prepared!.table;
      const res = await putTable(
        dp.proxy.adminUrl,
        mutate(JSON.parse(JSON.stringify(current)) as Record<string, unknown>),
      );
      expect(res.status).toBe(422);
      expect(res.json).toMatchObject({
        error: { code: 'table_rejected', message: expect.stringMatching(message) },
        currentVersion: current.version,
      });
      expect(dp.proxy.runtime.store.version).toBe(current.version);
      await expect(
        dp.client.chat.completions.create({
          model: 'chat',
          messages: [{ role: 'user', content: 'hi' }],
        }),
      ).resolves.toBeDefined();
    },
  );

  test('malformed JSON and oversized pushes get clear 4xx answers', async () => {
    dp = await startDataPlane([{ name: 'a' }], [chatRoute()]);
    const bad = await putTable(dp.proxy.adminUrl, '{"formatVersion": 1,');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { message: expect.stringMatching(/bad request/) } });
    const huge = await putTable(dp.proxy.adminUrl, `"${'x'.repeat(17 * 1024 * 1024)}"`);
    expect(huge.status).toBe(413);
  });

  test('GET table, stats, healthz, readyz and metrics', async () => {
    dp = await startDataPlane([{ name: 'a' }], [chatRoute()]);
    await dp.client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'hi' }],
    });
    const table = (await (
      await fetch(`${dp.proxy.adminUrl}/admin/v1/table`, { headers: auth })
    ).json()) as { version: string };
    expect(table.version).toBe(dp.proxy.runtime.store.version);
    expect((await fetch(`${dp.proxy.adminUrl}/admin/v1/table`)).status).toBe(401);
    const stats = (await (
      await fetch(`${dp.proxy.adminUrl}/admin/v1/stats`, { headers: auth })
    ).json()) as { backends: { backendId: string; successes: number; latencyEwmaMs: number }[] };
    expect(stats.backends).toEqual([
      expect.objectContaining({
        backendId: 'default/a',
        successes: 1,
        latencyEwmaMs: expect.any(Number),
      }),
    ]);
    expect(await (await fetch(`${dp.proxy.adminUrl}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${dp.proxy.adminUrl}/readyz`)).json()).toEqual({
      status: 'ready',
      tableVersion: table.version,
      tableFormats: [1, 2],
    });
    const metrics = await (await fetch(`${dp.proxy.adminUrl}/metrics`)).text();
    expect(metrics).toMatch(/modelroute_requests_total\{[^}]*route="default\/chat"[^}]*\} 1/);
    expect(metrics).toMatch(/modelroute_tokens_total\{[^}]*direction="output"[^}]*\} \d+/);
    expect(metrics).toMatch(
      /modelroute_time_to_first_token_seconds_bucket|modelroute_request_duration_seconds_bucket/,
    );
  });

  test('not ready until a table is loaded; requests meanwhile get a 503 in OpenAI shape', async () => {
    const proxy = await startProxy({
      adminToken: { value: ADMIN_TOKEN },
      logger: createLogger({ level: 'error', write: () => {} }),
    });
    try {
      expect((await fetch(`${proxy.adminUrl}/readyz`)).status).toBe(503);
      const res = await fetch(`${proxy.dataUrl}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }),
      });
      expect(res.status).toBe(503);
      expect(await res.json()).toMatchObject({
        error: { code: 'not_ready', type: 'service_unavailable' },
      });
    } finally {
      await proxy.close();
    }
  });
});

function withDanglingRef(table: Record<string, unknown>): Record<string, unknown> {
  const routes = table.routes as { rules: { backends: { backendId: string }[] }[] }[];
  routes[0]!.rules[0]!.backends[0]!.backendId = 'default/ghost';
  return table;
}

test('a table from a newer controller, with fields this proxy never heard of, is served and survives a restart', async () => {
  const tableFile = join(mkdtempSync(join(tmpdir(), 'modelroute-table-')), 'table.json');
  dp = await startDataPlane([{ name: 'a' }], [], { tableFile });
  const { version: _v, ...content } = compileRoutingTable([chatRoute()], dp.backends);
  const [route0] = content.routes;
  const newer = {
    ...content,
    mirrors: [{ to: 'elsewhere' }],
    routes: [
      { ...route0, shadowTraffic: 0.1, rules: route0!.rules.map((r) => ({ ...r, sla: 'gold' })) },
    ],
    backends: content.backends.map((b) => ({
      ...b,
      region: 'eu',
      pricing: { ...b.pricing, currency: 'EUR' },
    })),
  };
  const sent = { ...newer, version: tableContentVersion(newer) };
  expect(await putTable(dp.proxy.adminUrl, sent)).toMatchObject({
    status: 200,
    json: { version: sent.version, changed: true, tableFormats: [1, 2] },
  });
  const res = await dp.client.chat.completions.create({
    model: 'chat',
    messages: [{ role: 'user', content: 'hi' }],
  });
  expect(res.choices).toHaveLength(1);
  // Persisted as sent: the version hashes the unknown fields too, so it reloads.
  expect(JSON.parse(readFileSync(tableFile, 'utf8'))).toEqual(sent);
  await withRestartedProxy(tableFile, (restarted) => {
    expect(restarted.runtime.store.version).toBe(sent.version);
    return Promise.resolve();
  });
});

test('the last good table survives a restart: a new proxy serves it at once', async () => {
  const tableFile = join(mkdtempSync(join(tmpdir(), 'modelroute-table-')), 'table.json');
  dp = await startDataPlane([{ name: 'a' }], [], { tableFile });
  const table = compileRoutingTable([chatRoute()], dp.backends);
  expect((await putTable(dp.proxy.adminUrl, table)).status).toBe(200);
  expect(JSON.parse(readFileSync(tableFile, 'utf8'))).toMatchObject({ version: table.version });
  // A rejected push does not overwrite the file.
  await putTable(dp.proxy.adminUrl, { ...table, formatVersion: 99 });
  expect(JSON.parse(readFileSync(tableFile, 'utf8'))).toMatchObject({ version: table.version });

  await withRestartedProxy(tableFile, async (restarted) => {
    expect(restarted.runtime.store.version).toBe(table.version);
    const client = new OpenAI({ baseURL: `${restarted.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 });
    const res = await client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'hi' }],
    });
    expect(res.choices).toHaveLength(1);
  });
});

test('traces follow the GenAI semantic conventions', async () => {
  const exporter = new InMemorySpanExporter();
  dp = await startDataPlane([{ name: 'a', simulator: { outputTokens: 4 } }], [chatRoute()], {
    tracing: createTracing({ serviceName: 'test', exporter }),
  });
  await dp.client.chat.completions.create({
    model: 'chat',
    messages: [{ role: 'user', content: 'hi' }],
    max_tokens: 50,
    temperature: 0.2,
  });
  const spans = exporter.getFinishedSpans();
  const client = spans.find((s) => s.name === 'chat a-upstream');
  expect(client?.attributes).toMatchObject({
    'gen_ai.operation.name': 'chat',
    'gen_ai.request.model': 'a-upstream',
    'gen_ai.request.max_tokens': 50,
    'gen_ai.request.temperature': 0.2,
    'gen_ai.usage.output_tokens': 4,
    'modelroute.route': 'default/chat',
    'modelroute.backend': 'default/a',
    'modelroute.attempt': 1,
  });
  const server = spans.find((s) => s.name === 'POST /v1/chat/completions');
  expect(
    client?.parentSpanContext?.spanId ??
      (client as unknown as { parentSpanId?: string }).parentSpanId,
  ).toBe(server?.spanContext().spanId);
});

test('local mode: `modelroute dev --simulate` serves the samples to the openai SDK', async () => {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(REPO_ROOT, 'src/cli/main.ts'),
      'dev',
      '--simulate',
      '--port',
      '0',
      '--log-level',
      'error',
    ],
    {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (code) => reject(new Error(`dev exited ${String(code)}: ${out}`)));
    });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'x', maxRetries: 0 });
    const { data, response } = await client.chat.completions
      .create({
        model: 'chat',
        messages: [
          { role: 'user', content: 'Prove that there are infinitely many primes, step by step.' },
        ],
      })
      .withResponse();
    expect(data.choices[0]?.message.content).toEqual(expect.any(String));
    expect(response.headers.get('x-modelroute-route')).toBe('default/chat');
    expect(response.headers.get('x-modelroute-backend')).toMatch(/^default\/gpt-4o(-mini)?$/);
    expect(Number(response.headers.get('x-modelroute-difficulty'))).toBeGreaterThanOrEqual(0);
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toEqual(
      expect.arrayContaining(['chat', 'summarize', 'support-bot', 'clinical-assistant']),
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
  }
});
