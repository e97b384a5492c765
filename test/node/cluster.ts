// A real single-node Kubernetes cluster for tests: etcd and kube-apiserver
// (test/testenv/controlplane.ts, here with ServiceAccount admission and an
// address pods reach), kube-controller-manager, kube-scheduler, a kubelet on
// containerd + runc, kube-proxy in iptables mode, and the bridge CNI, all
// from the pinned Go module set (test/testenv/build.ts) and Debian packages.
//
// Everything stays on the host: a bridge of our own (no uplink) with the
// node's address, pods in network namespaces containerd creates on it, and
// ClusterIPs routed to that bridge. stop() removes every process, container,
// network namespace, iptables rule and device it made, even after a failure.
// Cluster DNS answers Services' names only (cluster-dns.ts).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ensureBinaries } from '../testenv/build.js';
import {
  freePort,
  launch,
  startControlPlane,
  startWatchdog,
  stopProcesses,
  stopControlPlane,
  waitFor,
  type ControlPlane,
} from '../testenv/controlplane.js';
import { binaryPaths } from '../testenv/paths.js';
import { ensureSystemPackages } from '../testenv/system-packages.js';
import { startClusterDns, type ClusterDns } from './cluster-dns.js';
import {
  importImage,
  processesUsing,
  removeAllContainers,
  startContainerd,
  type Containerd,
} from './containerd.js';
import {
  DEFAULT_NETWORK,
  createNetwork,
  deleteNetwork,
  removeKubeChains,
  removeKubepodsCgroups,
  type NodeNetwork,
} from './host-network.js';
import { PAUSE_IMAGE, ensurePauseImage } from './images.js';
import { acquireNodeLock } from './node-lock.js';

function running(pid: number): boolean {
  return existsSync(`/proc/${pid}`);
}

export const NODE_NAME = 'mr-node0';

/** Debian packages the node needs (containerd, runc, the CNI plugins, iptables, podman for images). */
export const NODE_PACKAGES = [
  'containerd',
  'runc',
  'containernetworking-plugins',
  'iptables',
  'conntrack',
  'podman',
] as const;

export interface NodeCluster {
  dir: string;
  net: NodeNetwork;
  plane: ControlPlane;
  kubeconfig: string;
  containerd: Containerd;
  /** Makes an image archive (docker-archive) runnable by the kubelet. */
  importImage(archive: string): void;
  /** Log files by component, for failure messages. */
  logs: Record<string, string>;
  stop(): Promise<void>;
}

function kubeletConfig(dir: string, net: NodeNetwork, ports: { kubelet: number; healthz: number }) {
  return {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    // These machines run cgroups v1 (kubelet 1.35+ refuses it unless told).
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    containerRuntimeEndpoint: `unix://${join(dir, 'containerd', 'containerd.sock')}`,
    failSwapOn: false,
    // The kubelet's API on loopback, for bearer tokens the API server vouches for.
    address: '127.0.0.1',
    port: ports.kubelet,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: ports.healthz,
    authentication: { anonymous: { enabled: false }, webhook: { enabled: true } },
    authorization: { mode: 'Webhook' },
    enforceNodeAllocatable: [],
    // Cluster DNS is test/node/cluster-dns.ts on the node's address; pods do
    // not inherit the host's resolvers.
    resolvConf: '',
    clusterDNS: [net.nodeIP],
    podLogsDir: join(dir, 'pod-logs'),
    // A shared CI disk may be fuller than the default thresholds allow:
    // evicting pods (or GC'ing the imported images) would fail the test for
    // reasons no user meets.
    evictionHard: {
      'memory.available': '1Mi',
      'nodefs.available': '1%',
      'nodefs.inodesFree': '1%',
      'imagefs.available': '1%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    localStorageCapacityIsolation: false,
    serializeImagePulls: false,
    // CRI calls on a loaded 2-core machine (container creation beside image
    // unpacking) can outlast the default 2 minutes.
    runtimeRequestTimeout: '10m',
    maxPods: 40,
    // Pods start promptly after the test deletes one (the default waits 10 s).
    nodeStatusUpdateFrequency: '4s',
    syncFrequency: '10s',
    clusterDomain: 'cluster.local',
  };
}

function writeKubeconfig(file: string, plane: ControlPlane): void {
  // Every component authenticates with the test's admin token: this is a
  // throwaway cluster; what the tests check is what runs in its pods.
  writeFileSync(file, readFileSync(plane.kubeconfig), { mode: 0o600 });
}

export interface StartNodeOptions {
  net?: NodeNetwork;
  /** Extra kube-apiserver readiness wait. */
  readyTimeoutMs?: number;
}

/**
 * Starts the cluster and waits until the node is Ready and the default
 * ServiceAccount and root CA ConfigMap exist in `default`.
 */
export async function startNodeCluster(options: StartNodeOptions = {}): Promise<NodeCluster> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      'the real-node tests run a kubelet, containerd and iptables: run them as root (they create a bridge and network namespaces, removed at the end)',
    );
  }
  ensureSystemPackages(NODE_PACKAGES);
  ensureBinaries();
  const bins = binaryPaths();
  const net = options.net ?? DEFAULT_NETWORK;
  const releaseLock = await acquireNodeLock();
  const dir = mkdtempSync(join(tmpdir(), 'mr-node-'));
  const logs: Record<string, string> = {};
  const pids: number[] = [];
  let containerd: Containerd | undefined;
  let plane: ControlPlane | undefined;
  let dns: ClusterDns | undefined;
  const started = Date.now();
  const timing = (what: string) =>
    process.stderr.write(
      `real-node: ${what} after ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );

  /** Runs every cleanup step even when one fails, then reports the failures together. */
  const stop = async (): Promise<void> => {
    const stopStarted = Date.now();
    const failures: string[] = [];
    const step = async (what: string, action: () => unknown): Promise<void> => {
      try {
        await action();
      } catch (err) {
        failures.push(`${what}: ${(err as Error).message}`);
      }
    };
    // The kubelet first, so it does not restart what we remove next.
    await step('stop the kubelet', () => stopProcesses(pids.slice(-1)));
    const ctd = containerd;
    if (ctd) {
      await step('remove containers', () => removeAllContainers(ctd));
      await step('stop containerd', () => stopProcesses([ctd.process.pid ?? -1]));
      // Shims of containers the kill missed hold our socket path.
      await step('stop shims', () => stopProcesses(processesUsing(ctd.dir), 2000));
    }
    await step('stop the components', () => stopProcesses(pids));
    await step('stop cluster DNS', () => dns?.close());
    await step('remove KUBE-* chains', removeKubeChains);
    await step('remove the network', () => deleteNetwork(net));
    await step('remove /kubepods cgroups', removeKubepodsCgroups);
    const cp = plane;
    if (cp) await step('stop the control plane', () => stopControlPlane(cp.dir, { keepDir: true }));
    await step('unmount volumes', () => {
      // The kubelet's volume mounts (projected tokens are tmpfs).
      const mounts = readFileSync('/proc/self/mounts', 'utf8')
        .split('\n')
        .map((line) => line.split(' ')[1] ?? '')
        .filter((path) => path.startsWith(`${dir}/`))
        .sort((a, b) => b.length - a.length);
      for (const path of mounts) spawnSync('umount', ['-l', path]);
    });
    if (!process.env.MODELROUTE_KEEP_NODE_DIR) {
      await step('remove the directory', () => rmSync(dir, { recursive: true, force: true }));
    }
    releaseLock();
    process.stderr.write(
      `real-node: stopped and cleaned in ${((Date.now() - stopStarted) / 1000).toFixed(1)} s\n`,
    );
    if (failures.length > 0) {
      throw new Error(`the real-node cluster's cleanup failed:\n${failures.join('\n')}`);
    }
  };

  try {
    const pause = ensurePauseImage();
    timing('pause image ready');
    createNetwork(net);
    plane = await startControlPlane({
      dir: join(dir, 'controlplane'),
      stopWithParent: true,
      apiserverAddress: net.nodeIP,
      serviceClusterIPRange: net.serviceCIDR,
      serviceAccountAdmission: true,
      readyTimeoutMs: options.readyTimeoutMs,
    });
    logs['kube-apiserver'] = join(plane.dir, 'kube-apiserver.log');
    timing('kube-apiserver ready');
    const kubeconfig = join(dir, 'kubeconfig');
    writeKubeconfig(kubeconfig, plane);
    const certs = join(plane.dir, 'certs');
    dns = await startClusterDns(net.nodeIP, plane);

    containerd = await startContainerd(join(dir, 'containerd'), net, PAUSE_IMAGE);
    logs.containerd = join(containerd.dir, 'containerd.log');
    importImage(containerd, pause);
    timing('containerd ready');

    const component = (name: string, binary: string, args: string[]): void => {
      const log = join(dir, `${name}.log`);
      logs[name] = log;
      const child = launch(binary, args, log, false);
      pids.push(child.pid ?? -1);
    };
    component('kube-controller-manager', bins.kubeControllerManager, [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
      // The kube-root-ca.crt ConfigMap in every namespace: projected
      // ServiceAccount volumes carry it as ca.crt.
      `--root-ca-file=${plane.caFile}`,
      `--service-account-private-key-file=${join(certs, 'sa.key')}`,
      `--service-cluster-ip-range=${net.serviceCIDR}`,
      '--allocate-node-cidrs=false',
      '--use-service-account-credentials=false',
      '--v=1',
    ]);
    component('kube-scheduler', bins.kubeScheduler, [
      `--kubeconfig=${kubeconfig}`,
      '--leader-elect=false',
      '--secure-port=0',
      '--v=1',
    ]);
    const [proxyHealthz, proxyMetrics] = [await freePort(), await freePort()];
    component('kube-proxy', bins.kubeProxy, [
      `--kubeconfig=${kubeconfig}`,
      '--proxy-mode=iptables',
      `--hostname-override=${NODE_NAME}`,
      `--cluster-cidr=${net.podCIDR}`,
      // Pod to pod through a ClusterIP on one bridge: replies must come back
      // through the node to be un-DNATed.
      '--masquerade-all=true',
      `--nodeport-addresses=${net.nodeIP}/32`,
      // Leave the machine's conntrack sysctls alone.
      '--conntrack-max-per-core=0',
      `--healthz-bind-address=127.0.0.1:${proxyHealthz}`,
      `--metrics-bind-address=127.0.0.1:${proxyMetrics}`,
      '--v=1',
    ]);
    const kubeletDir = join(dir, 'kubelet');
    mkdirSync(join(dir, 'pod-logs'), { recursive: true });
    const kubeletPorts = { kubelet: await freePort(), healthz: await freePort() };
    const kubeletConfigFile = join(dir, 'kubelet-config.yaml');
    writeFileSync(kubeletConfigFile, stringify(kubeletConfig(dir, net, kubeletPorts)));
    // The kubelet last: stop() stops it first.
    component('kubelet', bins.kubelet, [
      `--config=${kubeletConfigFile}`,
      `--kubeconfig=${kubeconfig}`,
      `--root-dir=${kubeletDir}`,
      `--cert-dir=${join(kubeletDir, 'pki')}`,
      `--hostname-override=${NODE_NAME}`,
      `--node-ip=${net.nodeIP}`,
      '--v=1',
    ]);
    // A crashed test process must not leave a kubelet running pods.
    startWatchdog(process.pid, [...pids, containerd.process.pid ?? -1]);

    const kubectl = (args: string[]) =>
      spawnSync(bins.kubectl, ['--kubeconfig', kubeconfig, ...args], { encoding: 'utf8' });
    await waitFor(
      `node ${NODE_NAME} Ready`,
      () => {
        for (const pid of pids)
          if (!running(pid)) throw new Error(`a component (pid ${pid}) exited`);
        const out = kubectl([
          'get',
          'node',
          NODE_NAME,
          '-o',
          'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        ]);
        return Promise.resolve(out.stdout.trim() === 'True');
      },
      120_000,
      logs.kubelet ?? '',
    );
    timing('node Ready');
    await waitFor(
      'the default ServiceAccount and kube-root-ca.crt (kube-controller-manager)',
      () =>
        Promise.resolve(
          kubectl(['get', 'serviceaccount', 'default', '-n', 'default']).status === 0 &&
            kubectl(['get', 'configmap', 'kube-root-ca.crt', '-n', 'default']).status === 0,
        ),
      60_000,
      logs['kube-controller-manager'] ?? '',
    );
    timing('cluster ready');
    const ctd = containerd;
    return {
      dir,
      net,
      plane,
      kubeconfig,
      containerd: ctd,
      importImage: (archive) => importImage(ctd, archive),
      logs,
      stop,
    };
  } catch (err) {
    const message = (err as Error).message;
    await stop().catch((e: unknown) =>
      process.stderr.write(`real-node: cleanup after a failed start failed: ${String(e)}\n`),
    );
    throw new Error(`the real-node cluster did not start: ${message}`);
  }
}
