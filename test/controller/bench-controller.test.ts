// `modelroute bench controller` against the test API server, at tiny sizes:
// one JSON object on stdout with the documented fields, progress on stderr,
// and its namespaces gone afterwards. Figures are checked for sanity, never
// against timing goals (a benchmark measures; it does not pass or fail).
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { z } from 'zod';
import { REPO_ROOT, kubectl, testenv } from '../support/cluster.js';

/** The bench starts a controller twice, creates objects and waits for status: minutes on a busy 2-core machine. */
const RUN_TIMEOUT_MS = 240_000;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'src/cli/main.ts'), ...args],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const positive = z.number().positive();
const distribution = z.object({
  count: z.number().int(),
  p50_ms: positive,
  p95_ms: positive,
  max_ms: positive,
});
const result = z.object({
  benchmark: z.literal('controller'),
  machine: z.object({ cpus: z.number().int().positive(), node: z.string() }),
  apply_to_programmed: distribution.extend({
    proxies: z.literal(3),
    changes: z.literal(3),
    status_programmed: distribution,
    controller_rss_mb: z.object({ peak_mb: positive, last_mb: positive }),
  }),
  scale: z.object({
    routes: z.literal(20),
    backends: z.literal(5),
    proxies: z.literal(3),
    create: z.object({ objects: z.literal(28), seconds: positive }),
    full_sync_s: positive,
    timed_out: z.literal(false),
    leading_s: positive,
    routes_programmed: z.literal(20),
    table_pushes: z.number().int().min(3),
    controller_rss_mb: positive,
    change_at_scale: z.object({
      changes: z.number().int().positive(),
      proxies_acked: distribution,
    }),
  }),
  goals: z
    .array(z.object({ goal: z.string(), target: z.string(), met: z.boolean().nullable() }))
    .length(3),
});

test(
  'measures apply-to-programmed latency and a small scale run, and cleans up after itself',
  async () => {
    const run = await runCli([
      'bench',
      'controller',
      '--json',
      '--kubeconfig',
      testenv.kubeconfig,
      '--proxies',
      '3',
      '--changes',
      '3',
      '--routes',
      '20',
      '--backends',
      '5',
      '--ack-proxies',
      '3',
    ]);
    expect({ code: run.code, stderr: run.code === 0 ? '' : run.stderr }).toEqual({
      code: 0,
      stderr: '',
    });
    const parsed = result.parse(JSON.parse(run.stdout));
    expect(parsed.apply_to_programmed.count).toBe(3);
    expect(parsed.scale.full_sync_s).toBeGreaterThanOrEqual(parsed.scale.leading_s);
    expect(run.stderr).toContain('bench: scale: full sync in');

    const namespaces = kubectl(['get', 'namespaces', '-o', 'name']);
    expect(namespaces.code).toBe(0);
    expect(namespaces.stdout).not.toMatch(/bench-(latency|scale)-/);
  },
  RUN_TIMEOUT_MS,
);

test('says how to start an API server when none is reachable', async () => {
  const run = await runCli([
    'bench',
    'controller',
    '--json',
    '--kubeconfig',
    join(REPO_ROOT, 'no-such-dir', 'kubeconfig'),
  ]);
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toContain('npm run testenv -- up');
}, 60_000);

test('rejects bad flags before touching the cluster', async () => {
  const run = await runCli(['bench', 'controller', '--proxies', '0']);
  expect(run.code).toBe(2);
  expect(run.stderr).toContain('--proxies must be an integer from 1');
}, 60_000);
