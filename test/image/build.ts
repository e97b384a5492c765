// The modelroute image, built with podman from a source tree's Dockerfile on
// the local Node base, cached by a hash of its inputs, and saved as a
// docker-archive that `ctr -n k8s.io images import` and `podman load` take.
// Used by the image test and by the real-node tests (this release's image and
// the previous release's, built from its own Dockerfile).
import { homedir } from 'node:os';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { REPO_ROOT } from '../testenv/paths.js';
import { IMAGES_DIR, ensureBaseImage } from './base-image.js';
import { buildInputsHash } from './build-inputs.js';
import { withCacheLock } from './cache-lock.js';
import { imageLabel, podman, podmanStatus, tail } from './podman.js';

export { CONTAINERS_CONF, podman } from './podman.js';
export { ensureBaseImage } from './base-image.js';

export const DEFAULT_IMAGE_TAG = 'localhost/modelroute:dev';
/** The label an image built here carries: the hash of its inputs. */
export const INPUTS_LABEL = 'io.modelroute.test.inputs';
/** Bumped when the way images are built here changes what they contain. */
const RECIPE = 'podman-build-v1';
/** Where the build's npm finds the host's CA bundle and npm cache (mounted, never committed). */
const BUILD_CA = '/run/modelroute-build/ca.pem';

export interface ImageBuildOptions {
  /** A source tree with a Dockerfile whose base is ARG NODE_IMAGE (default: this repo). */
  sourceDir?: string;
  /** Default localhost/modelroute:dev. */
  tag?: string;
}

export interface BuiltImage {
  ref: string;
  /** A docker-archive of ref under .testenv/images/. */
  archive: string;
}

/**
 * Mounts that let the Dockerfile's `npm ci` run as it does on the host: the
 * host's npm cache (a warm cache makes it fetch nothing), and where the host
 * trusts an extra CA for npm (NODE_EXTRA_CA_CERTS: a TLS-inspecting egress
 * proxy, as on these machines), a CA file with Node's roots plus that one.
 * Measured here: without the CA every fetch fails SELF_SIGNED_CERT_IN_CHAIN.
 */
function npmBuildMounts(): string[] {
  const cache = process.env.npm_config_cache ?? join(homedir(), '.npm');
  mkdirSync(cache, { recursive: true });
  const mounts = ['--volume', `${cache}:/root/.npm`];
  const extra = [process.env.NODE_EXTRA_CA_CERTS, process.env.npm_config_cafile].filter(
    (file): file is string => !!file && existsSync(file),
  );
  if (extra.length > 0) {
    mkdirSync(IMAGES_DIR, { recursive: true });
    const ca = join(IMAGES_DIR, 'build-ca.pem');
    const npmrc = join(IMAGES_DIR, 'build-npmrc');
    const pems = [...rootCertificates, ...extra.map((file) => readFileSync(file, 'utf8'))];
    writeFileSync(ca, `${pems.join('\n')}\n`);
    writeFileSync(npmrc, `cafile=${BUILD_CA}\n`);
    mounts.push('--volume', `${ca}:${BUILD_CA}:ro`, '--volume', `${npmrc}:/root/.npmrc:ro`);
  }
  return mounts;
}

function archiveStem(tag: string): string {
  return tag.replace(/^localhost\//, '').replace(/[^A-Za-z0-9_.-]+/g, '_');
}

function save(ref: string, archive: string): void {
  const partial = `${archive}.partial`;
  rmSync(partial, { force: true });
  podman(['save', '--format', 'docker-archive', '--output', partial, ref]);
  renameSync(partial, archive);
  // Archives of this tag's earlier inputs are dead weight (hundreds of MB each).
  const stem = `${archiveStem(ref)}-`;
  for (const name of readdirSync(IMAGES_DIR)) {
    if (name.startsWith(stem) && name.endsWith('.tar') && join(IMAGES_DIR, name) !== archive) {
      rmSync(join(IMAGES_DIR, name), { force: true });
    }
  }
}

function build(sourceDir: string, tag: string, base: string, hash: string): void {
  const previous = podmanImageId(tag);
  const started = Date.now();
  process.stderr.write(`image: building ${tag} from ${sourceDir} on ${base}\n`);
  const log = join(IMAGES_DIR, `${archiveStem(tag)}.build.log`);
  const result = podmanStatus([
    'build',
    '--file',
    join(sourceDir, 'Dockerfile'),
    '--build-arg',
    `NODE_IMAGE=${base}`,
    '--label',
    `${INPUTS_LABEL}=${hash}`,
    '--tag',
    tag,
    ...npmBuildMounts(),
    sourceDir,
  ]);
  writeFileSync(log, `${result.stdout}\n${result.stderr}`);
  if (result.status !== 0) {
    throw new Error(
      `podman build of ${tag} failed (exit ${String(result.status)}); the whole log is ${log}:\n${tail(result.stdout)}\n${tail(result.stderr)}`,
    );
  }
  process.stderr.write(`image: built ${tag} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  // The image this tag named before, if we built it and nothing else names it now.
  if (previous && previous !== podmanImageId(tag)) {
    try {
      podman(['image', 'rm', previous]);
    } catch {
      // Still used by a container or another tag: not ours to force.
    }
  }
}

function podmanImageId(ref: string): string | undefined {
  return imageLabel(ref, INPUTS_LABEL) === undefined
    ? undefined
    : podman(['image', 'inspect', '--format', '{{.Id}}', ref]).stdout.trim();
}

/**
 * Builds the Dockerfile at sourceDir on the local base (skipped when an image
 * with the same input hash exists) and saves it as a docker-archive.
 */
export function ensureImage(opts: ImageBuildOptions = {}): BuiltImage {
  const sourceDir = opts.sourceDir ?? REPO_ROOT;
  const tag = opts.tag ?? DEFAULT_IMAGE_TAG;
  if (!existsSync(join(sourceDir, 'Dockerfile'))) {
    throw new Error(`${sourceDir} has no Dockerfile; pass the root of a modelroute source tree`);
  }
  const base = ensureBaseImage();
  const hash = buildInputsHash(sourceDir, base, RECIPE);
  const archive = join(IMAGES_DIR, `${archiveStem(tag)}-${hash}.tar`);
  return withCacheLock(IMAGES_DIR, archiveStem(tag), () => {
    if (imageLabel(tag, INPUTS_LABEL) !== hash && existsSync(archive)) {
      podman(['load', '--input', archive]);
    }
    if (imageLabel(tag, INPUTS_LABEL) !== hash) build(sourceDir, tag, base, hash);
    if (!existsSync(archive)) save(tag, archive);
    return { ref: tag, archive };
  });
}

/** The image's size as podman reports it (uncompressed layers), in bytes. */
export function imageSize(ref: string): number {
  return Number(podman(['image', 'inspect', '--format', '{{.Size}}', ref]).stdout.trim());
}
