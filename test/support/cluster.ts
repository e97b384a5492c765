// Helpers for tests that run against the real API server started by
// test/testenv/jest-global-setup.ts.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from './eventually.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    throw new Error(
      `${name} is not set: control-plane tests must run through jest's global setup (npm test), which starts the test API server`,
    );
  }
  return value;
}

export const testenv = {
  get kubeconfig(): string {
    return required('MODELROUTE_TEST_KUBECONFIG');
  },
  get kubectl(): string {
    return required('MODELROUTE_TEST_KUBECTL');
  },
  get helm(): string {
    return required('MODELROUTE_TEST_HELM');
  },
};

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

function runTool(
  binary: string,
  args: string[],
  input?: string,
  kubeconfig = testenv.kubeconfig,
): CommandResult {
  const result = spawnSync(binary, args, {
    input,
    encoding: 'utf8',
    env: { ...process.env, KUBECONFIG: kubeconfig },
    timeout: 60_000,
  });
  if (result.error) throw result.error;
  return { code: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

export function kubectl(args: string[], input?: string): CommandResult {
  return runTool(testenv.kubectl, args, input);
}

/** kubectl against another API server than the shared test one. */
export function kubectlAt(kubeconfig: string, args: string[], input?: string): CommandResult {
  return runTool(testenv.kubectl, args, input, kubeconfig);
}

export function helm(args: string[]): CommandResult {
  return runTool(testenv.helm, args);
}

/**
 * kubectl without blocking the event loop: for tests whose own process serves
 * something the API server or a proxy calls meanwhile (a webhook, a simulator).
 */
export function kubectlAsync(
  args: string[],
  input?: string,
  kubeconfig = testenv.kubeconfig,
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(testenv.kubectl, args, {
      env: { ...process.env, KUBECONFIG: kubeconfig },
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

/** kubectlAsync that throws with kubectl's output when it fails. */
export async function mustKubectlAsync(args: string[], input?: string): Promise<string> {
  const r = await kubectlAsync(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** Runs kubectl and throws with its output when it fails. */
export function mustKubectl(args: string[], input?: string): string {
  const r = kubectl(args, input);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/** A fresh namespace per test file (no namespace controller here to delete them). */
export function createNamespace(prefix: string): string {
  const name = `${prefix}-${randomBytes(3).toString('hex')}`;
  mustKubectl(['create', 'namespace', name]);
  return name;
}

export function installCRDs(): void {
  mustKubectl(['apply', '--server-side', '--force-conflicts', '-f', join(REPO_ROOT, 'crds')]);
  mustKubectl([
    'wait',
    '--for=condition=Established',
    '--timeout=60s',
    '-f',
    join(REPO_ROOT, 'crds'),
  ]);
  // Established is not yet servable: each new kind's watch cache answers 429
  // "storage is (re)initializing" for a moment. Wait until every kind lists.
  const plurals = readdirSync(join(REPO_ROOT, 'crds'))
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => f.replace(/^[^_]+_/, '').replace(/\.yaml$/, ''));
  const deadline = Date.now() + 60_000;
  for (const plural of plurals) {
    while (kubectl(['get', `${plural}.modelroute.io`, '-A', '-o', 'name']).code !== 0) {
      if (Date.now() > deadline) throw new Error(`${plural} never became listable after install`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
    }
  }
}

/**
 * Parses kubectl's table output into rows keyed by column header, using the
 * header's column positions (values such as "HEALTHY BACKENDS" contain spaces).
 */
export function parseTable(output: string): Record<string, string>[] {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0] ?? '';
  const starts: { name: string; at: number }[] = [];
  for (const m of header.matchAll(/\S+(?: \S+)*/g)) starts.push({ name: m[0], at: m.index });
  return lines.slice(1).map((line) => {
    const row: Record<string, string> = {};
    starts.forEach((col, i) => {
      const end = starts[i + 1]?.at ?? line.length;
      row[col.name] = line.slice(col.at, end).trim();
    });
    return row;
  });
}

/**
 * Installs the controller's RBAC (manifests/rbac/controller.yaml) and returns
 * a kubeconfig that authenticates as its ServiceAccount, with exactly those rights.
 */
export function controllerServiceAccountKubeconfig(): string {
  if (kubectl(['get', 'namespace', 'modelroute-system']).code !== 0)
    mustKubectl(['create', 'namespace', 'modelroute-system']);
  mustKubectl(['apply', '-f', join(REPO_ROOT, 'manifests', 'rbac', 'controller.yaml')]);
  const token = mustKubectl([
    'create',
    'token',
    'modelroute-controller',
    '-n',
    'modelroute-system',
    '--duration',
    '1h',
  ]).trim();
  const admin = mustKubectl(['config', 'view', '--raw', '-o', 'json']);
  const config = JSON.parse(admin) as {
    clusters: unknown[];
    contexts: { name: string }[];
    'current-context': string;
  };
  const file = join(mkdtempSync(join(tmpdir(), 'modelroute-sa-')), 'kubeconfig');
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: config.clusters,
      users: [{ name: 'controller-sa', user: { token } }],
      contexts: [
        {
          name: 'sa',
          context: {
            cluster: (config.clusters[0] as { name: string }).name,
            user: 'controller-sa',
          },
        },
      ],
      'current-context': 'sa',
    }),
    { mode: 0o600 },
  );
  return file;
}

/**
 * What the chart renders for each `platformNamespaces` entry: the controller's
 * ServiceAccount may get Secrets in `namespace` (and, without this, nowhere
 * outside its own namespace: no ClusterRole grants Secrets).
 */
export function grantControllerSecrets(namespace: string): void {
  const name = 'modelroute-controller-credentials';
  mustKubectl(
    ['apply', '-n', namespace, '-f', '-'],
    [
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name },
        rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get'] }],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [
          { kind: 'ServiceAccount', name: 'modelroute-controller', namespace: 'modelroute-system' },
        ],
      },
    ]
      .map((o) => JSON.stringify(o))
      .join('\n'),
  );
}

/**
 * A projected ServiceAccount token as the kubelet mounts it into a pod: bound to
 * that Pod (TokenReview then names the pod and its UID) and to one audience.
 */
export function podBoundToken(
  namespace: string,
  serviceAccount: string,
  podName: string,
  audience = 'modelroute-controller',
): string {
  return mustKubectl([
    'create',
    'token',
    serviceAccount,
    '-n',
    namespace,
    '--audience',
    audience,
    '--bound-object-kind',
    'Pod',
    '--bound-object-name',
    podName,
    '--duration',
    '1h',
  ]).trim();
}

/**
 * A projected token of ServiceAccount `serviceAccount` bound to Pod `pod`
 * (which must exist and run as that account), written to a file as the
 * kubelet mounts it for a proxy: what the controller's credential endpoint
 * authenticates (audience modelroute-controller).
 */
export function podBoundTokenFile(
  namespace: string,
  serviceAccount: string,
  pod: string,
  audience = 'modelroute-controller',
): string {
  const token = podBoundToken(namespace, serviceAccount, pod, audience);
  const file = join(mkdtempSync(join(tmpdir(), 'modelroute-token-')), 'token');
  writeFileSync(file, token);
  return file;
}

/**
 * The PEM of the CA the controller's webhook serving certificate chains to,
 * once the controller has written its certificate Secret (in modelroute-system).
 */
export async function webhookCaPem(secretName: string): Promise<string> {
  let ca = '';
  await eventually(() => {
    const secret = JSON.parse(
      mustKubectl(['get', 'secret', secretName, '-n', 'modelroute-system', '-o', 'json']),
    ) as { data: Record<string, string> };
    ca = Buffer.from(secret.data['ca.crt'] ?? '', 'base64').toString('utf8');
    expect(ca).toContain('BEGIN CERTIFICATE');
  }, 30_000);
  return ca;
}
