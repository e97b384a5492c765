// End to end on the real API server, the way a user meets modelroute: helm
// install → kubectl apply the samples → proxies programmed → traffic through
// an injected sidecar and the shared gateway with the openai client → a
// backend fails → `kubectl get modelroutes` shows the failover while requests
// keep succeeding → it recovers.
//
// What stands in for a cluster's nodes (there is no kubelet, scheduler,
// controller-manager, cluster DNS or kube-proxy here):
// - the chart's controller and gateway Deployments get their pods created from
//   their templates, and loopback-kubelet.ts runs those pods' containers as
//   local processes on loopback pod IPs, with the env, Secrets and args the
//   API server holds for them;
// - the API server calls the webhook at the controller pod's IP instead of
//   through its Service;
// - the samples' backends name hosted providers and in-cluster Services: once
//   applied, each is pointed at a simulated backend speaking its provider's
//   dialect, serving its model, and requiring the API key from its Secret.
import OpenAI from 'openai';
import { join } from 'node:path';
import { simulatorEndpoint } from '../../src/proxy/local/dev-mode.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import {
  REPO_ROOT,
  createNamespace,
  helm,
  installCRDs,
  mustKubectlAsync,
  parseTable,
} from '../support/cluster.js';
import {
  API_KEYS,
  GATEWAY_KEY,
  chat,
  expectFailoverShown,
  expectRecovered,
  expectRoutesPickTheirBackends,
  expectSampleRoutesProgrammed,
  expectServedThroughFailover,
  startStoryTraffic,
  storyTenants,
  type SampleBackend,
  type Traffic,
} from '../support/e2e-story.js';
import { eventually } from '../support/eventually.js';
import { freePort } from '../testenv/controlplane.js';
import { CHART_DIR, valuesFile } from './chart.js';
import { createPodFromDeployment, runPod, type PodProcess } from './loopback-kubelet.js';
import { mustHelm, releaseServiceAccountKubeconfig } from './release.js';

/** Each case's bounded waits decide; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 180_000;
// Pod IPs: loopback addresses no other suite uses.
const CONTROLLER_IP = '127.0.9.1';
const GATEWAY_IP = '127.0.9.2';
const APP_IP = '127.0.9.3';
let namespace: string;
let release: string;
const pods: PodProcess[] = [];
const sims = new Map<string, SimulatedBackend>();
const simulatorOf = (backend: string): SimulatedBackend => {
  const sim = sims.get(backend);
  if (!sim) throw new Error(`no simulator for ModelBackend ${backend}`);
  return sim;
};
let sidecar: OpenAI;
let gateway: OpenAI;

/** kubectl in this namespace, without blocking the simulators this process serves. */
function kubectl(args: string[], input?: string): Promise<string> {
  return mustKubectlAsync([...args, '-n', namespace], input);
}

async function routeRows(wide = false): Promise<Map<string, Record<string, string>>> {
  const table = parseTable(await kubectl(['get', 'modelroutes', ...(wide ? ['-o', 'wide'] : [])]));
  return new Map(table.map((row) => [row.NAME ?? '', row]));
}

/** A simulator per ModelBackend: its provider's dialect, its model, its Secret's key. */
async function simulateBackend(backend: SampleBackend, port = 0): Promise<SimulatedBackend> {
  const secret = backend.spec.secretRef?.name;
  return startSimulatedBackend({
    port,
    models: [backend.spec.model],
    requireApiKey: secret ? API_KEYS[secret] : undefined,
  });
}

beforeAll(async () => {
  installCRDs(); // kubectl-managed CRDs: the chart installs with crds.install=false (README path)
  namespace = createNamespace('e2e');
  release = namespace;
  for (const [name, key] of Object.entries(API_KEYS))
    await kubectl(['create', 'secret', 'generic', name, `--from-literal=apiKey=${key}`]);

  const [healthPort, webhookPort, gatewayPort, gatewayAdminPort, sidecarPort, sidecarAdminPort] =
    await Promise.all(Array.from({ length: 6 }, () => freePort()));
  const values = {
    crds: { install: false },
    // New traffic figures reach status within seconds, not the default 5 minutes.
    controller: { healthPort, usageInterval: '1s' },
    webhook: {
      port: webhookPort,
      // Cluster-scoped: named for this suite and kept to its namespace.
      configName: `modelroute-sidecar-injector-${namespace}`,
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': namespace } },
    },
    gateway: {
      enabled: true,
      replicas: 1,
      port: gatewayPort,
      adminPort: gatewayAdminPort,
      credentialsSecrets: Object.keys(API_KEYS),
    },
  };
  mustHelm(['install', release, CHART_DIR, '-n', namespace, '-f', valuesFile(values)]);
  await kubectl([
    'patch',
    'mutatingwebhookconfiguration',
    `modelroute-sidecar-injector-${namespace}`,
    '--type=json',
    '-p',
    JSON.stringify([
      {
        op: 'replace',
        path: '/webhooks/0/clientConfig',
        value: { url: `https://${CONTROLLER_IP}:${webhookPort}/mutate-pods` },
      },
    ]),
  ]);

  // The controller: one replica of the chart's Deployment, as its ServiceAccount.
  await createPodFromDeployment(namespace, `${release}-controller`, `${release}-controller-0`);
  pods.push(
    await runPod({
      namespace,
      pod: `${release}-controller-0`,
      container: 'controller',
      ip: CONTROLLER_IP,
      env: { KUBECONFIG: releaseServiceAccountKubeconfig(release, namespace) },
      extraArgs: [`--webhook-host=${CONTROLLER_IP}`, `--webhook-extra-san=${CONTROLLER_IP}`],
    }),
  );

  // The samples, as a user applies them; then their backends become simulators.
  await kubectl(['apply', '-f', join(REPO_ROOT, 'manifests', 'samples')]);
  await kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: storyTenants() }),
  );
  const backends = JSON.parse(await kubectl(['get', 'modelbackends', '-o', 'json'])) as {
    items: SampleBackend[];
  };
  for (const backend of backends.items) {
    const sim = await simulateBackend(backend);
    sims.set(backend.metadata.name, sim);
    await kubectl([
      'patch',
      'modelbackend',
      backend.metadata.name,
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: { endpoint: simulatorEndpoint(backend.spec.provider, sim.url), serviceRef: null },
      }),
    ]);
  }

  // The shared gateway: one replica of the chart's gateway Deployment.
  await createPodFromDeployment(namespace, `${release}-gateway`, `${release}-gateway-0`);
  pods.push(
    await runPod({ namespace, pod: `${release}-gateway-0`, container: 'proxy', ip: GATEWAY_IP }),
  );

  // An app that asks for a sidecar. The webhook needs the controller's CA in
  // place first; until then the API server refuses the pod (failurePolicy Fail).
  const app = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'assistant',
      labels: { app: 'assistant', 'modelroute.io/inject': 'true' },
      annotations: {
        'modelroute.io/proxy-port': String(sidecarPort),
        'modelroute.io/proxy-admin-port': String(sidecarAdminPort),
      },
    },
    spec: { containers: [{ name: 'app', image: 'example.invalid/assistant:1' }] },
  });
  await eventually(
    async () => {
      await kubectl(['create', '-f', '-'], app);
    },
    60_000,
    1000,
  );
  pods.push(
    await runPod({
      namespace,
      pod: 'assistant',
      container: 'modelroute-proxy',
      ip: APP_IP,
      // No cluster DNS here: the webhook Service's name is the controller's address. Over this
      // channel the sidecar gets its admin token (its namespace holds no copy).
      extraArgs: [`--credentials-url=https://${CONTROLLER_IP}:${webhookPort}/v1/credentials`],
    }),
  );

  sidecar = new OpenAI({ baseURL: `http://${APP_IP}:${sidecarPort}/v1`, apiKey: 'unused' });
  gateway = new OpenAI({ baseURL: `http://${GATEWAY_IP}:${gatewayPort}/v1`, apiKey: GATEWAY_KEY });
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await Promise.all(pods.map((p) => p.stop()));
  await Promise.all([...sims.values()].map((s) => s.close()));
  // Leaves nothing cluster-scoped behind (the webhook configuration, the ClusterRole).
  if (release) helm(['uninstall', release, '-n', namespace, '--wait=false']);
}, CASE_TIMEOUT_MS);

test(
  'the labelled app pod came back with the proxy sidecar and the credential Secrets its routes reference',
  async () => {
    const pod = JSON.parse(await kubectl(['get', 'pod', 'assistant', '-o', 'json'])) as {
      metadata: { labels: Record<string, string>; annotations: Record<string, string> };
      spec: {
        containers: { name: string }[];
        initContainers: { name: string; restartPolicy?: string }[];
        volumes: { secret?: { secretName: string } }[];
      };
    };
    // A native sidecar (the chart's default): a restartable init container.
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['app']);
    expect(pod.spec.initContainers).toEqual([
      expect.objectContaining({ name: 'modelroute-proxy', restartPolicy: 'Always' }),
    ]);
    expect(pod.metadata.labels['modelroute.io/proxy']).toBe('true');
    // Its admin token is delivered by the controller: no Secret reference for it.
    expect(pod.metadata.annotations['modelroute.io/admin-token']).toBe('delivered');
    expect(JSON.stringify(pod.spec)).not.toContain('admin-token');
    const secrets = pod.spec.volumes.flatMap((v) => (v.secret ? [v.secret.secretName] : []));
    expect(secrets.sort()).toEqual(Object.keys(API_KEYS).sort());
  },
  CASE_TIMEOUT_MS,
);

test(
  'kubectl get modelroutes: every sample route Ready and programmed on its proxies, every backend healthy',
  async () => {
    await eventually(
      async () => {
        expectSampleRoutesProgrammed(await routeRows());
      },
      90_000,
      500,
    );
  },
  CASE_TIMEOUT_MS,
);

test(
  'the openai client through the sidecar and the gateway reaches the backend each route picks',
  async () => {
    await expectRoutesPickTheirBackends(sidecar, gateway, namespace);
  },
  CASE_TIMEOUT_MS,
);

test(
  'gpt-4o-mini goes down: every request still succeeds, and kubectl get modelroutes shows the failover until it recovers',
  async () => {
    const mini = simulatorOf('gpt-4o-mini');
    const port = Number(new URL(mini.url).port);
    await mini.close();

    // Traffic through both proxies for as long as the failover takes to show.
    const traffic = startStoryTraffic(sidecar, gateway);
    let result: Awaited<ReturnType<Traffic['stop']>>;
    try {
      await eventually(async () => expectFailoverShown(await routeRows(true)), 90_000, 500);
      const status = JSON.parse(await kubectl(['get', 'modelroute', 'support-bot', '-o', 'json']))
        .status as { lastFailover: Record<string, string> };
      expect(status.lastFailover).toMatchObject({
        from: 'gpt-4o-mini',
        to: 'vllm-qwen-32b',
        reason: expect.stringContaining('gpt-4o-mini became Unhealthy') as string,
      });
      const backendRow = parseTable(await kubectl(['get', 'modelbackends'])).find(
        (r) => r.NAME === 'gpt-4o-mini',
      );
      expect(backendRow?.HEALTH).toBe('Unhealthy');
    } finally {
      result = await traffic.stop();
    }
    expectServedThroughFailover(result, namespace);

    // It comes back on the same address: Healthy again, the failover recorded as recovered.
    sims.set(
      'gpt-4o-mini',
      await simulateBackend(
        {
          metadata: { name: 'gpt-4o-mini' },
          spec: {
            provider: 'openai',
            model: 'gpt-4o-mini',
            secretRef: { name: 'openai-credentials' },
          },
        },
        port,
      ),
    );
    await eventually(
      async () => {
        expectRecovered(await routeRows(true));
        expect((await chat(sidecar, 'support-bot')).backend).toBe(`${namespace}/gpt-4o-mini`);
      },
      90_000,
      500,
    );
  },
  CASE_TIMEOUT_MS,
);

test(
  "kubectl get modelroutes shows what each route's traffic cost in the last hour",
  async () => {
    await eventually(
      async () => {
        const rows = await routeRows();
        // Dozens of requests went through both proxies in the failover case.
        expect(Number(rows.get('support-bot')?.['REQUESTS/1H'])).toBeGreaterThan(30);
        expect(Number(rows.get('shared-chat')?.['REQUESTS/1H'])).toBeGreaterThan(10);
        // gpt-4o-mini and gpt-4o are priced in the samples (vllm-qwen is not);
        // the simulators report token usage.
        expect(Number(rows.get('support-bot')?.['COST/1H (USD)'])).toBeGreaterThan(0);
        expect(Number(rows.get('shared-chat')?.['COST/1H (USD)'])).toBeGreaterThan(0);
      },
      60_000,
      1000,
    );
    const usage = (
      JSON.parse(await kubectl(['get', 'modelroute', 'support-bot', '-o', 'json'])) as {
        status: { usage: { window: string; requests: number; costUSD: number } };
      }
    ).status.usage;
    expect(usage.window).toBe('1h');
  },
  CASE_TIMEOUT_MS,
);
