// The admin token no longer copied into app namespaces, on the real API
// server: two sidecar-style proxies in an app namespace that holds no Secret
// at all start with no admin token, fetch their own from the controller's
// credential endpoint (real TokenReview of pod-bound projected tokens, the
// controller running as its ServiceAccount with the repository's RBAC), and
// the real controller pushes each its table (Programmed). The token one pod
// was given moves no other pod, and appears in no log line.
import { randomInt } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startController, type RunningController } from '../../src/controller/controller.js';
import { podAdminToken } from '../../src/proxy/admin/admin-token.js';
import { CREDENTIALS_PATH, credentialsResponse } from '../../src/proxy/credential-protocol.js';
import { startProxy, type RunningProxy } from '../../src/proxy/proxy.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createLogger } from '../../src/telemetry/logger.js';
import { DEFAULT_SIDECAR_CONFIG } from '../../src/webhook/sidecar-patch.js';
import {
  controllerServiceAccountKubeconfig,
  createNamespace,
  installCRDs,
  mustKubectl,
  podBoundToken,
} from '../support/cluster.js';
import {
  ADMIN_TOKEN,
  backendObject,
  ClusterHandle,
  routeObject,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../testenv/controlplane.js';

const CASE_TIMEOUT_MS = 120_000;
const CONTROLLER_NS = 'modelroute-system';

let cluster: ClusterHandle;
let sim: SimulatedBackend;
let controller: RunningController;
let credentialsUrl: string;
let ca: string;
const proxies: Record<'a' | 'b', RunningProxy> = {} as Record<'a' | 'b', RunningProxy>;
const podTokens: Record<'a' | 'b', string> = { a: '', b: '' };
/** Every log line of the controller and of the proxies. */
const logs: string[] = [];
const logger = (component: string) =>
  createLogger({ level: 'debug', write: (line) => logs.push(`${component} ${line}`) });

/** The Pod object an injected sidecar pod is, as far as the controller and TokenReview see it. */
function createProxyPod(name: string, adminPort: number): void {
  cluster.apply([
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name,
        labels: { 'modelroute.io/proxy': 'true' },
        // What the injector writes when the credential channel is on.
        annotations: {
          'modelroute.io/admin-port': String(adminPort),
          'modelroute.io/admin-token': 'delivered',
        },
      },
      spec: { serviceAccountName: 'app', containers: [{ name: 'app', image: 'app:test' }] },
    },
  ]);
}

interface Conditioned {
  status?: { conditions?: { type: string; status: string; reason: string; message: string }[] };
}
const programmed = () =>
  cluster
    .json<Conditioned>(['get', 'modelroute', 'chat'])
    .status?.conditions?.find((c) => c.type === 'Programmed');

const adminGet = (proxy: RunningProxy, token: string) =>
  fetch(`${proxy.adminUrl}/admin/v1/stats`, { headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  installCRDs();
  const kubeconfig = controllerServiceAccountKubeconfig();
  cluster = new ClusterHandle(createNamespace('admintok'));
  sim = await startSimulatedBackend({ models: ['gpt-upstream'] });
  cluster.apply([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'app' } },
    backendObject('gpt', sim),
    routeObject('chat', ['gpt']),
  ]);

  const webhookPort = await freePort();
  controller = await startController({
    kubeconfigPath: kubeconfig,
    namespace: cluster.namespace,
    adminToken: ADMIN_TOKEN,
    identity: 'admintok-test',
    leaseNamespace: CONTROLLER_NS,
    leaseName: `modelroute-controller-${cluster.namespace}`,
    logger: logger('controller'),
    webhook: {
      host: '127.0.0.1',
      port: webhookPort,
      serviceName: 'modelroute-webhook',
      namespace: CONTROLLER_NS,
      secretName: 'modelroute-webhook-cert',
      // None exists: only the credential endpoint is used here, no pod is admitted.
      configName: `modelroute-admintok-${cluster.namespace}`,
      extraSans: ['127.0.0.1'],
      sidecar: { ...DEFAULT_SIDECAR_CONFIG, image: 'modelroute:test' },
      retryIntervalMs: 500,
    },
  });
  credentialsUrl = `https://127.0.0.1:${webhookPort}${CREDENTIALS_PATH}`;
  await eventually(() => {
    const data = JSON.parse(
      mustKubectl(['get', 'secret', 'modelroute-webhook-cert', '-n', CONTROLLER_NS, '-o', 'json']),
    ) as { data: Record<string, string> };
    ca = Buffer.from(data.data['ca.crt'] ?? '', 'base64').toString('utf8');
    expect(ca).toContain('BEGIN CERTIFICATE');
  }, 30_000);

  for (const key of ['a', 'b'] as const) {
    const name = `proxy-${key}`;
    // The port is chosen before the proxy binds it (the pod's annotation names it first);
    // on a loopback address of its own no other test's server takes it meanwhile.
    const host = `127.${1 + randomInt(250)}.${randomInt(250)}.${1 + randomInt(250)}`;
    const adminPort = await freePort(host);
    createProxyPod(name, adminPort);
    podTokens[key] = podBoundToken(cluster.namespace, 'app', name);
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'modelroute-token-')), 'token');
    writeFileSync(tokenFile, podTokens[key]);
    // What the injector runs when the credential channel is on: no admin token configured.
    proxies[key] = await startProxy({
      host,
      adminPort,
      logger: logger(name),
      namespace: cluster.namespace,
      credentialDelivery: { url: credentialsUrl, ca, tokenFile, namespace: cluster.namespace },
    });
    // The controller pushes to the proxy's admin port at the pod IP.
    cluster.markRunning(name, host);
  }
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  await Promise.all(Object.values(proxies).map((p) => p.close()));
  await sim?.close();
  if (cluster) mustKubectl(['delete', 'namespace', cluster.namespace, '--wait=false']);
});

test(
  'proxies in a namespace without any Secret are programmed by the controller and serve',
  async () => {
    await eventually(
      () =>
        expect(programmed()).toMatchObject({
          status: 'True',
          message: expect.stringMatching(/^2\/2 proxies run route version/) as unknown,
        }),
      60_000,
    );
    for (const proxy of Object.values(proxies)) {
      const client = new OpenAI({
        baseURL: `${proxy.dataUrl}/v1`,
        apiKey: 'unused',
        maxRetries: 0,
      });
      const answer = await client.chat.completions.create({
        model: 'chat',
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(answer.choices[0]?.message.content).toBeTruthy();
    }
    expect(cluster.must(['get', 'secrets', '-n', cluster.namespace, '-o', 'name']).trim()).toBe('');
  },
  CASE_TIMEOUT_MS,
);

test(
  "the admin token pod A was given moves pod A only: pod B's admin port answers 401",
  async () => {
    const { Agent, request } = await import('undici');
    const dispatcher = new Agent({ connect: { ca } });
    let tokenOfA: string | undefined;
    try {
      // What anyone holding pod A's projected token (or A's memory) could obtain.
      const res = await request(credentialsUrl, {
        method: 'POST',
        dispatcher,
        headers: { authorization: `Bearer ${podTokens.a}`, 'content-type': 'application/json' },
        body: JSON.stringify({ backendIds: [] }),
      });
      expect(res.statusCode).toBe(200);
      tokenOfA = credentialsResponse.parse(await res.body.json()).adminToken;
    } finally {
      await dispatcher.close();
    }
    const uidOfA = cluster.must([
      'get',
      'pod',
      'proxy-a',
      '-n',
      cluster.namespace,
      '-o',
      'jsonpath={.metadata.uid}',
    ]);
    expect(tokenOfA).toBe(podAdminToken(ADMIN_TOKEN, cluster.namespace, 'proxy-a', uidOfA));
    expect((await adminGet(proxies.a, tokenOfA!)).status).toBe(200);
    expect((await adminGet(proxies.b, tokenOfA!)).status).toBe(401);
    // Neither takes the fleet token: none was ever configured in their namespace.
    expect((await adminGet(proxies.b, ADMIN_TOKEN)).status).toBe(401);
    // Nothing logged it, on either side.
    const all = logs.join('\n');
    expect(all).toContain('"adminAccessDelivered":true');
    expect(all).not.toContain(tokenOfA);
    expect(all).not.toContain(ADMIN_TOKEN);
  },
  CASE_TIMEOUT_MS,
);
