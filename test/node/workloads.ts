// What the real-node tests run on the cluster besides the chart: simulated
// backends as pods behind Services, and the waits and diagnostics around
// them. kubectl calls go through test/support/cluster.ts, pointed at the
// node cluster by useNodeCluster().
import OpenAI from 'openai';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { mustKubectlAsync, parseTable } from '../support/cluster.js';
import type { SampleBackend } from '../support/e2e-story.js';
import { eventually } from '../support/eventually.js';
import { binaryPaths } from '../testenv/paths.js';
import type { NodeCluster } from './cluster.js';
import { podNetns } from './containerd.js';
import { forwardPodPort, type PodPort } from './pod-port.js';

export const SIM_PORT = 8000;

/** Points test/support/cluster.ts's kubectl and helm helpers at this cluster. */
export function useNodeCluster(cluster: NodeCluster): void {
  const bins = binaryPaths();
  process.env.MODELROUTE_TEST_KUBECONFIG = cluster.kubeconfig;
  process.env.MODELROUTE_TEST_KUBECTL = bins.kubectl;
  process.env.MODELROUTE_TEST_HELM = bins.helm;
}

/** kubectl in one namespace, without blocking the event loop. */
export function kubectlIn(namespace: string): (args: string[], input?: string) => Promise<string> {
  return (args, input) => mustKubectlAsync([...args, '-n', namespace], input);
}

/** A simulated backend as a pod of `image`: its model, its Secret's key required. */
export function simulatorPod(backend: SampleBackend, image: string): object {
  const secret = backend.spec.secretRef?.name;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `sim-${backend.metadata.name}`, labels: { sim: backend.metadata.name } },
    spec: {
      containers: [
        {
          name: 'simulator',
          image,
          imagePullPolicy: 'Never',
          args: [
            'simulate-backend',
            '--host=0.0.0.0',
            `--port=${SIM_PORT}`,
            `--model=${backend.spec.model}`,
            ...(secret ? ['--require-api-key-env=API_KEY'] : []),
          ],
          env: secret
            ? [{ name: 'API_KEY', valueFrom: { secretKeyRef: { name: secret, key: 'apiKey' } } }]
            : [],
          readinessProbe: { tcpSocket: { port: SIM_PORT }, periodSeconds: 1 },
          securityContext: {
            readOnlyRootFilesystem: true,
            runAsNonRoot: true,
            allowPrivilegeEscalation: false,
          },
        },
      ],
    },
  };
}

export function simulatorService(backend: string): object {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: `sim-${backend}` },
    spec: { selector: { sim: backend }, ports: [{ port: SIM_PORT, targetPort: SIM_PORT }] },
  };
}

export async function routeRows(
  namespace: string,
  wide = false,
): Promise<Map<string, Record<string, string>>> {
  const table = parseTable(
    await kubectlIn(namespace)(['get', 'mr', ...(wide ? ['-o', 'wide'] : [])]),
  );
  return new Map(table.map((row) => [row.NAME ?? '', row]));
}

/** The last lines of every container log of the namespace, for a failure message. */
export function podLogTails(cluster: NodeCluster | undefined, namespace: string): string {
  if (!cluster) return '';
  const dir = join(cluster.dir, 'pod-logs');
  const out: string[] = [];
  for (const pod of readdirSync(dir).filter((d) => d.startsWith(`${namespace}_`))) {
    for (const container of readdirSync(join(dir, pod))) {
      for (const file of readdirSync(join(dir, pod, container))) {
        const lines = readFileSync(join(dir, pod, container, file), 'utf8').split('\n');
        out.push(`--- ${pod}/${container}/${file}`, ...lines.slice(-15));
      }
    }
  }
  return out.join('\n');
}

/** Every pod of the namespace Ready (kubectl wait in short rounds: the helpers' calls time out at 60 s). */
export async function waitForPodsReady(cluster: NodeCluster, namespace: string): Promise<void> {
  const kubectl = kubectlIn(namespace);
  try {
    await eventually(
      async () => {
        await kubectl(['wait', '--for=condition=Ready', 'pod', '--all', '--timeout=30s']);
      },
      240_000,
      1000,
    );
  } catch (err) {
    const pods = await kubectl(['get', 'pods', '-o', 'wide']).catch(() => '');
    throw new Error(`${(err as Error).message}\n${pods}\n${podLogTails(cluster, namespace)}`);
  }
}

/**
 * The openai client as the app in `pod` uses its sidecar: requests enter the
 * pod's network namespace and reach the proxy on the pod's 127.0.0.1.
 */
export async function sidecarClient(
  cluster: NodeCluster,
  namespace: string,
  pod: string,
  port: number,
): Promise<{ client: OpenAI; port: PodPort }> {
  const forwarded = await forwardPodPort(podNetns(cluster.containerd, namespace, pod), port);
  const client = new OpenAI({
    baseURL: `http://${pod}/v1`,
    apiKey: 'unused',
    fetch: forwarded.fetch as unknown as typeof fetch,
  });
  return { client, port: forwarded };
}

/** The openai client at a Service's ClusterIP (kube-proxy), from the node. */
export async function serviceClient(
  namespace: string,
  service: string,
  apiKey: string,
): Promise<OpenAI> {
  const svc = JSON.parse(await kubectlIn(namespace)(['get', 'service', service, '-o', 'json'])) as {
    spec: { clusterIP: string; ports: { port: number }[] };
  };
  return new OpenAI({
    baseURL: `http://${svc.spec.clusterIP}:${svc.spec.ports[0]?.port ?? 80}/v1`,
    apiKey,
  });
}
