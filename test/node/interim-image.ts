// An interim modelroute image for the real-node tests, until Part IMAGE's
// test/image/build.ts (ensureImage, a Node LTS base assembled locally) is on
// main: FROM scratch with this machine's node binary and the shared
// libraries it links, the compiled code and the production dependencies.
// Same entrypoint, user and layout as the Dockerfile's runtime stage.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from '../testenv/paths.js';
import { IMAGES_DIR, podman } from './podman.js';

export interface BuiltImage {
  ref: string;
  archive: string;
}

const INPUTS = ['package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json', 'src'];

function hashInputs(root: string): string {
  const hash = createHash('sha256').update(process.version);
  const walk = (path: string): void => {
    if (statSync(path).isDirectory()) {
      for (const entry of readdirSync(path).sort()) walk(join(path, entry));
    } else {
      hash.update(path.slice(root.length)).update(readFileSync(path));
    }
  };
  for (const input of INPUTS) walk(join(root, input));
  return hash.digest('hex').slice(0, 16);
}

function run(command: string, args: string[], cwd: string): void {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(
      `${command} ${args.join(' ')} failed in ${cwd}:\n${result.stdout}${result.stderr}`,
    );
  }
}

/** The node binary and every shared library it loads, at their own paths. */
function copyNodeRuntime(rootfs: string): void {
  const node = process.execPath;
  const ldd = spawnSync('ldd', [node], { encoding: 'utf8' }).stdout;
  const files = [...ldd.matchAll(/(\/\S+) \(0x/g)].map((m) => m[1] ?? '');
  for (const file of [node, ...files]) {
    const target = join(rootfs, file === node ? '/usr/local/bin/node' : file);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(file, target);
    chmodSync(target, 0o755);
  }
}

/** Builds (or finds by its inputs' hash) the image of the working tree at `sourceDir`. */
export function ensureInterimImage(
  sourceDir = REPO_ROOT,
  ref = 'localhost/modelroute:node-interim',
): BuiltImage {
  const hash = hashInputs(sourceDir);
  const archive = join(IMAGES_DIR, `modelroute-interim-${hash}.tar`);
  if (existsSync(archive)) return { ref, archive };
  const started = Date.now();
  const context = mkdtempSync(join(tmpdir(), 'mr-image-'));
  try {
    const rootfs = join(context, 'rootfs');
    const app = join(rootfs, 'app');
    mkdirSync(app, { recursive: true });
    const build = join(context, 'build');
    mkdirSync(build);
    for (const input of INPUTS)
      cpSync(join(sourceDir, input), join(build, input), { recursive: true });
    // The repo's dependencies (dev ones too, for tsc), then pruned to production.
    cpSync(realpathSync(join(sourceDir, 'node_modules')), join(build, 'node_modules'), {
      recursive: true,
      dereference: false,
      verbatimSymlinks: true,
    });
    run(
      process.execPath,
      [join(build, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'],
      build,
    );
    const learned = join('routing', 'difficulty', 'learned');
    for (const file of readdirSync(join(build, 'src', learned)).filter((f) =>
      f.endsWith('.json'),
    )) {
      copyFileSync(join(build, 'src', learned, file), join(build, 'dist', learned, file));
    }
    run(
      'npm',
      ['prune', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--offline'],
      build,
    );
    for (const part of ['package.json', 'dist', 'node_modules']) {
      renameSync(join(build, part), join(app, part));
    }
    cpSync(join(sourceDir, 'manifests', 'samples'), join(app, 'manifests', 'samples'), {
      recursive: true,
    });
    copyNodeRuntime(rootfs);
    mkdirSync(join(rootfs, 'tmp'), { mode: 0o1777 });
    chmodSync(join(rootfs, 'tmp'), 0o1777);
    mkdirSync(join(rootfs, 'etc'), { recursive: true });
    writeFileSync(
      join(rootfs, 'etc', 'passwd'),
      'root:x:0:0::/root:/bin/false\nnode:x:1000:1000::/home/node:/bin/false\n',
    );
    writeFileSync(join(rootfs, 'etc', 'group'), 'root:x:0:\nnode:x:1000:\n');
    writeFileSync(
      join(context, 'Containerfile'),
      [
        'FROM scratch',
        'COPY rootfs/ /',
        'ENV NODE_ENV=production',
        'WORKDIR /app',
        'USER 1000:1000',
        'ENTRYPOINT ["/usr/local/bin/node", "/app/dist/cli/main.js"]',
        'CMD ["--help"]',
        '',
      ].join('\n'),
    );
    podman(['build', '--quiet', '-t', ref, context]);
    const partial = `${archive}.partial`;
    rmSync(partial, { force: true });
    podman(['save', '--quiet', '--format', 'docker-archive', '-o', partial, ref]);
    renameSync(partial, archive);
    process.stderr.write(
      `real-node: built ${ref} (${archive}) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
    );
    return { ref, archive };
  } finally {
    rmSync(context, { recursive: true, force: true });
  }
}
