// The single-node cluster itself: a pod runs on the real kubelet, with the
// ServiceAccount token and root CA a real cluster projects into it, and
// stopping the cluster leaves nothing on the host.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { binaryPaths } from '../testenv/paths.js';
import { eventually } from '../support/eventually.js';
import { NODE_NAME, startNodeCluster, type NodeCluster } from './cluster.js';
import { processesUsing } from './containerd.js';
import { leftovers } from './host-network.js';
import { PAUSE_IMAGE } from './images.js';

const TIMEOUT_MS = 240_000;
let cluster: NodeCluster | undefined;

function kubectl(args: string[], input?: string): string {
  if (!cluster) throw new Error('no cluster');
  const result = spawnSync(binaryPaths().kubectl, ['--kubeconfig', cluster.kubeconfig, ...args], {
    encoding: 'utf8',
    input,
  });
  if (result.status !== 0) throw new Error(`kubectl ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

beforeAll(async () => {
  cluster = await startNodeCluster();
}, TIMEOUT_MS);

afterAll(async () => {
  await cluster?.stop();
}, TIMEOUT_MS);

test(
  'a pod is scheduled to the node and Running in the pod network, with its projected ServiceAccount token',
  async () => {
    kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'sleeper', namespace: 'default' },
        spec: { containers: [{ name: 'pause', image: PAUSE_IMAGE, imagePullPolicy: 'Never' }] },
      }),
    );
    await eventually(
      () => {
        const pod = JSON.parse(kubectl(['get', 'pod', 'sleeper', '-o', 'json'])) as {
          spec: { nodeName?: string; volumes?: { projected?: unknown }[] };
          status: { phase: string; podIP?: string };
        };
        expect(pod.spec.nodeName).toBe(NODE_NAME);
        expect(pod.status.phase).toBe('Running');
        expect(pod.status.podIP).toMatch(/^10\.77\.([1-9]|[1-9]\d|1[01]\d|12[0-7])\.\d+$/);
        // ServiceAccount admission added the token volume, which the kubelet
        // could only mount because kube-controller-manager published the root CA.
        expect(pod.spec.volumes?.some((v) => v.projected)).toBe(true);
        return Promise.resolve();
      },
      60_000,
      500,
    );
  },
  TIMEOUT_MS,
);

test(
  'stopping the cluster leaves no process, bridge, veth, iptables rule, cgroup or directory behind',
  async () => {
    const stopped = cluster;
    if (!stopped) throw new Error('no cluster');
    cluster = undefined;
    await stopped.stop();
    expect(leftovers(stopped.net)).toEqual([]);
    expect(processesUsing(stopped.dir)).toEqual([]);
    expect(existsSync(stopped.dir)).toBe(false);
  },
  TIMEOUT_MS,
);
