// helm install → upgrade → uninstall of charts/modelroute on the real API
// server, and the controller run with the chart's args and RBAC. There is no
// kubelet: pods never start, so the objects are checked, not the rollout.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  REPO_ROOT,
  createNamespace,
  helm,
  installCRDs,
  kubectl,
  mustKubectl,
} from '../support/cluster.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../testenv/controlplane.js';
import {
  CHART_DIR,
  deploymentSpec,
  flag,
  normalizeRules,
  referenceRBAC,
  repositoryCRDs,
  valuesFile,
  type K8sObject,
  type PolicyRule,
} from './chart.js';
import { mustHelm, releaseAdminToken, releaseServiceAccountKubeconfig } from './release.js';

/** Each case's bounded waits decide; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 120_000;
const CRD_NAMES = repositoryCRDs().map((crd) => crd.metadata.name);

let namespace: string;
let release: string;
let baseValues: string;
const running: ChildProcess[] = [];

function get<T = K8sObject>(args: string[]): T {
  return JSON.parse(mustKubectl(['get', ...args, '-o', 'json'])) as T;
}

function podManifest(name: string, labels: Record<string, string>): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels },
    spec: { containers: [{ name: 'app', image: 'example.invalid/app:1' }] },
  });
}

function adminToken(): string {
  return releaseAdminToken(release, namespace);
}

interface ControllerRun {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  healthUrl: string;
}

/**
 * Runs `modelroute controller` with the installed Deployment's args, as its
 * ServiceAccount, on loopback (the health flags are overridden: the last one wins).
 */
async function runControllerAsDeployed(
  keep: (arg: string) => boolean,
  identity: string,
): Promise<ControllerRun> {
  const deployment = get(['deployment', `${release}-controller`, '-n', namespace]);
  const container = deploymentSpec(deployment).template.spec.containers[0]!;
  const port = await freePort();
  const args = container.args
    .filter(keep)
    .map((a) => a.replace('$(POD_NAME)', identity))
    .concat('--health-host=127.0.0.1', `--health-port=${port}`);
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args],
    {
      cwd: REPO_ROOT,
      // No token: as in the chart's pod, the controller reads (or first creates) its Secret.
      env: {
        ...withoutAdminToken(process.env),
        KUBECONFIG: releaseServiceAccountKubeconfig(release, namespace),
        POD_NAMESPACE: namespace,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  running.push(child);
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { child, stderr: () => stderr, exited, healthUrl: `http://127.0.0.1:${port}` };
}

function withoutAdminToken(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { MODELROUTE_ADMIN_TOKEN: _token, MODELROUTE_ADMIN_TOKEN_FILE: _file, ...rest } = env;
  return rest;
}

interface SecretObject {
  metadata: {
    resourceVersion: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  data: Record<string, string>;
}

async function stop(run: ControllerRun): Promise<void> {
  if (run.child.exitCode === null) run.child.kill('SIGTERM');
  await run.exited;
}

beforeAll(() => {
  namespace = createNamespace('install');
  release = namespace;
  // Other suites share this API server and apply crds/ with kubectl; Helm
  // adopts existing objects only when they carry its ownership metadata (the
  // chart README's path for CRDs installed by hand).
  installCRDs();
  mustKubectl([
    'annotate',
    'crd',
    ...CRD_NAMES,
    `meta.helm.sh/release-name=${release}`,
    `meta.helm.sh/release-namespace=${namespace}`,
    '--overwrite',
  ]);
  mustKubectl(['label', 'crd', ...CRD_NAMES, 'app.kubernetes.io/managed-by=Helm', '--overwrite']);
  // The webhook configuration is cluster-scoped: give it this suite's name and
  // keep it to this suite's namespace, so no other suite's pods meet it.
  baseValues = valuesFile({
    webhook: {
      configName: `modelroute-sidecar-injector-${namespace}`,
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    },
  });
}, CASE_TIMEOUT_MS);

afterAll(() => {
  for (const child of running) if (child.exitCode === null) child.kill('SIGKILL');
  // Leave nothing cluster-scoped behind if a case failed before uninstall.
  helm(['uninstall', release, '-n', namespace, '--wait=false']);
}, CASE_TIMEOUT_MS);

test(
  'helm install creates the controller, its RBAC, Services, webhook configuration and CRDs, and no token Secret',
  () => {
    mustHelm(['install', release, CHART_DIR, '-n', namespace, '-f', baseValues, '--wait=false']);

    const deployment = deploymentSpec(
      get(['deployment', `${release}-controller`, '-n', namespace]),
    );
    const container = deployment.template.spec.containers[0]!;
    expect(deployment.replicas).toBe(2);
    expect(deployment.template.spec.serviceAccountName).toBe(`${release}-controller`);
    expect(flag(container.args, 'lease-namespace')).toBe(namespace);
    expect(container.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'metrics' });

    get(['serviceaccount', `${release}-controller`, '-n', namespace]);
    const reference = referenceRBAC({
      'modelroute-sidecar-injector': `modelroute-sidecar-injector-${namespace}`,
      'modelroute-webhook-cert': `${release}-webhook-cert`,
      'modelroute-admin-token': `${release}-admin-token`,
    });
    for (const [key, rules] of reference) {
      const [kind, name] = key.split('/') as [string, string];
      const live = get(
        kind === 'Role'
          ? ['role', name.replace('modelroute', release), '-n', namespace]
          : ['clusterrole', name.replace('modelroute', release)],
      );
      expect(normalizeRules(live.rules as PolicyRule[])).toEqual(normalizeRules(rules));
    }
    const subject = { kind: 'ServiceAccount', name: `${release}-controller`, namespace };
    expect(get(['clusterrolebinding', `${release}-controller`]).subjects).toEqual([subject]);
    expect(
      get(['rolebinding', `${release}-controller-leader-election`, '-n', namespace]).subjects,
    ).toEqual([subject]);

    const selectorOf = (name: string) =>
      (get(['service', name, '-n', namespace]).spec as { selector: Record<string, string> })
        .selector;
    for (const name of [`${release}-metrics`, `${release}-webhook`])
      expect(deployment.template.metadata.labels).toMatchObject(selectorOf(name));
    expect(get(['service', `${release}-webhook`, '-n', namespace]).spec).toMatchObject({
      ports: [{ port: 443, targetPort: 'webhook' }],
    });

    const webhook = get([
      'mutatingwebhookconfiguration',
      `modelroute-sidecar-injector-${namespace}`,
    ]).webhooks as Record<string, unknown>[];
    expect(webhook).toHaveLength(1);
    expect(webhook[0]).toMatchObject({
      name: 'inject.modelroute.io',
      failurePolicy: 'Fail',
      timeoutSeconds: 5,
      sideEffects: 'None',
      clientConfig: {
        service: { name: `${release}-webhook`, namespace, path: '/mutate-pods', port: 443 },
      },
    });
    expect((webhook[0]!.clientConfig as Record<string, unknown>).caBundle).toBeUndefined();

    // The controller makes it on its first start (below); helm renders none.
    expect(kubectl(['get', 'secret', `${release}-admin-token`, '-n', namespace]).code).not.toBe(0);

    for (const name of CRD_NAMES) {
      const crd = get(['crd', name]);
      expect(crd.metadata.annotations).toMatchObject({
        'helm.sh/resource-policy': 'keep',
        'meta.helm.sh/release-name': release,
      });
    }
  },
  CASE_TIMEOUT_MS,
);

test(
  'with failurePolicy Fail and no controller answering, a pod that asks for a sidecar is refused; others are not affected',
  () => {
    const refused = kubectl(
      ['create', '-f', '-'],
      podManifest('wants-sidecar', { 'modelroute.io/inject': 'true' }),
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('failed calling webhook "inject.modelroute.io"');
    mustKubectl(['create', '-f', '-'], podManifest('plain', { app: 'plain' }));
  },
  CASE_TIMEOUT_MS,
);

test(
  "the controller runs with the chart's args as the chart's ServiceAccount: it creates the admin-token Secret, takes the Lease and turns ready",
  async () => {
    // The webhook flags are checked on their own below.
    const run = await runControllerAsDeployed(
      (a) => !/^--(webhook-|proxy-image|sidecar-mode)/.test(a),
      'chart-controller-0',
    );
    try {
      await eventually(async () => {
        if (run.child.exitCode !== null) return;
        const lease = get<{ spec: { holderIdentity?: string } }>([
          'lease',
          'modelroute-controller',
          '-n',
          namespace,
        ]);
        expect(lease.spec.holderIdentity).toBe('chart-controller-0');
        const ready = await fetch(`${run.healthUrl}/readyz`);
        expect(ready.status).toBe(200);
      }, 60_000).catch((err: Error) => {
        throw new Error(`${err.message}\ncontroller stderr:\n${run.stderr()}`);
      });
      expect({ exitCode: run.child.exitCode, stderr: run.stderr() }).toEqual({
        exitCode: null,
        stderr: expect.any(String) as string,
      });
      const metrics = await (await fetch(`${run.healthUrl}/metrics`)).text();
      expect(metrics).toMatch(/^modelroute_controller_leader 1$/m);
      // Made by the controller, labelled as its own, with a 48-character random token.
      const secret = get<SecretObject>(['secret', `${release}-admin-token`, '-n', namespace]);
      expect(secret.metadata.labels).toMatchObject({
        'app.kubernetes.io/managed-by': 'modelroute-controller',
      });
      expect(secret.metadata.annotations?.['meta.helm.sh/release-name']).toBeUndefined();
      expect(adminToken()).toMatch(/^[0-9a-f]{48}$/);
    } finally {
      await stop(run);
    }
  },
  CASE_TIMEOUT_MS,
);

test(
  'the controller accepts the webhook flags the chart passes (--webhook-port, --webhook-service, --webhook-secret, --webhook-config-name, --proxy-image, --sidecar-mode)',
  async () => {
    const before = get<SecretObject>(['secret', `${release}-admin-token`, '-n', namespace]);
    const run = await runControllerAsDeployed(() => true, 'chart-controller-1');
    try {
      // Done waiting when it serves /healthz, or when it has exited (then fail with its output).
      await eventually(async () => {
        if (run.child.exitCode !== null) return;
        expect((await fetch(`${run.healthUrl}/healthz`)).status).toBe(200);
      }, 60_000);
      expect({ exitCode: run.child.exitCode, stderr: run.stderr() }).toEqual({
        exitCode: null,
        stderr: expect.not.stringMatching(/Unknown option/) as string,
      });
      // A restart reuses the token: the Secret is read, never rewritten.
      const after = get<SecretObject>(['secret', `${release}-admin-token`, '-n', namespace]);
      expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
      expect(run.stderr()).not.toContain('created the admin-token Secret');
    } finally {
      await stop(run);
    }
  },
  CASE_TIMEOUT_MS,
);

test(
  'helm upgrade applies changed values, keeps the admin token and the CA the controller wrote into the webhook',
  () => {
    const token = adminToken();
    const configName = `modelroute-sidecar-injector-${namespace}`;
    // What the controller does once it has issued its serving certificate.
    const ca = mustKubectl([
      'config',
      'view',
      '--raw',
      '--minify',
      '-o',
      'jsonpath={.clusters[0].cluster.certificate-authority-data}',
    ]);
    mustKubectl([
      'patch',
      'mutatingwebhookconfiguration',
      configName,
      '--type=json',
      '-p',
      JSON.stringify([{ op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: ca }]),
    ]);

    mustHelm([
      'upgrade',
      release,
      CHART_DIR,
      '-n',
      namespace,
      '-f',
      baseValues,
      '--set',
      'controller.replicas=3',
      '--set',
      'gateway.enabled=true',
      '--set',
      'gateway.replicas=1',
      '--set',
      'webhook.failurePolicy=Ignore',
      '--wait=false',
    ]);

    expect(
      deploymentSpec(get(['deployment', `${release}-controller`, '-n', namespace])).replicas,
    ).toBe(3);
    const gateway = deploymentSpec(get(['deployment', `${release}-gateway`, '-n', namespace]));
    expect(gateway.replicas).toBe(1);
    expect(gateway.template.metadata.labels['modelroute.io/proxy']).toBe('true');
    expect(gateway.template.metadata.annotations?.['modelroute.io/admin-port']).toBe('9901');
    expect(get(['service', `${release}-gateway`, '-n', namespace]).spec).toMatchObject({
      ports: [{ name: 'http', port: 80, targetPort: 'http' }],
    });
    // A single gateway replica gets no PodDisruptionBudget (it could never be drained).
    expect(kubectl(['get', 'pdb', `${release}-gateway`, '-n', namespace]).code).not.toBe(0);

    const webhook = (
      get(['mutatingwebhookconfiguration', configName]).webhooks as {
        failurePolicy: string;
        clientConfig: { caBundle?: string };
      }[]
    )[0]!;
    expect(webhook.failurePolicy).toBe('Ignore');
    expect(webhook.clientConfig.caBundle).toBe(ca);
    expect(adminToken()).toBe(token);
    // The gateway reads the Secret the controller made.
    expect(gateway.template.spec.containers[0]!.env).toContainEqual({
      name: 'MODELROUTE_ADMIN_TOKEN',
      valueFrom: { secretKeyRef: { name: `${release}-admin-token`, key: 'token' } },
    });

    // Ignore: the same pod that was refused is now created (without a sidecar).
    mustKubectl(
      ['create', '-f', '-'],
      podManifest('wants-sidecar', { 'modelroute.io/inject': 'true' }),
    );

    mustHelm(['upgrade', release, CHART_DIR, '-n', namespace, '-f', baseValues, '--wait=false']);
    expect(kubectl(['get', 'deployment', `${release}-gateway`, '-n', namespace]).code).not.toBe(0);
    expect(kubectl(['get', 'service', `${release}-gateway`, '-n', namespace]).code).not.toBe(0);
  },
  CASE_TIMEOUT_MS,
);

test(
  'helm uninstall removes every object it created except the CRDs; the controller’s token Secret stays for a reinstall',
  () => {
    mustHelm(['uninstall', release, '-n', namespace, '--wait=false']);
    const gone: [string, ...string[]][] = [
      ['deployment', `${release}-controller`, '-n', namespace],
      ['service', `${release}-metrics`, '-n', namespace],
      ['service', `${release}-webhook`, '-n', namespace],
      ['serviceaccount', `${release}-controller`, '-n', namespace],
      ['role', `${release}-controller-leader-election`, '-n', namespace],
      ['rolebinding', `${release}-controller-leader-election`, '-n', namespace],
      ['pdb', `${release}-controller`, '-n', namespace],
      ['clusterrole', `${release}-controller`],
      ['clusterrolebinding', `${release}-controller`],
      ['mutatingwebhookconfiguration', `modelroute-sidecar-injector-${namespace}`],
    ];
    const remaining = gone.filter((args) => kubectl(['get', ...args]).code === 0);
    expect(remaining).toEqual([]);
    for (const name of CRD_NAMES) expect(kubectl(['get', 'crd', name]).code).toBe(0);
    expect(adminToken()).toMatch(/^[0-9a-f]{48}$/);
  },
  CASE_TIMEOUT_MS,
);

/** charts/modelroute as released in 0.1.0 (git history), which rendered the admin token itself. */
function previousChart(): string {
  const dir = mkdtempSync(join(tmpdir(), 'modelroute-chart-0.1.0-'));
  const archive = execFileSync(
    'git',
    ['archive', '3cf5e7a8c7d63fecbd92121f20b22da937383f9a', 'charts/modelroute'],
    { cwd: REPO_ROOT, maxBuffer: 64 * 1024 * 1024 },
  );
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  return join(dir, 'charts', 'modelroute');
}

test(
  'helm upgrade from chart 0.1.0 keeps the token Helm made then (running proxies hold it), through later upgrades and uninstall',
  () => {
    const ns = createNamespace('upgrade');
    const values = valuesFile({
      crds: { install: false },
      webhook: {
        configName: `modelroute-sidecar-injector-${ns}`,
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
      },
    });
    try {
      mustHelm(['install', ns, previousChart(), '-n', ns, '-f', values, '--wait=false']);
      const token = releaseAdminToken(ns, ns);
      expect(token).toMatch(/^[A-Za-z0-9]{48}$/);

      // --reuse-values would render with 0.1.0's defaults, missing every value added since.
      const reused = helm(['upgrade', ns, CHART_DIR, '-n', ns, '--reuse-values', '--wait=false']);
      expect(reused.code).not.toBe(0);
      expect(reused.stderr).toContain(
        "were an older chart's values reused (helm upgrade --reuse-values)? Upgrade with --reset-then-reuse-values",
      );
      // What the README advises keeps the values given at install (the webhook's name here).
      mustHelm(['upgrade', ns, CHART_DIR, '-n', ns, '--reset-then-reuse-values', '--wait=false']);
      expect(
        kubectl(['get', 'mutatingwebhookconfiguration', `modelroute-sidecar-injector-${ns}`]).code,
      ).toBe(0);
      expect(releaseAdminToken(ns, ns)).toBe(token);

      for (let upgrade = 1; upgrade <= 2; upgrade++) {
        mustHelm(['upgrade', ns, CHART_DIR, '-n', ns, '-f', values, '--wait=false']);
        expect({ upgrade, token: releaseAdminToken(ns, ns) }).toEqual({ upgrade, token });
        const secret = get<SecretObject>(['secret', `${ns}-admin-token`, '-n', ns]);
        expect(secret.metadata.annotations).toMatchObject({ 'helm.sh/resource-policy': 'keep' });
      }
      // The controller reads it rather than making another.
      const args = deploymentSpec(get(['deployment', `${ns}-controller`, '-n', ns])).template.spec
        .containers[0]!.args;
      expect(args).toContain('--ensure-admin-token-secret');
      expect(flag(args, 'admin-token-secret')).toBe(`${ns}-admin-token`);

      mustHelm(['uninstall', ns, '-n', ns, '--wait=false']);
      expect(releaseAdminToken(ns, ns)).toBe(token);
    } finally {
      helm(['uninstall', ns, '-n', ns, '--wait=false']);
      kubectl(['delete', 'namespace', ns, '--wait=false']);
    }
  },
  CASE_TIMEOUT_MS,
);
