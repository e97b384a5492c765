// The peer: Portkey's open-source gateway, installed on demand into .bench/peer/ and run as a child on loopback.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Child, ChildGroup } from './children.js';
import { ROOT } from './entrypoints.js';

export const PORTKEY_VERSION = '1.15.2';
/** Git-ignored cache directory for the peer's install. */
export const PEER_DIR = join(ROOT, '.bench', 'peer');
/**
 * Pins beside the gateway. npm resolves its `@hono/node-server: ^1.3.3` to the
 * newest 1.x, whose lightweight Response keeps fetch's immutable headers; the
 * gateway then answers streamed requests (and, from 1.14.3, buffered ones too)
 * with 500 "TypeError: immutable" from updateHeaders (Portkey-AI/gateway#1389).
 * 1.13.8 works for both; @hono/node-ws 1.2.0 is the last whose peer range accepts it.
 */
export const PORTKEY_PINS = ['@hono/node-server@1.13.8', '@hono/node-ws@1.2.0'];
const INSTALL_TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 30_000;

/** Forces servers that listen on a bare port onto loopback (the gateway has no host flag). */
const LOOPBACK_ONLY = `data:text/javascript,${encodeURIComponent(
  "import net from 'node:net';" +
    'const listen = net.Server.prototype.listen;' +
    'net.Server.prototype.listen = function (...args) {' +
    "  if (typeof args[0] === 'number' && typeof args[1] !== 'string') args.splice(1, 0, '127.0.0.1');" +
    "  else if (args[0] && typeof args[0] === 'object' && args[0].host === undefined) args[0] = { ...args[0], host: '127.0.0.1' };" +
    '  return listen.apply(this, args);' +
    '};',
)}`;

function installedVersion(pkg: string): string | undefined {
  try {
    const json = JSON.parse(
      readFileSync(join(PEER_DIR, 'node_modules', pkg, 'package.json'), 'utf8'),
    ) as { version?: unknown };
    return typeof json.version === 'string' ? json.version : undefined;
  } catch {
    return undefined;
  }
}

function isInstalled(): boolean {
  return (
    installedVersion('@portkey-ai/gateway') === PORTKEY_VERSION &&
    PORTKEY_PINS.every((p) => {
      const at = p.lastIndexOf('@');
      return installedVersion(p.slice(0, at)) === p.slice(at + 1);
    })
  );
}

/**
 * Installs the gateway unless the right version is there; never touches
 * package.json. With `install: false` (quick runs in CI, which must not reach
 * a registry) a missing install is reported, not made.
 */
export async function ensurePortkey(
  options: { install: boolean } = { install: true },
): Promise<{ ok: true } | { ok: false; message: string }> {
  if (isInstalled()) return { ok: true };
  if (!options.install)
    return {
      ok: false,
      message: `@portkey-ai/gateway@${PORTKEY_VERSION} is not installed in ${PEER_DIR} and --quick does not install it (a run without --quick installs it there)`,
    };
  const args = [
    'install',
    '--prefix',
    PEER_DIR,
    '--no-save',
    '--ignore-scripts',
    '--no-audit',
    '--no-fund',
    `@portkey-ai/gateway@${PORTKEY_VERSION}`,
    ...PORTKEY_PINS,
  ];
  const result = await new Promise<{ code: number | null; output: string }>((resolve) => {
    const npm = spawn(process.platform === 'win32' ? 'npm.cmd' : 'npm', args, {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (b: Buffer) => {
      output = (output + b.toString('utf8')).slice(-4000);
    };
    npm.stdout.on('data', keep);
    npm.stderr.on('data', keep);
    const timer = setTimeout(() => npm.kill('SIGKILL'), INSTALL_TIMEOUT_MS);
    npm.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: -1, output: err.message });
    });
    npm.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
  if (result.code === 0 && isInstalled()) return { ok: true };
  return {
    ok: false,
    message: `could not install @portkey-ai/gateway@${PORTKEY_VERSION} into ${PEER_DIR} (npm ${args.join(' ')}; exit ${result.code}): ${result.output.trim().split('\n').slice(-5).join(' | ')}`,
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface RunningPortkey {
  child: Child;
  url: string;
  /** Headers that make the gateway call our simulator as an OpenAI provider. */
  headers: Record<string, string>;
}

export async function startPortkey(group: ChildGroup, simUrl: string): Promise<RunningPortkey> {
  const port = await freePort();
  // start-server.js reads only "--port=N" (a separate "--port N" is ignored: it would serve on 8787).
  const child = group.start(
    'portkey',
    [
      '--import',
      LOOPBACK_ONLY,
      join(PEER_DIR, 'node_modules/@portkey-ai/gateway/build/start-server.js'),
      `--port=${port}`,
    ],
    { cwd: PEER_DIR },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < START_TIMEOUT_MS / 100; i++) {
    if (child.exited()) throw new Error(`portkey exited:\n${child.tail()}`);
    const res = await fetch(`${url}/`).catch(() => undefined);
    const text = res ? await res.text() : '';
    if (res?.status === 200 && /gateway/i.test(text)) {
      return {
        child,
        url,
        headers: {
          'x-portkey-provider': 'openai',
          'x-portkey-custom-host': `${simUrl}/v1`,
        },
      };
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`portkey not ready within ${START_TIMEOUT_MS} ms:\n${child.tail()}`);
}
