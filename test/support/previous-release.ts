// The previous release's source tree, taken from git history, for the skew and
// upgrade tests: its proxy programmed by the current controller, its chart and
// image upgraded to the current ones.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

export const PREVIOUS_RELEASE = {
  version: '0.1.0',
  commit: '3cf5e7a8c7d63fecbd92121f20b22da937383f9a',
} as const;

/** Written last, so a tree without it is a half-extracted one from an interrupted run. */
const COMPLETE_MARKER = '.modelroute-previous-release';

function git(args: string[], opts: { cwd?: string } = {}): ReturnType<typeof spawnSync> {
  return spawnSync('git', args, { cwd: opts.cwd ?? REPO_ROOT, encoding: 'utf8' });
}

/**
 * A source tree of the previous release under .testenv/previous/<commit>/
 * (extracted with `git archive` once, then reused), with node_modules linked
 * to this repository's: 0.1.0's package.json has the same dependencies, and
 * nothing here installs packages.
 */
export function checkoutPreviousRelease(): string {
  const { commit, version } = PREVIOUS_RELEASE;
  const dir = join(REPO_ROOT, '.testenv', 'previous', commit);
  if (existsSync(join(dir, COMPLETE_MARKER))) return dir;
  if (git(['cat-file', '-e', `${commit}^{commit}`]).status !== 0) {
    throw new Error(
      `the previous release ${version} (commit ${commit}) is not in this clone's history, so its proxy cannot be built; ` +
        `in a shallow clone run \`git fetch --unshallow\` (or \`git fetch origin ${commit}\`) and retry`,
    );
  }
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const archive = spawnSync(
    'sh',
    [
      '-c',
      `git -C "$1" archive --format=tar "$2" | tar -x -C "$3"`,
      'sh',
      REPO_ROOT,
      commit,
      staging,
    ],
    { encoding: 'utf8' },
  );
  if (archive.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`extracting release ${version} (${commit}) failed: ${archive.stderr}`);
  }
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(staging, 'node_modules'));
  writeFileSync(join(staging, COMPLETE_MARKER), `${version} ${commit}\n`);
  // Another test process may have finished the same extraction meanwhile: keep theirs.
  if (existsSync(join(dir, COMPLETE_MARKER))) {
    rmSync(staging, { recursive: true, force: true });
  } else {
    rmSync(dir, { recursive: true, force: true });
    renameSync(staging, dir);
  }
  return dir;
}

/**
 * The previous release's `modelroute proxy` from its sources (tsx, as its own
 * `npm run` scripts run TypeScript): append the proxy's flags to `args`.
 */
export function previousProxyCommand(): { command: string; args: string[]; cwd: string } {
  const cwd = checkoutPreviousRelease();
  return {
    command: process.execPath,
    args: ['--import', 'tsx', join(cwd, 'src', 'cli', 'main.ts'), 'proxy'],
    cwd,
  };
}
