// End to end on a real node, the way a platform team meets modelroute: the
// image imported into containerd → helm install → kubectl apply the samples
// → a native sidecar injected by the webhook (called by kube-apiserver
// through its Service) → traffic with the openai client through the sidecar
// and the gateway → a backend's pod killed → `kubectl get mr` shows the
// failover while requests keep succeeding → it recovers.
//
// Everything runs as real pods on a real kubelet (test/node/cluster.ts): the
// controller and gateway from the chart, the simulated backends (the image's
// `simulate-backend`, one pod and Service per sample ModelBackend), and the
// app pod with its injected sidecar. Names resolve through the cluster's
// DNS (Services only; see cluster-dns.ts): backends by serviceRef, and the
// sidecar's credential URL https://<webhook service>.<namespace>.svc.
import type OpenAI from 'openai';
import { join } from 'node:path';
import { simulatorEndpoint } from '../../src/proxy/local/dev-mode.js';
import { REPO_ROOT, mustKubectlAsync, parseTable } from '../support/cluster.js';
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
import { CHART_DIR, valuesFile } from '../install/chart.js';
import { mustHelm } from '../install/release.js';
import { ensureImage, type BuiltImage } from '../image/build.js';
import { startNodeCluster, type NodeCluster } from './cluster.js';
import { PAUSE_IMAGE } from './images.js';
import type { PodPort } from './pod-port.js';
import {
  SIM_PORT,
  kubectlIn,
  routeRows,
  serviceClient,
  sidecarClient,
  simulatorPod,
  simulatorService,
  useNodeCluster,
  waitForPodsReady,
} from './workloads.js';

/** Each case's bounded waits decide; this only stops a case that hangs. */
const CASE_TIMEOUT_MS = 240_000;
/** Cold: the image build (minutes on 2 cores) comes first. */
const SETUP_TIMEOUT_MS = 900_000;
const NAMESPACE = 'e2e';
const RELEASE = 'modelroute';
/** The sidecar's default data port (the chart's webhook injects it). */
const SIDECAR_PORT = 8080;

let cluster: NodeCluster | undefined;
let image: BuiltImage;
let sidecarPort: PodPort | undefined;
let sidecar: OpenAI;
let gateway: OpenAI;
const timings: Record<string, number> = {};
const started = Date.now();
const mark = (what: string) => {
  timings[what] = Math.round((Date.now() - started) / 1000);
  process.stderr.write(`real-node-e2e: ${what} at ${timings[what]} s\n`);
};

const kubectl = kubectlIn(NAMESPACE);

beforeAll(async () => {
  image = ensureImage();
  mark('image ready');
  cluster = await startNodeCluster();
  cluster.importImage(image.archive);
  mark('cluster up, image imported');
  useNodeCluster(cluster);

  await mustKubectlAsync(['create', 'namespace', NAMESPACE]);
  for (const [name, key] of Object.entries(API_KEYS))
    await kubectl(['create', 'secret', 'generic', name, `--from-literal=apiKey=${key}`]);

  const [repository, tag] = image.ref.split(/:(?=[^:]+$)/);
  const values = {
    image: { repository, tag, pullPolicy: 'Never' },
    // New traffic figures reach status within seconds, not the default 5 minutes.
    controller: { replicas: 1, usageInterval: '1s' },
    gateway: { enabled: true, replicas: 1, credentialsSecrets: Object.keys(API_KEYS) },
  };
  mustHelm(['install', RELEASE, CHART_DIR, '-n', NAMESPACE, '-f', valuesFile(values)]);
  await waitForPodsReady(cluster, NAMESPACE);
  mark('helm install done, controller and gateway Ready');

  // The samples, as a user applies them; then each backend gets a simulator pod.
  await kubectl(['apply', '-f', join(REPO_ROOT, 'manifests', 'samples')]);
  await kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({ apiVersion: 'v1', kind: 'List', items: storyTenants() }),
  );
  const backends = (
    JSON.parse(await kubectl(['get', 'modelbackends', '-o', 'json'])) as { items: SampleBackend[] }
  ).items;
  await kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: backends.flatMap((b) => [
        simulatorPod(b, image.ref),
        simulatorService(b.metadata.name),
      ]),
    }),
  );
  // Each backend is served by its simulator's Service, found by cluster DNS
  // (http:// to a hosted provider's endpoint is refused, rightly, off localhost).
  for (const backend of backends) {
    const path = new URL(simulatorEndpoint(backend.spec.provider, 'http://sim')).pathname;
    await kubectl([
      'patch',
      'modelbackend',
      backend.metadata.name,
      '--type=merge',
      '-p',
      JSON.stringify({
        spec: {
          endpoint: null,
          serviceRef: { name: `sim-${backend.metadata.name}`, port: SIM_PORT, path },
        },
      }),
    ]);
  }

  // The app comes once the routes are programmed on the gateway: the webhook
  // mounts the credential Secrets of the routes the controller knows of then.
  await eventually(
    async () => {
      expect((await routeRows(NAMESPACE)).get('shared-chat')).toMatchObject({ PROGRAMMED: '1/1' });
    },
    120_000,
    1000,
  );
  mark('routes programmed on the gateway');

  // The app: a pod that asks for a sidecar. kube-apiserver calls the webhook
  // through its Service (kube-proxy); until the controller has written its CA
  // the API server refuses the pod (failurePolicy Fail), so retry.
  const app = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'assistant', labels: { app: 'assistant', 'modelroute.io/inject': 'true' } },
    spec: {
      containers: [{ name: 'app', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }],
    },
  });
  await eventually(
    async () => {
      await kubectl(['create', '-f', '-'], app);
    },
    60_000,
    1000,
  );
  await waitForPodsReady(cluster, NAMESPACE);
  mark('app and simulator pods Ready');

  const inPod = await sidecarClient(cluster, NAMESPACE, 'assistant', SIDECAR_PORT);
  sidecar = inPod.client;
  sidecarPort = inPod.port;
  gateway = await serviceClient(NAMESPACE, `${RELEASE}-gateway`, GATEWAY_KEY);
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await sidecarPort?.close();
  await cluster?.stop();
  process.stderr.write(`real-node-e2e: timings (s since start) ${JSON.stringify(timings)}\n`);
}, CASE_TIMEOUT_MS);

test(
  'the webhook, called through its Service, injected the proxy as a native sidecar that runs next to the app',
  async () => {
    const pod = JSON.parse(await kubectl(['get', 'pod', 'assistant', '-o', 'json'])) as {
      metadata: { labels: Record<string, string> };
      spec: {
        containers: { name: string }[];
        initContainers: { name: string; restartPolicy?: string }[];
        volumes: { secret?: { secretName: string } }[];
      };
      status: { initContainerStatuses: { name: string; ready: boolean; started: boolean }[] };
    };
    expect(pod.spec.containers.map((c) => c.name)).toEqual(['app']);
    expect(pod.spec.initContainers).toEqual([
      expect.objectContaining({ name: 'modelroute-proxy', restartPolicy: 'Always' }),
    ]);
    expect(pod.metadata.labels['modelroute.io/proxy']).toBe('true');
    const secrets = pod.spec.volumes.flatMap((v) => (v.secret ? [v.secret.secretName] : []));
    expect(secrets.sort()).toEqual(Object.keys(API_KEYS).sort());
    // The kubelet runs it as a sidecar: started and ready beside the app.
    expect(pod.status.initContainerStatuses).toEqual([
      expect.objectContaining({ name: 'modelroute-proxy', ready: true, started: true }),
    ]);
  },
  CASE_TIMEOUT_MS,
);

test(
  'kubectl get mr: every sample route Ready and programmed on its proxies, every backend healthy',
  async () => {
    await eventually(
      async () => {
        expectSampleRoutesProgrammed(await routeRows(NAMESPACE));
      },
      120_000,
      1000,
    );
    mark('routes programmed');
  },
  CASE_TIMEOUT_MS,
);

test(
  'the openai client through the sidecar (inside the app pod) and the gateway (its ClusterIP) reaches the backend each route picks',
  async () => {
    await expectRoutesPickTheirBackends(sidecar, gateway, NAMESPACE);
  },
  CASE_TIMEOUT_MS,
);

test(
  "gpt-4o-mini's pod is killed: every request still succeeds, kubectl get mr shows the failover, and it recovers when the pod is back",
  async () => {
    const mini = JSON.parse(
      await kubectl(['get', 'modelbackend', 'gpt-4o-mini', '-o', 'json']),
    ) as SampleBackend;
    await kubectl(['delete', 'pod', 'sim-gpt-4o-mini', '--grace-period=1', '--wait=false']);

    const traffic = startStoryTraffic(sidecar, gateway, 100);
    let result: Awaited<ReturnType<Traffic['stop']>>;
    try {
      await eventually(
        async () => expectFailoverShown(await routeRows(NAMESPACE, true)),
        120_000,
        1000,
      );
      mark('failover shown');
      const status = (
        JSON.parse(await kubectl(['get', 'mr', 'support-bot', '-o', 'json'])) as {
          status: { lastFailover: Record<string, string> };
        }
      ).status;
      expect(status.lastFailover).toMatchObject({ from: 'gpt-4o-mini', to: 'vllm-qwen-32b' });
      // Traffic continues through the failover for a bounded number of requests.
      await eventually(() => expect(traffic.sent).toBeGreaterThan(30), 120_000, 200);
      const backendRow = parseTable(await kubectl(['get', 'mb'])).find(
        (r) => r.NAME === 'gpt-4o-mini',
      );
      // The whole health record on failure: its message says which check brought it back.
      const backend = JSON.parse(
        await kubectl(['get', 'mb', 'gpt-4o-mini', '-o', 'json']),
      ) as SampleBackend & { status?: { health?: unknown } };
      expect({ column: backendRow?.HEALTH, health: backend.status?.health }).toMatchObject({
        column: 'Unhealthy',
        health: { state: 'Unhealthy' },
      });
    } finally {
      result = await traffic.stop();
    }
    expectServedThroughFailover(result, NAMESPACE);

    // The pod comes back (a new pod IP behind the same Service): Healthy again.
    await kubectl(['apply', '-f', '-'], JSON.stringify(simulatorPod(mini, image.ref)));
    await eventually(
      async () => {
        expectRecovered(await routeRows(NAMESPACE, true));
        expect((await chat(sidecar, 'support-bot')).backend).toBe(`${NAMESPACE}/gpt-4o-mini`);
      },
      120_000,
      1000,
    );
    mark('recovered');
  },
  CASE_TIMEOUT_MS,
);
