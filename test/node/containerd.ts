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

/** Imports an image archive (docker-archive or OCI) for the kubelet to run. */
export function importImage(ctd: Containerd, archive: string): void {
  ctr(ctd, ['images', 'import', '--no-unpack', archive]);
}

/** The network namespaces containerd made for our pod sandboxes (from their OCI specs). */
function sandboxNetns(ctd: Containerd, ids: string[]): string[] {
  const paths = new Set<string>();
  for (const id of ids) {
    const info = ctr(ctd, ['containers', 'info', id], true);
    for (const match of info.matchAll(/"type": "network",\s*"path": "([^"]+)"/g)) {
      if (match[1]) paths.add(match[1]);
    }
  }
  return [...paths];
}

/**
 * Kills every task of our containerd, deletes its containers, and removes
 * the network namespaces of their sandboxes (their veths go with them):
 * what the kubelet would have done for pods it was not given time to stop.
 */
export function removeAllContainers(ctd: Containerd): void {
  const ids = ctr(ctd, ['containers', 'list', '-q'], true).split('\n').filter(Boolean);
  const netns = sandboxNetns(ctd, ids);
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
