// Starts a real etcd + kube-apiserver on random loopback ports, as
// controller-runtime's envtest does, and writes a kubeconfig that kubectl,
// helm and @kubernetes/client-node all accept.
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import {
  closeSync,
  existsSync,
  openSync,
  mkdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { binaryPaths } from './paths.js';

export interface ControlPlane {
  dir: string;
  kubeconfig: string;
  apiserverUrl: string;
  adminToken: string;
  caFile: string;
  etcdPid: number;
  apiserverPid: number;
  /** How kube-apiserver was started, to start it again after a stop. */
  apiserverArgs: string[];
}

export interface StartOptions {
  /** Working directory for data, certs, logs and the kubeconfig. */
  dir: string;
  /** Detach the processes so they outlive this Node process (`testenv up`). */
  detached?: boolean;
  /** How long to wait for /readyz. */
  readyTimeoutMs?: number;
  /**
   * Kill etcd and kube-apiserver if this Node process dies without stopping
   * them (a crashed or interrupted test run must not leave servers behind).
   */
  stopWithParent?: boolean;
  /**
   * Where kube-apiserver listens and what it advertises (default 127.0.0.1).
   * A real node's pods must reach it: test/node/cluster.ts passes an address
   * on the bridge it creates.
   */
  apiserverAddress?: string;
  /** ClusterIPs (default 10.96.0.0/24; nothing routes them without kube-proxy). */
  serviceClusterIPRange?: string;
  /**
   * Keep the ServiceAccount admission plugin (default off: without a
   * controller-manager no default ServiceAccounts exist and it would refuse pods).
   */
  serviceAccountAdmission?: boolean;
}

/** A tiny detached process that kills `children` once `parent` is gone. */
export function startWatchdog(parent: number, children: number[]): void {
  const code = `
    const [parent, ...children] = process.argv.slice(1).map(Number);
    const alive = (pid) => { try { process.kill(pid, 0); return true; } catch { return false; } };
    setInterval(() => {
      if (!children.some(alive)) process.exit(0);
      if (!alive(parent)) {
        for (const pid of children) { try { process.kill(pid, 'SIGKILL'); } catch {} }
        process.exit(0);
      }
    }, 1000);`;
  const watchdog = spawn(process.execPath, ['-e', code, String(parent), ...children.map(String)], {
    stdio: 'ignore',
    detached: true,
  });
  watchdog.unref();
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === 'object') resolve(address.port);
        else reject(new Error('could not read the bound port'));
      });
    });
  });
}

export function launch(
  binary: string,
  args: string[],
  logFile: string,
  detached: boolean,
): ChildProcess {
  // The log file itself is the child's stdout/stderr (no pipe through us), so
  // a detached server keeps running, and logging, after this process exits.
  const log = openSync(logFile, 'a');
  const child = spawn(binary, args, { stdio: ['ignore', log, log], detached });
  closeSync(log);
  if (detached) child.unref();
  return child;
}

function httpsGet(
  url: string,
  ca: Buffer,
  token: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca, headers: { Authorization: `Bearer ${token}` }, timeout: 2000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

export async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
  logFile: string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      const tail = existsSync(logFile)
        ? readFileSync(logFile, 'utf8').split('\n').slice(-30).join('\n')
        : '';
      throw new Error(
        `${what} did not become ready within ${timeoutMs} ms; last log lines:\n${tail}`,
      );
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startControlPlane(options: StartOptions): Promise<ControlPlane> {
  const bins = binaryPaths();
  const { dir } = options;
  const detached = options.detached ?? false;
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  rmSync(dir, { recursive: true, force: true });
  const certDir = join(dir, 'certs');
  mkdirSync(certDir, { recursive: true });

  const etcdClientPort = await freePort();
  const etcdPeerPort = await freePort();
  const securePort = await freePort(options.apiserverAddress);
  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
  const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;

  const etcdLog = join(dir, 'etcd.log');
  const etcd = launch(
    bins.etcd,
    [
      '--name=testenv',
      `--data-dir=${join(dir, 'etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${peerUrl}`,
      `--initial-advertise-peer-urls=${peerUrl}`,
      `--initial-cluster=testenv=${peerUrl}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ],
    etcdLog,
    detached,
  );
  await waitFor('etcd', async () => (await fetch(`${etcdUrl}/health`)).ok, readyTimeoutMs, etcdLog);

  // Service-account token signing keys (TokenRequest, `kubectl create token`).
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const saKey = join(certDir, 'sa.key');
  const saPub = join(certDir, 'sa.pub');
  writeFileSync(saKey, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(saPub, publicKey.export({ type: 'spki', format: 'pem' }));

  const adminToken = randomBytes(24).toString('hex');
  const tokenFile = join(certDir, 'tokens.csv');
  writeFileSync(tokenFile, `${adminToken},testenv-admin,testenv-admin,"system:masters"\n`, {
    mode: 0o600,
  });

  const apiserverLog = join(dir, 'kube-apiserver.log');
  const address = options.apiserverAddress ?? '127.0.0.1';
  const apiserverArgs = [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--secure-port=${securePort}`,
    // No serving cert given: kube-apiserver writes a self-signed one (with its CA) here.
    `--cert-dir=${certDir}`,
    `--token-auth-file=${tokenFile}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
    `--service-account-key-file=${saPub}`,
    `--service-account-signing-key-file=${saKey}`,
    `--service-cluster-ip-range=${options.serviceClusterIPRange ?? '10.96.0.0/24'}`,
    // No controller-manager creates default service accounts here.
    ...(options.serviceAccountAdmission ? [] : ['--disable-admission-plugins=ServiceAccount']),
    '--allow-privileged=true',
    '--profiling=false',
    '--v=1',
  ];
  const apiserver = launch(bins.kubeApiserver, apiserverArgs, apiserverLog, detached);
  if (options.stopWithParent) startWatchdog(process.pid, [etcd.pid ?? -1, apiserver.pid ?? -1]);
  const caFile = join(certDir, 'apiserver.crt');
  const apiserverUrl = `https://${address}:${securePort}`;
  await waitFor(
    'kube-apiserver',
    async () => {
      if (apiserver.exitCode !== null) throw new Error('exited');
      if (!existsSync(caFile)) return false;
      const res = await httpsGet(`${apiserverUrl}/readyz`, readFileSync(caFile), adminToken);
      return res.status === 200;
    },
    readyTimeoutMs,
    apiserverLog,
  );

  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'testenv',
          cluster: {
            server: apiserverUrl,
            'certificate-authority-data': readFileSync(caFile).toString('base64'),
          },
        },
      ],
      users: [{ name: 'testenv-admin', user: { token: adminToken } }],
      contexts: [
        {
          name: 'testenv',
          context: { cluster: 'testenv', user: 'testenv-admin', namespace: 'default' },
        },
      ],
      'current-context': 'testenv',
      preferences: {},
    }),
    { mode: 0o600 },
  );

  const plane: ControlPlane = {
    dir,
    kubeconfig,
    apiserverUrl,
    adminToken,
    caFile,
    etcdPid: etcd.pid ?? -1,
    apiserverPid: apiserver.pid ?? -1,
    apiserverArgs,
  };
  writeFileSync(join(dir, 'state.json'), JSON.stringify(plane, null, 2));
  return plane;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** SIGTERM, then SIGKILL for whatever still runs after `graceMs`. */
export async function stopProcesses(pids: number[], graceMs = 10_000): Promise<void> {
  for (const pid of pids) {
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGTERM');
  }
  const deadline = Date.now() + graceMs;
  for (const pid of pids) {
    while (pid > 0 && alive(pid) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    if (pid > 0 && alive(pid)) process.kill(pid, 'SIGKILL');
  }
}

/** Stops the processes of a control plane (from its state.json) and removes its data. */
export async function stopControlPlane(
  dir: string,
  options: { keepDir?: boolean } = {},
): Promise<boolean> {
  const stateFile = join(dir, 'state.json');
  if (!existsSync(stateFile)) return false;
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as ControlPlane;
  await stopProcesses([state.apiserverPid, state.etcdPid]);
  if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
  return true;
}

/** Stops kube-apiserver only (etcd keeps the data), as an API server outage. */
export async function stopApiServer(plane: ControlPlane): Promise<void> {
  if (alive(plane.apiserverPid)) process.kill(plane.apiserverPid, 'SIGKILL');
  while (alive(plane.apiserverPid)) await new Promise((r) => setTimeout(r, 50));
}

/** Starts kube-apiserver again with the same arguments (same port, certs and tokens). */
export async function startApiServer(plane: ControlPlane, readyTimeoutMs = 90_000): Promise<void> {
  const log = join(plane.dir, 'kube-apiserver.log');
  const apiserver = launch(binaryPaths().kubeApiserver, plane.apiserverArgs, log, false);
  startWatchdog(process.pid, [apiserver.pid ?? -1]);
  plane.apiserverPid = apiserver.pid ?? -1;
  writeFileSync(join(plane.dir, 'state.json'), JSON.stringify(plane, null, 2));
  const ca = readFileSync(plane.caFile);
  await waitFor(
    'kube-apiserver (restarted)',
    async () =>
      (await httpsGet(`${plane.apiserverUrl}/readyz`, ca, plane.adminToken)).status === 200,
    readyTimeoutMs,
    log,
  );
}
