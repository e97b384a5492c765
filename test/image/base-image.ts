// The local Node base for image builds where the Dockerfile's default (the
// official node:*-slim) cannot be pulled: a Debian rootfs extracted by
// mmdebstrap from Debian's packages (libc, libstdc++, dash, coreutils), with
// Node and npm from their npm packages, imported into podman. Pins live in
// hack/image/base.env; the image is tagged with a hash of the pins and the
// recipe, and both the downloads and the rootfs are cached under
// .testenv/images/, so a second run costs one `podman image exists`.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT, TESTENV_DIR } from '../testenv/paths.js';
import { ensureSystemPackages } from '../testenv/system-packages.js';
import { withCacheLock } from './cache-lock.js';
import { imageExists, podman, tail } from './podman.js';

export const IMAGES_DIR = join(TESTENV_DIR, 'images');
const BASE_ENV = join(REPO_ROOT, 'hack', 'image', 'base.env');
const CUSTOMIZE = join(REPO_ROOT, 'hack', 'image', 'customize-base.sh');
const MERGED_USR_HOOKS = '/usr/share/mmdebstrap/hooks/merged-usr';

/**
 * What node needs (ldd of the package's bin/node), what npm's scripts run
 * (sh, env), and the tools of the official slim image the Dockerfile uses (find).
 */
const DEBIAN_PACKAGES = [
  'libc6',
  'libstdc++6',
  'libgcc-s1',
  'libatomic1',
  'dash',
  'coreutils',
  'findutils',
  'base-files',
];

interface BasePins {
  debianSuite: string;
  nodePackage: string;
  nodeVersion: string;
  nodeIntegrity: string;
  npmVersion: string;
  npmIntegrity: string;
}

function readPins(): { pins: BasePins; text: string } {
  const text = readFileSync(BASE_ENV, 'utf8');
  const get = (key: string): string => {
    const match = new RegExp(`^${key}=(\\S+)$`, 'm').exec(text);
    if (!match?.[1]) throw new Error(`hack/image/base.env must set ${key}=…`);
    return match[1];
  };
  return {
    text,
    pins: {
      debianSuite: get('DEBIAN_SUITE'),
      nodePackage: get('NODE_PACKAGE'),
      nodeVersion: get('NODE_VERSION'),
      nodeIntegrity: get('NODE_INTEGRITY'),
      npmVersion: get('NPM_VERSION'),
      npmIntegrity: get('NPM_INTEGRITY'),
    },
  };
}

function integrityOf(file: string): string {
  return `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
}

/** An npm package's tarball, fetched once with npm's own client and checked against its pin. */
function packageTarball(name: string, version: string, integrity: string): string {
  const dir = join(IMAGES_DIR, 'downloads');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}-${version}.tgz`);
  if (existsSync(file) && integrityOf(file) === integrity) return file;
  rmSync(file, { force: true });
  const result = spawnSync(
    'npm',
    ['pack', `${name}@${version}`, '--pack-destination', dir, '--silent'],
    {
      cwd: dir,
      encoding: 'utf8',
    },
  );
  if (result.status !== 0 || !existsSync(file)) {
    throw new Error(
      `npm pack ${name}@${version} failed (exit ${String(result.status)}): ${tail(result.stderr)}; the local base needs npm's registry once, then runs from .testenv/images/downloads/`,
    );
  }
  const actual = integrityOf(file);
  if (actual !== integrity) {
    rmSync(file, { force: true });
    throw new Error(
      `${name}@${version} has integrity ${actual}, but hack/image/base.env pins ${integrity}; update the pin only if the new tarball is trusted`,
    );
  }
  return file;
}

/** The host's Debian sources when they are for the pinned suite, so mmdebstrap uses its mirror. */
function hostDebianSources(suite: string): string[] {
  const sources = '/etc/apt/sources.list.d/debian.sources';
  let osRelease = '';
  try {
    osRelease = readFileSync('/etc/os-release', 'utf8');
  } catch {
    return [];
  }
  return existsSync(sources) && new RegExp(`^VERSION_CODENAME=${suite}$`, 'm').test(osRelease)
    ? [sources]
    : [];
}

/** mmdebstrap's options: part of the base's hash, as the pins are. */
function recipeArgs(): string[] {
  return [
    // Extract only (no dpkg configuration): 15 s instead of a minute for minbase,
    // and 28 MB of Debian beside Node instead of 135 MB.
    '--variant=extract',
    '--format=tar',
    `--hook-dir=${MERGED_USR_HOOKS}`,
    '--dpkgopt=path-exclude=/usr/share/man/*',
    '--dpkgopt=path-exclude=/usr/share/doc/*',
    '--dpkgopt=path-exclude=/usr/share/locale/*',
    `--include=${DEBIAN_PACKAGES.join(',')}`,
    // Extract hooks are the last ones the extract variant runs.
    `--extract-hook=${CUSTOMIZE}`,
  ];
}

function assembleRootfs(pins: BasePins, out: string): void {
  ensureSystemPackages(['mmdebstrap', 'binutils']);
  if (!existsSync(MERGED_USR_HOOKS)) {
    throw new Error(
      `${MERGED_USR_HOOKS} is missing; mmdebstrap 1.x ships it (apt-get install mmdebstrap)`,
    );
  }
  const nodeTgz = packageTarball(pins.nodePackage, pins.nodeVersion, pins.nodeIntegrity);
  const npmTgz = packageTarball('npm', pins.npmVersion, pins.npmIntegrity);
  const partial = `${out}.partial`;
  rmSync(partial, { force: true });
  const started = Date.now();
  process.stderr.write(
    `image: assembling the local Node ${pins.nodeVersion} base (mmdebstrap ${pins.debianSuite})\n`,
  );
  const args = [...recipeArgs(), pins.debianSuite, partial, ...hostDebianSources(pins.debianSuite)];
  const result = spawnSync('mmdebstrap', args, {
    encoding: 'utf8',
    env: { ...process.env, NODE_TGZ: nodeTgz, NPM_TGZ: npmTgz },
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.status !== 0) {
    rmSync(partial, { force: true });
    throw new Error(`mmdebstrap failed (exit ${String(result.status)}):\n${tail(result.stderr)}`);
  }
  renameSync(partial, out);
  process.stderr.write(`image: base rootfs in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}

/** The base's ref: its tag carries a hash of the pins, the recipe and the customize script. */
export function baseImageRef(): string {
  const { pins, text } = readPins();
  const hash = createHash('sha256')
    .update(text)
    .update(readFileSync(CUSTOMIZE))
    .update(JSON.stringify(recipeArgs()))
    .digest('hex')
    .slice(0, 12);
  return `localhost/modelroute-base:node${pins.nodeVersion}-${hash}`;
}

/**
 * The local Node LTS base image, assembled offline-capable (mmdebstrap rootfs
 * plus node from npm's Node binary package) and cached; returns its ref.
 */
export function ensureBaseImage(): string {
  const ref = baseImageRef();
  if (imageExists(ref)) return ref;
  return withCacheLock(IMAGES_DIR, 'base', () => {
    if (imageExists(ref)) return ref;
    const { pins } = readPins();
    const rootfs = join(IMAGES_DIR, `${ref.split(':')[1]}.rootfs.tar`);
    if (!existsSync(rootfs)) assembleRootfs(pins, rootfs);
    podman([
      'import',
      '--change',
      'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      '--change',
      `ENV NODE_VERSION=${pins.nodeVersion}`,
      '--change',
      'CMD ["node"]',
      rootfs,
      ref,
    ]);
    return ref;
  });
}
