// helm upgrade from the previous release on a real node, with traffic
// flowing: the 0.1.0 chart and image (built from git history, commit in
// test/support/previous-release.ts) installed, an app pod with a 0.1.0
// sidecar, requests running without pause through the sidecar and the
// gateway, then `helm upgrade` to this tree's chart and image. The
// controller and the gateway roll; the sidecar stays 0.1.0 (sidecars change
// only when apps redeploy, docs/version-skew.md) and must keep being
// programmed. Not one request may fail.
import type OpenAI from 'openai';
import { join } from 'node:path';
import { CHART_DIR, valuesFile } from '../install/chart.js';
import { mustHelm } from '../install/release.js';
import { ensureImage, type BuiltImage } from '../image/build.js';
import { chat, GATEWAY_KEY, storyTenants, type SampleBackend } from '../support/e2e-story.js';
import { eventually } from '../support/eventually.js';
import { PREVIOUS_RELEASE, checkoutPreviousRelease } from '../support/previous-release.js';
import { startNodeCluster, type NodeCluster } from './cluster.js';
import { PAUSE_IMAGE } from './images.js';
import type { PodPort } from './pod-port.js';
import {
  SIM_PORT,
  kubectlIn,
  podLogTails,
  routeRows,
  serviceClient,
  sidecarClient,
  simulatorPod,
  simulatorService,
  useNodeCluster,
  waitForPodsReady,
} from './workloads.js';

const CASE_TIMEOUT_MS = 300_000;
/** Cold: two image builds (this tree's and the previous release's) come first. */
const SETUP_TIMEOUT_MS = 1_200_000;
const NAMESPACE = 'upgrade';
const RELEASE = 'modelroute';
const SIDECAR_PORT = 8080;
const kubectl = kubectlIn(NAMESPACE);

let cluster: NodeCluster | undefined;
let previous: BuiltImage;
let current: BuiltImage;
let previousChart: string;
let sidecarPort: PodPort | undefined;
let sidecar: OpenAI;
let gateway: OpenAI;
const started = Date.now();
const mark = (what: string) =>
  process.stderr.write(
    `real-node-upgrade: ${what} at ${Math.round((Date.now() - started) / 1000)} s\n`,
  );

/** One key-less in-cluster backend (0.1.0's sidecar cannot read mounted keys; see docs/testing-real-node.md). */
const BACKEND: SampleBackend = {
  metadata: { name: 'vllm' },
  spec: { provider: 'openai-compatible', model: 'qwen' },
};

/** The same values for both charts: one controller, one gateway, the image given. */
function releaseValues(image: BuiltImage): string {
  const [repository, tag] = image.ref.split(/:(?=[^:]+$)/);
  return valuesFile({
    image: { repository, tag, pullPolicy: 'Never' },
    controller: { replicas: 1 },
    gateway: { enabled: true, replicas: 1 },
  });
}

beforeAll(async () => {
  const source = checkoutPreviousRelease();
  previousChart = join(source, 'charts', 'modelroute');
  previous = ensureImage({
    sourceDir: source,
    tag: `localhost/modelroute:${PREVIOUS_RELEASE.version}`,
  });
  current = ensureImage();
  mark('images ready');
  cluster = await startNodeCluster();
  cluster.importImage(previous.archive);
  cluster.importImage(current.archive);
  useNodeCluster(cluster);
  mark('cluster up, images imported');

  await kubectl(['create', 'namespace', NAMESPACE]).catch(() => undefined);
  mustHelm(['install', RELEASE, previousChart, '-n', NAMESPACE, '-f', releaseValues(previous)]);
  await waitForPodsReady(cluster, NAMESPACE);
  mark(`release ${PREVIOUS_RELEASE.version} installed`);

  await kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'List',
      items: [
        ...storyTenants(),
        simulatorPod(BACKEND, previous.ref),
        simulatorService(BACKEND.metadata.name),
        {
          apiVersion: 'modelroute.io/v1alpha1',
          kind: 'ModelBackend',
          metadata: { name: BACKEND.metadata.name },
          spec: {
            provider: 'openai-compatible',
            model: BACKEND.spec.model,
            serviceRef: { name: `sim-${BACKEND.metadata.name}`, port: SIM_PORT, path: '/v1' },
          },
        },
        {
          apiVersion: 'modelroute.io/v1alpha1',
          kind: 'ModelRoute',
          metadata: { name: 'chat' },
          spec: {
            model: 'chat',
            rules: [{ name: 'all', backendRefs: [{ name: BACKEND.metadata.name }] }],
          },
        },
      ],
    }),
  );
  await eventually(
    async () => {
      expect((await routeRows(NAMESPACE)).get('chat')).toMatchObject({ PROGRAMMED: '1/1' });
    },
    120_000,
    1000,
  );
  const app = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'assistant', labels: { app: 'assistant', 'modelroute.io/inject': 'true' } },
    spec: { containers: [{ name: 'app', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }] },
  });
  await eventually(
    async () => {
      await kubectl(['create', '-f', '-'], app);
    },
    60_000,
    1000,
  );
  await waitForPodsReady(cluster, NAMESPACE);
  const inPod = await sidecarClient(cluster, NAMESPACE, 'assistant', SIDECAR_PORT);
  sidecar = inPod.client;
  sidecarPort = inPod.port;
  gateway = await serviceClient(NAMESPACE, `${RELEASE}-gateway`, GATEWAY_KEY);
  await eventually(
    async () => {
      expect((await routeRows(NAMESPACE)).get('chat')).toMatchObject({ PROGRAMMED: '2/2' });
      expect((await chat(sidecar, 'chat')).backend).toBe(`${NAMESPACE}/vllm`);
      expect((await chat(gateway, 'chat')).backend).toBe(`${NAMESPACE}/vllm`);
    },
    120_000,
    1000,
  );
  mark('traffic flows on the previous release');
}, SETUP_TIMEOUT_MS);

afterAll(async () => {
  await sidecarPort?.close();
  await cluster?.stop();
}, CASE_TIMEOUT_MS);

test(
  `helm upgrade from ${PREVIOUS_RELEASE.version} to this chart and image: the controller and the gateway roll, the ${PREVIOUS_RELEASE.version} sidecar stays programmed, and no request fails`,
  async () => {
    const failures: string[] = [];
    const sent = { sidecar: 0, gateway: 0 };
    let running = true;
    const loop = async (client: OpenAI, via: 'sidecar' | 'gateway') => {
      while (running) {
        sent[via] += 1;
        try {
          await chat(client, 'chat');
        } catch (err) {
          failures.push(`${via}: ${(err as Error).message}`);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const traffic = Promise.all([loop(sidecar, 'sidecar'), loop(gateway, 'gateway')]);
    try {
      // As the README advises: a values file, not --reuse-values.
      mustHelm(['upgrade', RELEASE, CHART_DIR, '-n', NAMESPACE, '-f', releaseValues(current)]);
      mark('helm upgrade applied');
      // The rollouts finish: every pod Ready runs this tree's image, except the
      // app's sidecar, which keeps 0.1.0 until the app redeploys.
      await eventually(
        async () => {
          const pods = JSON.parse(
            await kubectl(['get', 'pods', '-l', 'app.kubernetes.io/name=modelroute', '-o', 'json']),
          ) as {
            items: {
              metadata: { deletionTimestamp?: string };
              spec: { containers: { image: string }[] };
            }[];
          };
          const images = pods.items.map((p) => p.spec.containers[0]?.image);
          expect(pods.items.every((p) => !p.metadata.deletionTimestamp)).toBe(true);
          expect(new Set(images)).toEqual(new Set([current.ref]));
        },
        240_000,
        1000,
      );
      await waitForPodsReady(cluster as NodeCluster, NAMESPACE);
      mark('controller and gateway rolled');
      // The app was not redeployed: its sidecar is still the previous release's.
      const app = JSON.parse(await kubectl(['get', 'pod', 'assistant', '-o', 'json'])) as {
        spec: { initContainers: { name: string; image: string }[] };
      };
      expect(app.spec.initContainers).toEqual([
        expect.objectContaining({ name: 'modelroute-proxy', image: previous.ref }),
      ]);
      await eventually(
        async () => {
          expect((await routeRows(NAMESPACE)).get('chat')).toMatchObject({
            READY: 'True',
            PROGRAMMED: '2/2',
          });
        },
        120_000,
        1000,
      );
      // Traffic keeps going a little after the roll, on the new gateway.
      const after = sent.gateway + 20;
      await eventually(() => expect(sent.gateway).toBeGreaterThan(after), 60_000, 200);
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${podLogTails(cluster, NAMESPACE)}`);
    } finally {
      running = false;
      await traffic;
    }
    mark(`upgrade done: ${JSON.stringify(sent)} requests, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect(sent.sidecar).toBeGreaterThan(20);
    expect(sent.gateway).toBeGreaterThan(20);
  },
  CASE_TIMEOUT_MS,
);
