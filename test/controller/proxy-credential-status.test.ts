// Issue 13 item 3, "a backend a proxy cannot use is shown in the route's
// status with the reason and the fix, never a silent Ready", on the real API
// server with two real proxies: one admitted before its backend's Secret was
// referenced (its mounted directory lacks the key), one that has it. The
// route shows the backend as CredentialsUnavailable with the restart fix in
// `kubectl get mr -o yaml`, and clears once the first proxy has the key (the
// kubelet updates a mounted Secret in place).
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningController } from '../../src/controller/controller.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createNamespace, installCRDs } from '../support/cluster.js';
import {
  ADMIN_TOKEN,
  backendObject,
  ClusterHandle,
  quietLogger,
  routeObject,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import { startLeader } from '../support/strong-share-route.js';

const CASE_TIMEOUT_MS = 120_000;
const KEY_VALUE = 'sk-proxy-credential-status-0123456789';

let cluster: ClusterHandle;
let sims: SimulatedBackend[] = [];
let proxies: RunningProxy[] = [];
let controller: RunningController | undefined;
let lackingDir: string;

function withKey(dir: string): string {
  mkdirSync(join(dir, 'provider'), { recursive: true });
  writeFileSync(join(dir, 'provider', 'apiKey'), KEY_VALUE);
  return dir;
}

const proxyAt = (host: string, credentialsDir: string) =>
  startProxy({
    host,
    credentialsDir,
    adminToken: { value: ADMIN_TOKEN },
    logger: quietLogger(),
  });

beforeAll(async () => {
  installCRDs();
  cluster = new ClusterHandle(createNamespace('cred-status'));
  sims = [
    await startSimulatedBackend({ models: ['keyed-upstream'] }),
    await startSimulatedBackend({ models: ['open-upstream'] }),
  ];
  const keyed = backendObject('keyed', sims[0]!) as { spec: Record<string, unknown> };
  keyed.spec.secretRef = { name: 'provider', key: 'apiKey' };
  cluster.apply([
    {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'provider' },
      stringData: { apiKey: KEY_VALUE },
    },
    keyed,
    backendObject('open', sims[1]!),
    routeObject('chat', ['keyed', 'open']),
  ]);
  lackingDir = mkdtempSync(join(tmpdir(), 'mr-cred-status-'));
  proxies = [
    await proxyAt('127.0.0.21', lackingDir),
    await proxyAt('127.0.0.22', withKey(mkdtempSync(join(tmpdir(), 'mr-cred-status-')))),
  ];
  cluster.registerProxy('proxy-old', proxies[0]!);
  cluster.registerProxy('proxy-new', proxies[1]!);
  controller = await startLeader(cluster, 'cred-status');
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  for (const p of proxies) await p.close();
  for (const s of sims) await s.close();
});

interface RouteStatus {
  backends?: { name: string; reason?: string }[];
  conditions?: { type: string; status: string; reason: string; message: string }[];
}

const status = () => cluster.json<{ status?: RouteStatus }>(['get', 'mr', 'chat']).status ?? {};
const condition = (s: RouteStatus, type: string) => s.conditions?.find((c) => c.type === type);

test(
  'a proxy lacking the key: CredentialsUnavailable with the restart fix in kubectl get mr -o yaml; cleared once it has the key',
  async () => {
    const podKey = `${cluster.namespace}/proxy-old`;
    await eventually(() => {
      const s = status();
      expect(s.backends?.find((b) => b.name === 'keyed')?.reason).toBe('CredentialsUnavailable');
      expect(condition(s, 'ResolvedRefs')).toMatchObject({
        status: 'False',
        reason: 'CredentialsUnavailable',
        message: expect.stringContaining(
          `backend ${cluster.namespace}/keyed: 1 of 2 proxies cannot get its key (${podKey}: Secret "provider" key "apiKey" is not mounted in this pod`,
        ) as string,
      });
    }, 60_000);
    const yaml = cluster.must(['get', 'mr', 'chat', '-n', cluster.namespace, '-o', 'yaml']);
    expect(yaml).toContain('CredentialsUnavailable');
    // kubectl folds long strings over lines (where depends on the random namespace's length).
    expect(yaml.replace(/\s+/g, ' ')).toContain('kubectl rollout restart deployment/');
    expect(yaml).not.toContain(KEY_VALUE);
    // The other proxy has the key and the other backend needs none: still
    // serving, and Ready says which backend is short of a key where.
    expect(condition(status(), 'Ready')).toMatchObject({
      status: 'True',
      message: expect.stringContaining('1 of 2 proxies cannot get its key') as string,
    });

    withKey(lackingDir);
    await eventually(() => {
      const s = status();
      expect(s.backends?.find((b) => b.name === 'keyed')?.reason).toBeUndefined();
      expect(condition(s, 'ResolvedRefs')).toMatchObject({ status: 'True' });
      expect(condition(s, 'Ready')?.message).not.toContain('cannot get its key');
    }, 60_000);
  },
  CASE_TIMEOUT_MS,
);
