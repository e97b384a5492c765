// The sandbox ("pause") image the real node's containerd runs every pod in,
// built locally: no registry is reachable here. A static Go program FROM
// scratch, cached as an archive keyed by the hash of its source.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { IMAGES_DIR } from '../image/base-image.js';
import { podman } from '../image/build.js';

export const PAUSE_IMAGE = 'localhost/pause:3.10';
const PAUSE_SOURCE = join(import.meta.dirname, 'pause', 'main.go');

/** A docker-archive of the pause image, importable by `ctr images import`. */
export function ensurePauseImage(): string {
  const source = readFileSync(PAUSE_SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const archive = join(IMAGES_DIR, `pause-${hash}.tar`);
  mkdirSync(IMAGES_DIR, { recursive: true });
  if (existsSync(archive)) return archive;
  const context = mkdtempSync(join(tmpdir(), 'mr-pause-'));
  try {
    const build = spawnSync(
      'go',
      ['build', '-trimpath', '-ldflags=-s -w', '-o', join(context, 'pause'), PAUSE_SOURCE],
      {
        encoding: 'utf8',
        env: { ...process.env, CGO_ENABLED: '0', GOFLAGS: '', GO111MODULE: 'off' },
      },
    );
    if (build.status !== 0)
      throw new Error(`go build of the pause program failed:\n${build.stderr}`);
    writeFileSync(
      join(context, 'Containerfile'),
      'FROM scratch\nCOPY pause /pause\nENTRYPOINT ["/pause"]\n',
    );
    podman(['build', '--quiet', '-t', PAUSE_IMAGE, context]);
    const partial = `${archive}.partial`;
    rmSync(partial, { force: true });
    podman(['save', '--quiet', '--format', 'docker-archive', '-o', partial, PAUSE_IMAGE]);
    renameSync(partial, archive);
    return archive;
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
