// The node's network, kept local: a Linux bridge with no uplink, pod IPs
// only inside network namespaces containerd creates on it, and ClusterIPs
// routed to the bridge so nothing for them leaves by the default route.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export interface NodeNetwork {
  /** Bridge device, e.g. mr-node0 (its own name: other engineers' tests share the machine). */
  bridge: string;
  /** The node's address on the bridge: kube-apiserver, kubelet and the pods' gateway. */
  nodeIP: string;
  /** Pod network on the bridge, e.g. 10.77.0.0/17. */
  podCIDR: string;
  /** First and last pod IP host-local hands out. */
  podRange: [string, string];
  /** ClusterIPs, outside podCIDR so pods send them to the node (kube-proxy). */
  serviceCIDR: string;
}

export const DEFAULT_NETWORK: NodeNetwork = {
  bridge: 'mr-node0',
  nodeIP: '10.77.0.1',
  podCIDR: '10.77.0.0/17',
  podRange: ['10.77.1.1', '10.77.127.254'],
  serviceCIDR: '10.77.128.0/24',
};

function prefixLength(cidr: string): string {
  return cidr.split('/')[1] ?? '32';
}

/** Runs a host networking command; throws with its stderr. */
export function sh(command: string, args: string[], allowFailure = false): string {
  const result = spawnSync(command, args, { encoding: 'utf8' });
  if (result.error) throw new Error(`cannot run ${command}: ${result.error.message}`);
  if (result.status !== 0 && !allowFailure) {
    throw new Error(
      `${command} ${args.join(' ')} failed (exit ${String(result.status)}): ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/**
 * Forwarding rules, as iptables arguments after -I/-D FORWARD: traffic the
 * pods send may stay on the bridge (pod to pod through a ClusterIP, which
 * the node forwards after kube-proxy's DNAT) but never leave it.
 */
function forwardRules(net: NodeNetwork): string[][] {
  const tag = ['-m', 'comment', '--comment', `modelroute real-node test ${net.bridge}`];
  return [
    ['-i', net.bridge, '!', '-o', net.bridge, ...tag, '-j', 'DROP'],
    ['-i', net.bridge, '-o', net.bridge, ...tag, '-j', 'ACCEPT'],
  ];
}

/** Creates the bridge with the node's address; fails if it already exists (another run). */
export function createNetwork(net: NodeNetwork): void {
  if (existsSync(`/sys/class/net/${net.bridge}`)) {
    throw new Error(
      `network device ${net.bridge} already exists: another real-node test is running, or one was interrupted before it cleaned up; if none is running, delete it with: ip link delete ${net.bridge}`,
    );
  }
  sh('ip', ['link', 'add', net.bridge, 'type', 'bridge']);
  sh('ip', ['addr', 'add', `${net.nodeIP}/${prefixLength(net.podCIDR)}`, 'dev', net.bridge]);
  sh('ip', ['link', 'set', net.bridge, 'up']);
  // ClusterIPs from the node (kube-apiserver calling the webhook, the test
  // calling the gateway) go to the bridge; kube-proxy rewrites them first.
  sh('ip', ['route', 'add', net.serviceCIDR, 'dev', net.bridge]);
  // Forwarding for this device only (net.ipv4.ip_forward stays as it is, 0
  // on these machines): a pod reaching another pod through a ClusterIP is
  // routed back out of the bridge by the node.
  writeFileSync(`/proc/sys/net/ipv4/conf/${net.bridge}/forwarding`, '1');
  for (const rule of forwardRules(net).reverse()) sh('iptables', ['-I', 'FORWARD', ...rule]);
}

/** Removes what createNetwork made; safe to call when it made nothing. */
export function deleteNetwork(net: NodeNetwork): void {
  for (const rule of forwardRules(net)) {
    // One rule may have been inserted more than once by an interrupted run.
    while (spawnSync('iptables', ['-D', 'FORWARD', ...rule]).status === 0);
  }
  if (existsSync(`/sys/class/net/${net.bridge}`)) sh('ip', ['link', 'delete', net.bridge], true);
}

const IPTABLES = ['iptables', 'ip6tables'] as const;
const TABLES = ['filter', 'nat', 'mangle'] as const;

/**
 * Removes the KUBE-* chains and the jumps to them: kube-proxy's, and the
 * kubelet's own (KUBE-FIREWALL in INPUT/OUTPUT, KUBE-KUBELET-CANARY,
 * KUBE-IPTABLES-HINT), which the kubelet leaves behind when it stops. Only
 * this tier runs a kubelet or kube-proxy on these machines.
 */
export function removeKubeChains(): void {
  for (const cmd of IPTABLES) {
    for (const table of TABLES) {
      const saved = sh(`${cmd}-save`, ['-t', table], true).split('\n');
      const chains = saved.flatMap((l) =>
        /^:KUBE-/.test(l) ? [l.slice(1).split(' ')[0] ?? ''] : [],
      );
      if (chains.length === 0) continue;
      // Jumps from built-in chains first, then the chains' rules, then the chains.
      const jumps = saved.filter((l) => /^-A (?!KUBE-)\S+ .*-j KUBE-/.test(l));
      const script = [
        `*${table}`,
        ...jumps.map((l) => l.replace(/^-A /, '-D ')),
        ...chains.map((c) => `-F ${c}`),
        ...chains.map((c) => `-X ${c}`),
        'COMMIT',
        '',
      ].join('\n');
      const result = spawnSync(`${cmd}-restore`, ['--noflush'], {
        input: script,
        encoding: 'utf8',
      });
      if (result.status !== 0) {
        throw new Error(`${cmd}-restore could not remove the KUBE-* chains: ${result.stderr}`);
      }
    }
  }
}

/** The kubelet's pod cgroups (/kubepods in every cgroup v1 hierarchy), deepest first. */
export function removeKubepodsCgroups(): void {
  const dirs = sh(
    'find',
    ['/sys/fs/cgroup', '-maxdepth', '8', '-type', 'd', '-path', '*/kubepods*'],
    true,
  )
    .split('\n')
    .filter(Boolean)
    .sort((a, b) => b.length - a.length);
  for (const d of dirs) spawnSync('rmdir', [d]);
}

/** What of the node's network is still on the host (for the cleanup test). */
export function leftovers(net: NodeNetwork): string[] {
  const found: string[] = [];
  if (existsSync(`/sys/class/net/${net.bridge}`)) found.push(`device ${net.bridge}`);
  for (const cmd of IPTABLES) {
    for (const line of sh(`${cmd}-save`, [], true).split('\n')) {
      if (line.includes(net.bridge) || /KUBE-/.test(line)) found.push(`${cmd}: ${line}`);
    }
  }
  const cgroups = sh(
    'find',
    ['/sys/fs/cgroup', '-maxdepth', '2', '-name', 'kubepods*'],
    true,
  ).trim();
  if (cgroups) found.push(`cgroups: ${cgroups.split('\n').join(', ')}`);
  const routes = sh('ip', ['route', 'show', net.serviceCIDR], true).trim();
  if (routes) found.push(`route ${routes}`);
  if (existsSync('/proc/net/dev')) {
    for (const line of readFileSync('/proc/net/dev', 'utf8').split('\n')) {
      const dev = line.split(':')[0]?.trim() ?? '';
      if (dev.startsWith('veth') && vethOnBridge(dev, net.bridge)) found.push(`device ${dev}`);
    }
  }
  return found;
}

function vethOnBridge(dev: string, bridge: string): boolean {
  const master = `/sys/class/net/${dev}/master`;
  try {
    return existsSync(master) && sh('readlink', [master], true).trim().endsWith(`/${bridge}`);
  } catch {
    return false;
  }
}
