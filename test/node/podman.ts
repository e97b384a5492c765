// podman for the real-node tier, until test/image/build.ts (Part IMAGE)
// provides it: the project-local containers.conf that makes podman work on
// these machines (docs/testing-real-node.md), and images saved as archives
// containerd imports.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TESTENV_DIR } from '../testenv/paths.js';

/** Image archives, named by a hash of their inputs. */
export const IMAGES_DIR = join(TESTENV_DIR, 'images');

// Podman's defaults fail here: its open-files limit is above the machine's
// hard limit ("error setting rlimit type 7") and crun refuses cgroups v1
// ("cgroups in hybrid mode not supported").
const CONTAINERS_CONF_TEXT = `[containers]
default_ulimits = []
[engine]
runtime = "runc"
`;

function containersConf(): string {
  mkdirSync(IMAGES_DIR, { recursive: true });
  const file = join(IMAGES_DIR, 'containers.conf');
  writeFileSync(file, CONTAINERS_CONF_TEXT);
  return file;
}

/** Runs podman; throws with its stderr when it fails. */
export function podman(args: string[]): string {
  const result = spawnSync('podman', args, {
    encoding: 'utf8',
    env: { ...process.env, CONTAINERS_CONF: containersConf() },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error)
    throw new Error(`cannot run podman (${result.error.message}); apt-get install podman`);
  if (result.status !== 0) {
    throw new Error(
      `podman ${args.join(' ')} failed (exit ${String(result.status)}):\n${result.stderr}`,
    );
  }
  return result.stdout;
}
