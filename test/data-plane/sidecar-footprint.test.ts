// What a running `modelroute proxy` loads: the heavy packages (OpenTelemetry's
// SDK, the Redis client, the tokenizer, the Kubernetes client) only when its
// flags or its table call for them, so an idle sidecar stays small.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import OpenAI from 'openai';
import { modelBackend } from '../../src/api/v1alpha1/index.js';
import { compileRoutingTable } from '../../src/routing/compile.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { REPO_ROOT } from '../support/cluster.js';
import { ADMIN_TOKEN, route } from '../support/data-plane.js';

const PRELOAD = join(REPO_ROOT, 'test/support/report-loaded-packages.js');
const HEAVY = [
  '@kubernetes/client-node',
  '@opentelemetry/exporter-trace-otlp-http',
  '@opentelemetry/sdk-node',
  '@opentelemetry/sdk-trace-base',
  'gpt-tokenizer',
  'ioredis',
];

let sim: SimulatedBackend;
beforeAll(async () => {
  sim = await startSimulatedBackend({ models: ['small-upstream'] });
});
afterAll(() => sim.close());

function table(rule: Record<string, unknown>) {
  const backend = modelBackend.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelBackend',
    metadata: { name: 'small', namespace: 'default' },
    spec: {
      provider: 'openai-compatible',
      model: 'small-upstream',
      endpoint: `${sim.url}/v1`,
      contextWindow: 128_000,
      pricing: { inputPerMillion: 0.15, outputPerMillion: 0.6 },
    },
  });
  const chat = route('chat', {
    rules: [{ name: 'to-small', backendRefs: [{ name: 'small' }], ...rule }],
    // A budget and a context window: both are checked on every request.
    budget: { maxCostPerRequest: 0.25 },
  });
  return compileRoutingTable([chat], [backend]);
}

/**
 * Runs `modelroute proxy` with `args`, installs `rules`' table, sends one chat
 * request through it with the openai client, stops it, and returns the packages it loaded.
 */
async function packagesLoaded(
  args: string[],
  rule: Record<string, unknown>,
  env: NodeJS.ProcessEnv = {},
): Promise<string[]> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--import',
      PRELOAD,
      join(REPO_ROOT, 'src/cli/main.ts'),
      'proxy',
      '--host=127.0.0.1',
      '--port=0',
      '--admin-host=127.0.0.1',
      '--admin-port=0',
      ...args,
    ],
    {
      cwd: REPO_ROOT,
      env: { ...process.env, MODELROUTE_ADMIN_TOKEN: ADMIN_TOKEN, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const output: string[] = [];
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const started = new Promise<{ data: string; admin: string }>((resolve, reject) => {
    for (const stream of [child.stdout, child.stderr])
      createInterface({ input: stream }).on('line', (line) => {
        output.push(line);
        if (line.includes('"proxy started"')) resolve(JSON.parse(line) as never);
      });
    void exited.then(() => reject(new Error(`proxy exited:\n${output.join('\n')}`)));
  });
  try {
    const { data, admin } = await started;
    const push = await fetch(`${admin}/admin/v1/table`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(table(rule)),
    });
    expect(push.status).toBe(200);
    const client = new OpenAI({ baseURL: `${data}/v1`, apiKey: 'unused', maxRetries: 0 });
    const answer = await client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'Say hello in five words.' }],
    });
    expect(answer.choices[0]?.message.content).toEqual(expect.any(String));
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
  const report = output.find((l) => l.startsWith('loaded-packages '));
  if (!report) throw new Error(`no loaded-packages line:\n${output.join('\n')}`);
  return JSON.parse(report.slice('loaded-packages '.length)) as string[];
}

test('a sidecar without tracing, quota store or token rules loads none of the heavy packages', async () => {
  const loaded = await packagesLoaded([], {});
  // The report sees packages of both module systems (undici is CommonJS, zod is ESM).
  expect(loaded).toEqual(expect.arrayContaining(['undici', 'zod']));
  expect(HEAVY.filter((p) => loaded.includes(p))).toEqual([]);
  // The admin port is plain node:http (express and its helpers held 5 MB of RSS); the
  // semantic conventions' thousands of constants (0.7 MB of heap) load only with tracing,
  // re2js (0.6 MB) only with a header regular expression.
  const alsoAbsent = [
    'express',
    'body-parser',
    'router',
    '@opentelemetry/semantic-conventions',
    're2js',
  ];
  expect(alsoAbsent.filter((p) => loaded.includes(p))).toEqual([]);
});

test('--otlp-endpoint loads the OpenTelemetry Node SDK; a promptTokens rule loads the tokenizer', async () => {
  const loaded = await packagesLoaded(['--otlp-endpoint=http://127.0.0.1:9/'], {
    matches: [{ promptTokens: { max: 100_000 } }],
  });
  expect(HEAVY.filter((p) => loaded.includes(p))).toEqual([
    '@opentelemetry/exporter-trace-otlp-http',
    '@opentelemetry/sdk-node',
    'gpt-tokenizer',
  ]);
});

test('the standard OTEL_* variables load the Node SDK; OTEL_SDK_DISABLED=true keeps it out', async () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9/' };
  // Whatever the test runner's environment holds, only what each case sets counts.
  const clean = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => k.startsWith('OTEL_'))
      .map((k) => [k, undefined]),
  );
  expect(await packagesLoaded([], {}, { ...clean, ...endpoint })).toContain(
    '@opentelemetry/sdk-node',
  );
  const disabled = await packagesLoaded(
    [],
    {},
    {
      ...clean,
      ...endpoint,
      OTEL_SDK_DISABLED: 'true',
    },
  );
  expect(
    disabled.filter((p) => p.startsWith('@opentelemetry/') && p !== '@opentelemetry/api'),
  ).toEqual([]);
});
