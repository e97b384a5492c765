// `modelroute keys create|list|revoke` as a user runs it (the CLI as a child
// process) against the real API server: the key printed once and stored
// only as its hash, the refusals, list states, revoke, and what kubectl shows.
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_VERSION } from '../../src/api/v1alpha1/index.js';
import {
  createNamespace,
  installCRDs,
  mustKubectl,
  parseTable,
  testenv,
} from '../support/cluster.js';
import { runTsx, type QuickRun } from '../support/quick-benchmarks.js';

/** Each CLI run starts Node with tsx (seconds on a busy 2-core machine); a test makes a few. */
const TIMEOUT_MS = 90_000;

let ns: string;

const apply = (namespace: string, object: unknown): void =>
  void mustKubectl(['apply', '-n', namespace, '-f', '-'], JSON.stringify(object));

const applyTenant = (namespace: string, name: string): void =>
  apply(namespace, { apiVersion: API_VERSION, kind: 'ModelTenant', metadata: { name }, spec: {} });

beforeAll(() => {
  installCRDs();
  ns = createNamespace('keys-cli');
  applyTenant(ns, 'team-a');
});

/** `modelroute keys ...` as a user runs it, against the test cluster unless args name another kubeconfig. */
const keys = (args: string[]): Promise<QuickRun> =>
  runTsx('src/cli/main.ts', [
    'keys',
    ...args,
    ...(args.includes('--kubeconfig') ? [] : ['--kubeconfig', testenv.kubeconfig]),
  ]);

const sha256 = (text: string): string =>
  `sha256:${createHash('sha256').update(text).digest('hex')}`;

it(
  'creates a key shown once and stored only as its hash; list shows it Active, revoke makes it Revoked',
  async () => {
    const created = await keys([
      'create',
      'ci',
      '--tenant',
      'team-a',
      '-n',
      ns,
      '--expires',
      '30d',
    ]);
    expect(created.code).toBe(0);
    // stdout is the key and nothing else: KEY=$(modelroute keys create ...) works.
    expect(created.stdout).toMatch(/^mr-[A-Za-z0-9_-]{43}\n$/);
    const key = created.stdout.trim();
    expect(created.stderr).toContain('cannot be shown again');
    expect(created.stderr).not.toContain(key.slice(10));

    const object = JSON.parse(
      mustKubectl(['get', 'modelapikey', 'ci', '-n', ns, '-o', 'json']),
    ) as {
      spec: { tenant: string; hash: string; prefix: string; expiresAt: string; revoked: boolean };
    };
    expect(object.spec).toMatchObject({
      tenant: 'team-a',
      hash: sha256(key),
      prefix: key.slice(0, 9),
      revoked: false,
    });
    const days = (Date.parse(object.spec.expiresAt) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThanOrEqual(30);
    // The key's secret part appears nowhere the API server keeps (managed fields included).
    const yaml = mustKubectl(['get', 'mak', '-n', ns, '-o', 'yaml', '--show-managed-fields']);
    expect(yaml).toContain(sha256(key));
    expect(yaml).not.toContain(key.slice(9));

    const listed = await keys(['list', '-n', ns]);
    expect(listed.code).toBe(0);
    expect(parseTable(listed.stdout)).toEqual([
      {
        NAME: 'ci',
        TENANT: 'team-a',
        PREFIX: key.slice(0, 9),
        STATUS: 'Active',
        EXPIRES: object.spec.expiresAt,
        AGE: expect.stringMatching(/^\d+s$/),
      },
    ]);
    expect(listed.stdout).not.toContain('sha256');

    const revoked = await keys(['revoke', 'ci', '-n', ns]);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toContain(`revoked ModelAPIKey ${ns}/ci (tenant team-a`);
    const again = await keys(['revoke', 'ci', '-n', ns]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('was already revoked; nothing changed');

    const json = await keys(['list', '-A', '-o', 'json']);
    const rows = JSON.parse(json.stdout) as Record<string, unknown>[];
    expect(rows.filter((r) => r.namespace === ns)).toEqual([
      expect.objectContaining({ name: 'ci', tenant: 'team-a', status: 'Revoked' }),
    ]);
    expect(json.stdout).not.toContain('sha256');

    // kubectl's printer columns show the same at a glance.
    const table = parseTable(mustKubectl(['get', 'modelapikeys', '-n', ns]));
    expect(table).toEqual([
      expect.objectContaining({
        NAME: 'ci',
        TENANT: 'team-a',
        PREFIX: key.slice(0, 9),
        REVOKED: 'true',
      }),
    ]);
  },
  TIMEOUT_MS,
);

it(
  'refuses a missing tenant and an existing name, and prints no key then',
  async () => {
    const missing = await keys(['create', 'bot', '--tenant', 'nobody', '-n', ns]);
    expect(missing.code).toBe(1);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toContain(`ModelTenant "nobody" does not exist in namespace ${ns}`);
    expect(missing.stderr).toContain('--allow-missing-tenant');
    expect(mustKubectl(['get', 'mak', '-n', ns, '-o', 'name'])).not.toContain('/bot');

    expect((await keys(['create', 'dup', '--tenant', 'team-a', '-n', ns])).code).toBe(0);
    const dup = await keys(['create', 'dup', '--tenant', 'team-a', '-n', ns]);
    expect(dup.code).toBe(1);
    expect(dup.stdout).toBe('');
    expect(dup.stderr).toContain(`ModelAPIKey ${ns}/dup already exists`);

    const unknown = await keys(['revoke', 'nope', '-n', ns]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`'modelroute keys list -n ${ns}'`);
  },
  TIMEOUT_MS,
);

it(
  "defaults to the kubeconfig context's namespace and refuses an unknown --context",
  async () => {
    const other = createNamespace('keys-ctx');
    applyTenant(other, 'team-b');
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'modelroute-keys-')), 'kubeconfig');
    copyFileSync(testenv.kubeconfig, kubeconfig);
    mustKubectl([
      '--kubeconfig',
      kubeconfig,
      'config',
      'set-context',
      '--current',
      '--namespace',
      other,
    ]);

    const created = await keys(['create', 'ctx', '--tenant', 'team-b', '--kubeconfig', kubeconfig]);
    expect(created.code).toBe(0);
    expect(created.stderr).toContain(`created ModelAPIKey ${other}/ctx`);
    const listed = await keys(['list', '--kubeconfig', kubeconfig]);
    expect(parseTable(listed.stdout).map((r) => [r.NAME, r.STATUS])).toEqual([['ctx', 'Active']]);

    const wrong = await keys(['list', '--context', 'no-such-context']);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain('the kubeconfig has no context "no-such-context"');
  },
  TIMEOUT_MS,
);

/** A kubeconfig that authenticates as ServiceAccount `name` of `namespace`, with only its rights. */
function serviceAccountKubeconfig(namespace: string, name: string): string {
  const token = mustKubectl(['create', 'token', name, '-n', namespace, '--duration', '1h']).trim();
  const file = join(mkdtempSync(join(tmpdir(), 'modelroute-keys-sa-')), 'kubeconfig');
  copyFileSync(testenv.kubeconfig, file);
  const cluster = mustKubectl(['config', 'view', '-o', 'jsonpath={.clusters[0].name}']).trim();
  const config = (...args: string[]) => mustKubectl(['--kubeconfig', file, 'config', ...args]);
  config('set-credentials', name, `--token=${token}`);
  config('set-context', name, `--cluster=${cluster}`, `--user=${name}`, `--namespace=${namespace}`);
  config('use-context', name);
  return file;
}

it(
  'says which rights it needs when forbidden, and those rights are enough',
  async () => {
    const team = createNamespace('keys-rbac');
    applyTenant(team, 'team-c');
    for (const sa of ['no-rights', 'key-admin']) {
      mustKubectl(['create', 'serviceaccount', sa, '-n', team]);
    }
    // Exactly what the refusal below asks for.
    apply(team, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'key-admin' },
      rules: [
        { apiGroups: ['modelroute.io'], resources: ['modeltenants'], verbs: ['get'] },
        {
          apiGroups: ['modelroute.io'],
          resources: ['modelapikeys'],
          verbs: ['create', 'get', 'list', 'patch'],
        },
      ],
    });
    mustKubectl([
      'create',
      'rolebinding',
      'key-admin',
      '-n',
      team,
      '--role=key-admin',
      `--serviceaccount=${team}:key-admin`,
    ]);

    const denied = await keys([
      'create',
      'ci',
      '--tenant',
      'team-c',
      '--kubeconfig',
      serviceAccountKubeconfig(team, 'no-rights'),
    ]);
    expect(denied.code).toBe(1);
    expect(denied.stdout).toBe('');
    expect(denied.stderr).toContain('not allowed: ');
    expect(denied.stderr).toContain(
      'modelroute keys needs get on modeltenants and create, get, list and patch on modelapikeys (group modelroute.io)',
    );

    const admin = ['--kubeconfig', serviceAccountKubeconfig(team, 'key-admin')];
    const created = await keys(['create', 'ci', '--tenant', 'team-c', ...admin]);
    expect(created.code).toBe(0);
    expect((await keys(['revoke', 'ci', ...admin])).code).toBe(0);
    const listed = await keys(['list', ...admin]);
    expect(parseTable(listed.stdout).map((r) => [r.NAME, r.STATUS])).toEqual([['ci', 'Revoked']]);
  },
  TIMEOUT_MS,
);
