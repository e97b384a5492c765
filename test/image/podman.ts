// Podman with the project's containers.conf, for image builds and test
// containers. Its defaults fail on these machines (an open-files ulimit above
// the hard limit, crun refusing hybrid cgroups); hack/image/containers.conf
// fixes both without touching /etc.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from '../testenv/paths.js';
import { ensureSystemPackages } from '../testenv/system-packages.js';

export const CONTAINERS_CONF = join(REPO_ROOT, 'hack', 'image', 'containers.conf');

/** podman and the runtime containers.conf names. */
const PACKAGES = ['podman', 'runc', 'slirp4netns'] as const;
let packagesChecked = false;

function ensurePodman(): void {
  if (packagesChecked) return;
  ensureSystemPackages(PACKAGES);
  packagesChecked = true;
}

export interface PodmanResult {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs podman and returns its exit status and output, whatever the status. */
export function podmanStatus(args: string[], opts: { input?: string } = {}): PodmanResult {
  ensurePodman();
  const result = spawnSync('podman', args, {
    encoding: 'utf8',
    input: opts.input,
    env: { ...process.env, CONTAINERS_CONF },
    // `podman build` prints every step; a cold build's log runs to megabytes.
    maxBuffer: 256 * 1024 * 1024,
  });
  if (result.error) throw new Error(`cannot run podman: ${result.error.message}`);
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** The last lines of a long output, for an error message. */
export function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Runs podman; throws with its stderr (and the end of stdout) when it fails. */
export function podman(
  args: string[],
  opts: { input?: string } = {},
): { stdout: string; stderr: string } {
  const result = podmanStatus(args, opts);
  if (result.status !== 0) {
    const output = [tail(result.stdout), tail(result.stderr)].filter(Boolean).join('\n');
    throw new Error(
      `podman ${args.slice(0, 3).join(' ')}… failed (exit ${String(result.status)}):\n${output}`,
    );
  }
  return { stdout: result.stdout, stderr: result.stderr };
}

export function imageExists(ref: string): boolean {
  return podmanStatus(['image', 'exists', ref]).status === 0;
}

/** A label of a local image, or undefined when the image or label is absent. */
export function imageLabel(ref: string, label: string): string | undefined {
  const result = podmanStatus([
    'image',
    'inspect',
    '--format',
    `{{index .Labels ${JSON.stringify(label)}}}`,
    ref,
  ]);
  const value = result.stdout.trim();
  return result.status === 0 && value !== '' && value !== '<no value>' ? value : undefined;
}
