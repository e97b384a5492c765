// Test containers of the modelroute image, run as a locked-down pod would run
// them: read-only root filesystem, uid 1000, no capabilities, no new
// privileges. Each is removed by its id when the test is done.
import { podman, podmanStatus } from './podman.js';

/**
 * slirp4netns: the container gets its own network namespace with a
 * user-space network (no bridge or iptables rules on this shared machine);
 * published ports appear on the host's loopback, and the host's loopback is
 * 10.0.2.2 from inside (for a simulated backend the test serves).
 */
export const PRIVATE_NETWORK = 'slirp4netns:allow_host_loopback=true';
export const HOST_LOOPBACK_FROM_CONTAINER = '10.0.2.2';

export const LOCKED_DOWN = [
  '--read-only',
  '--user',
  '1000:1000',
  '--cap-drop',
  'ALL',
  '--security-opt',
  'no-new-privileges',
];

export interface TestContainer {
  id: string;
  /** The host loopback URL of a published container port. */
  url(containerPort: number): string;
  logs(): string;
  exec(command: string[]): { status: number; stdout: string; stderr: string };
  remove(): void;
}

export function startContainer(
  image: string,
  options: { network: string; publish?: number[]; env?: Record<string, string>; mounts?: string[] },
  args: string[],
): TestContainer {
  const flags = [...LOCKED_DOWN, '--network', options.network];
  for (const port of options.publish ?? []) flags.push('--publish', `127.0.0.1::${String(port)}`);
  for (const [name, value] of Object.entries(options.env ?? {}))
    flags.push('--env', `${name}=${value}`);
  for (const mount of options.mounts ?? []) flags.push('--volume', mount);
  const id = podman(['run', '--detach', ...flags, image, ...args]).stdout.trim();
  return {
    id,
    url(containerPort) {
      const mapped = podman(['port', id, `${String(containerPort)}/tcp`]).stdout.trim();
      return `http://${mapped.split('\n')[0] ?? ''}`;
    },
    logs: () => {
      const result = podmanStatus(['logs', id]);
      return `${result.stdout}${result.stderr}`;
    },
    exec: (command) => podmanStatus(['exec', id, ...command]),
    remove: () => void podmanStatus(['rm', '--force', '--time', '0', id]),
  };
}

/** Runs a container to completion and returns its exit status and output. */
export function runOnce(
  image: string,
  args: string[],
): { status: number; stdout: string; stderr: string } {
  return podmanStatus(['run', '--rm', ...LOCKED_DOWN, '--network', 'none', image, ...args]);
}
