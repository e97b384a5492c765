// A stand-in for the kubelet on an API server without nodes: it runs one
// modelroute container of a Pod, as the API server holds it, as a local
// process on the pod's own loopback address. The container's env (values,
// Secret keys, downward API), its Secret, emptyDir and projected
// ServiceAccount token volumes (under a temporary root) and its args are honoured; the pod is reported Running at
// that IP once the container answers its probe. What differs from a node is
// the network: a pod's addresses (127.0.0.1, 0.0.0.0) become its pod IP.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT, kubectlAsync, mustKubectlAsync } from '../support/cluster.js';
import { eventually } from '../support/eventually.js';

interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: {
    secretKeyRef?: { name: string; key: string; optional?: boolean };
    fieldRef?: { fieldPath: string };
  };
}

interface Probe {
  httpGet?: { path: string; port: number | string };
}

interface Container {
  name: string;
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number }[];
  startupProbe?: Probe;
  livenessProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string }[];
}

interface Volume {
  name: string;
  emptyDir?: object;
  secret?: { secretName: string; items?: { key: string; path: string }[]; optional?: boolean };
  projected?: {
    sources: {
      serviceAccountToken?: { audience?: string; expirationSeconds?: number; path: string };
    }[];
  };
}

interface Pod {
  metadata: { name: string; namespace: string };
  spec: {
    containers: Container[];
    initContainers?: Container[];
    volumes?: Volume[];
    serviceAccountName?: string;
  };
}

export interface PodProcess {
  ip: string;
  /** The container's stderr so far (its structured logs). */
  stderr(): string;
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

export interface RunPodOptions {
  namespace: string;
  pod: string;
  container: string;
  /** The pod IP: a loopback address no other test uses. */
  ip: string;
  /** What the node would provide otherwise, e.g. KUBECONFIG for the pod's ServiceAccount. */
  env?: Record<string, string>;
  /** Appended to the container's args (the last value of a flag wins). */
  extraArgs?: string[];
}

async function secretData(namespace: string, name: string): Promise<Record<string, string>> {
  const r = await kubectlAsync(['get', 'secret', name, '-n', namespace, '-o', 'json']);
  if (r.code !== 0) return {};
  const data = (JSON.parse(r.stdout) as { data?: Record<string, string> }).data ?? {};
  return Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]),
  );
}

async function resolveEnv(pod: Pod, container: Container, ip: string) {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    const secretRef = e.valueFrom?.secretKeyRef;
    if (secretRef) {
      const value = (await secretData(pod.metadata.namespace, secretRef.name))[secretRef.key];
      if (value === undefined && !secretRef.optional)
        throw new Error(
          `env ${e.name}: Secret ${secretRef.name} has no key ${secretRef.key} (the kubelet would not start the container)`,
        );
      if (value !== undefined) env[e.name] = value;
    }
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field === 'metadata.name') env[e.name] = pod.metadata.name;
    else if (field === 'metadata.namespace') env[e.name] = pod.metadata.namespace;
    else if (field === 'status.podIP') env[e.name] = ip;
    else if (field) throw new Error(`env ${e.name}: fieldRef ${field} is not supported here`);
  }
  return env;
}

/** What the kubelet writes for a projected ServiceAccount token: one bound to this pod. */
async function projectedTokens(pod: Pod, volume: Volume, target: string): Promise<void> {
  for (const source of volume.projected?.sources ?? []) {
    const sat = source.serviceAccountToken;
    if (!sat) continue;
    const account = pod.spec.serviceAccountName ?? 'default';
    // Every namespace has "default" on a real cluster (the controller-manager makes it;
    // none runs here). Exists already: kubectl fails, harmlessly.
    if (account === 'default')
      await kubectlAsync(['create', 'serviceaccount', 'default', '-n', pod.metadata.namespace]);
    const token = await mustKubectlAsync([
      'create',
      'token',
      account,
      '-n',
      pod.metadata.namespace,
      ...(sat.audience ? ['--audience', sat.audience] : []),
      '--bound-object-kind',
      'Pod',
      '--bound-object-name',
      pod.metadata.name,
      '--duration',
      `${sat.expirationSeconds ?? 3600}s`,
    ]);
    writeFileSync(join(target, sat.path), token.trim(), { mode: 0o440 });
  }
}

/** Mounts the container's volumes under root: Secret keys and projected tokens as files, emptyDirs as folders. */
async function mountVolumes(pod: Pod, container: Container, root: string): Promise<void> {
  for (const mount of container.volumeMounts ?? []) {
    const volume = pod.spec.volumes?.find((v) => v.name === mount.name);
    if (!volume) throw new Error(`volumeMount ${mount.name} has no volume`);
    const target = join(root, mount.mountPath);
    mkdirSync(target, { recursive: true });
    if (volume.projected) await projectedTokens(pod, volume, target);
    if (!volume.secret) continue;
    const data = await secretData(pod.metadata.namespace, volume.secret.secretName);
    const items = volume.secret.items ?? Object.keys(data).map((key) => ({ key, path: key }));
    for (const item of items) {
      const value = data[item.key];
      if (value === undefined) continue; // optional: true; a missing key is simply absent
      mkdirSync(dirname(join(target, item.path)), { recursive: true });
      writeFileSync(join(target, item.path), value, { mode: 0o440 });
    }
  }
}

/** `$(VAR)` expanded; addresses become the pod IP; absolute paths land under root. */
function localArgs(args: string[], env: Record<string, string>, ip: string, root: string) {
  return args.map((raw) => {
    const arg = raw.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name: string) => env[name] ?? m);
    const m = /^(--[a-z-]+)=(.*)$/.exec(arg);
    if (!m) return arg;
    const [, flag, value] = m as unknown as [string, string, string];
    if (flag.endsWith('-host') || flag === '--host') return `${flag}=${ip}`;
    if (value.startsWith('/')) return `${flag}=${join(root, value)}`;
    return arg;
  });
}

function probePort(container: Container): { path: string; port: number } {
  const get = (container.startupProbe ?? container.livenessProbe)?.httpGet;
  if (!get) throw new Error(`container ${container.name} has no httpGet probe to wait on`);
  const port =
    typeof get.port === 'number'
      ? get.port
      : container.ports?.find((p) => p.name === get.port)?.containerPort;
  if (port === undefined) throw new Error(`probe port ${String(get.port)} is not declared`);
  return { path: get.path, port };
}

/**
 * Starts the container and, once its probe answers, records the pod as
 * Running and Ready at `ip` (what the controller waits for before pushing).
 */
export async function runPod(options: RunPodOptions): Promise<PodProcess> {
  const { namespace, ip } = options;
  const pod = JSON.parse(
    await mustKubectlAsync(['get', 'pod', options.pod, '-n', namespace, '-o', 'json']),
  ) as Pod;
  const container = [...pod.spec.containers, ...(pod.spec.initContainers ?? [])].find(
    (c) => c.name === options.container,
  );
  if (!container) throw new Error(`pod ${options.pod} has no container ${options.container}`);

  const root = mkdtempSync(join(tmpdir(), `modelroute-pod-${options.pod}-`));
  await mountVolumes(pod, container, root);
  const env = { ...(await resolveEnv(pod, container, ip)), ...options.env };
  const args = [...localArgs(container.args ?? [], env, ip, root), ...(options.extraArgs ?? [])];
  const child: ChildProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args],
    { cwd: REPO_ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };

  const probe = probePort(container);
  try {
    await eventually(async () => {
      if (child.exitCode !== null) return;
      const res = await fetch(`http://${ip}:${probe.port}${probe.path}`);
      expect(res.status).toBe(200);
    }, 60_000);
    if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
  } catch (err) {
    await stop();
    throw new Error(
      `container ${container.name} of pod ${options.pod} did not start: ${(err as Error).message}\n${stderr}`,
    );
  }

  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const status = {
    status: {
      phase: 'Running',
      podIP: ip,
      podIPs: [{ ip }],
      startTime: now,
      conditions: [{ type: 'Ready', status: 'True', lastTransitionTime: now }],
    },
  };
  await mustKubectlAsync([
    'patch',
    'pod',
    options.pod,
    '-n',
    namespace,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify(status),
  ]);
  return { ip, stderr: () => stderr, exited, stop };
}

/**
 * Creates the Pod a Deployment's ReplicaSet would (there is no
 * controller-manager here): the pod template under the given name.
 */
export async function createPodFromDeployment(
  namespace: string,
  deployment: string,
  podName: string,
): Promise<void> {
  const d = JSON.parse(
    await mustKubectlAsync(['get', 'deployment', deployment, '-n', namespace, '-o', 'json']),
  ) as { spec: { template: { metadata: Record<string, unknown>; spec: unknown } } };
  const pod = {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { ...d.spec.template.metadata, name: podName, namespace },
    spec: d.spec.template.spec,
  };
  await mustKubectlAsync(['create', '-f', '-'], JSON.stringify(pod));
}
