// containerd for the real node: its own root, state and socket under the
// test's directory (never /var/lib/containerd), runc, and the bridge CNI on
// the test's own bridge. Configuration and traps: docs/testing-real-node.md.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { launch, waitFor } from '../testenv/controlplane.js';
import type { NodeNetwork } from './host-network.js';

export const CONTAINERD_NAMESPACE = 'k8s.io';

export interface Containerd {
  dir: string;
  socket: string;
  process: ChildProcess;
}

function config(dir: string, sandboxImage: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
[grpc]
  address = "${dir}/containerd.sock"
[plugins."io.containerd.internal.v1.opt"]
  path = "${dir}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${sandboxImage}"
  # Without it runc fails here: "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${dir}/cni"
    max_conf_num = 1
`;
}

/** The bridge CNI on the test's bridge: no masquerade (nothing leaves the bridge), no port maps. */
function cniConfig(dir: string, net: NodeNetwork): string {
  return JSON.stringify(
    {
      cniVersion: '1.0.0',
      name: net.bridge,
      plugins: [
        {
          type: 'bridge',
          bridge: net.bridge,
          isGateway: true,
          ipMasq: false,
          // A pod reaching itself through its Service's ClusterIP.
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            dataDir: join(dir, 'ipam'),
            ranges: [
              [
                {
                  subnet: net.podCIDR,
                  rangeStart: net.podRange[0],
                  rangeEnd: net.podRange[1],
                  gateway: net.nodeIP,
                },
              ],
            ],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
      ],
    },
    null,
    2,
  );
}

export function ctr(ctd: { socket: string }, args: string[], allowFailure = false): string {
  const result = spawnSync('ctr', ['--address', ctd.socket, '-n', CONTAINERD_NAMESPACE, ...args], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0 && !allowFailure) {
    throw new Error(
      `ctr ${args.join(' ')} failed (exit ${String(result.status)}): ${result.stderr}`,
    );
  }
  return result.stdout;
}

export async function startContainerd(
  dir: string,
  net: NodeNetwork,
  sandboxImage: string,
): Promise<Containerd> {
  mkdirSync(join(dir, 'cni'), { recursive: true });
  writeFileSync(join(dir, 'config.toml'), config(dir, sandboxImage));
  writeFileSync(join(dir, 'cni', '10-bridge.conflist'), cniConfig(dir, net));
  const log = join(dir, 'containerd.log');
  const socket = join(dir, 'containerd.sock');
  const child = launch('containerd', ['--config', join(dir, 'config.toml')], log, false);
  await waitFor(
    'containerd',
    () => {
      if (child.exitCode !== null) throw new Error('exited');
      return Promise.resolve(
        existsSync(socket) && spawnSync('ctr', ['--address', socket, 'version']).status === 0,
      );
    },
    60_000,
    log,
  );
  return { dir, socket, process: child };
}

/**
 * Imports an image archive (docker-archive or OCI) for the kubelet to run,
 * unpacked now: unpacking a few hundred MB inside the kubelet's
 * CreateContainer call on a busy 2-core machine outlasted its deadline
 * ("error unpacking image ... context canceled").
 */
export function importImage(ctd: Containerd, archive: string): void {
  ctr(ctd, ['images', 'import', archive]);
}

interface ContainerInfo {
  id: string;
  labels: Record<string, string>;
  /** The network namespace file containerd created (pod sandboxes only). */
  netns?: string;
}

function containerInfo(ctd: { socket: string }, id: string): ContainerInfo | undefined {
  const text = ctr(ctd, ['containers', 'info', id], true);
  if (!text) return undefined;
  const info = JSON.parse(text) as {
    Labels?: Record<string, string>;
    Spec?: { linux?: { namespaces?: { type: string; path?: string }[] } };
  };
  const netns = info.Spec?.linux?.namespaces?.find((n) => n.type === 'network')?.path;
  return {
    id,
    labels: info.Labels ?? {},
    // Containers of a pod join their sandbox's namespace by /proc/<pid>/ns/net.
    netns: netns && !netns.startsWith('/proc/') ? netns : undefined,
  };
}

function containers(ctd: { socket: string }): ContainerInfo[] {
  return ctr(ctd, ['containers', 'list', '-q'], true)
    .split('\n')
    .filter(Boolean)
    .flatMap((id) => containerInfo(ctd, id) ?? []);
}

/** The network namespace of a running pod's sandbox, found by its CRI labels. */
export function podNetns(ctd: { socket: string }, namespace: string, pod: string): string {
  const running = ctr(ctd, ['tasks', 'list', '-q'], true).split('\n');
  const paths = containers(ctd)
    .filter(
      (c) =>
        c.labels['io.kubernetes.pod.namespace'] === namespace &&
        c.labels['io.kubernetes.pod.name'] === pod &&
        c.netns !== undefined &&
        running.includes(c.id),
    )
    .map((c) => c.netns);
  if (paths.length !== 1 || !paths[0]) {
    throw new Error(
      `expected one running sandbox of pod ${namespace}/${pod}, found netns ${JSON.stringify(paths)}`,
    );
  }
  return paths[0];
}

/**
 * Kills every task of our containerd, deletes its containers, and removes
 * the network namespaces of their sandboxes (their veths go with them):
 * what the kubelet would have done for pods it was not given time to stop.
 */
export function removeAllContainers(ctd: Containerd): void {
  const all = containers(ctd);
  const ids = all.map((c) => c.id);
  const netns = all.flatMap((c) => c.netns ?? []);
  for (const id of ids) ctr(ctd, ['tasks', 'kill', '--signal', 'SIGKILL', id], true);
  for (const id of ids) {
    for (let i = 0; i < 50; i += 1) {
      if (ctr(ctd, ['tasks', 'delete', '--force', id], true) !== '' || !taskExists(ctd, id)) break;
      spawnSync('sleep', ['0.1']);
    }
    ctr(ctd, ['containers', 'delete', id], true);
  }
  for (const path of netns) {
    spawnSync('umount', [path]);
    spawnSync('rm', ['-f', path]);
  }
}

function taskExists(ctd: Containerd, id: string): boolean {
  return ctr(ctd, ['tasks', 'list', '-q'], true).split('\n').includes(id);
}

/** PIDs of processes whose command line names our directory (containerd, its shims). */
export function processesUsing(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(dir)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}
