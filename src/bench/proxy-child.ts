// Starts `modelroute proxy` and the floor as child processes and readies them (table pushed, /readyz green).
import { randomBytes } from 'node:crypto';
import type { RoutingTable } from '../routing/table.js';
import type { Child, ChildGroup } from './children.js';
import { ROOT, nodeArgsFor } from './entrypoints.js';
import { API_KEY, API_KEY_ENV } from './route-table.js';

const START_TIMEOUT_MS = 30_000;

export interface RunningProxyChild {
  child: Child;
  dataUrl: string;
  adminUrl: string;
  token: string;
}

/** The parent's environment without settings that would change what the proxy does (ports, table file, OTLP). */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith('MODELROUTE_') && !k.startsWith('OTEL_')) env[k] = v;
  return env;
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

async function waitReady(adminUrl: string, child: Child): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (child.exited()) throw new Error(`proxy exited:\n${child.tail()}`);
    const res = await fetch(`${adminUrl}/readyz`).catch(() => undefined);
    if (res) await res.arrayBuffer();
    if (res?.status === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`proxy not ready after its table was pushed:\n${child.tail()}`);
}

export interface ProxyChildOptions {
  cpuProfDir: string | undefined;
  /** The program: the real CLI ('cli/main', then `proxy`) or the bench's own entry ('bench/proxy-main'). */
  entry: 'cli/main' | 'bench/proxy-main';
}

export async function startProxyChild(
  group: ChildGroup,
  table: RoutingTable,
  options: ProxyChildOptions,
): Promise<RunningProxyChild> {
  const token = randomBytes(24).toString('hex');
  const profile = options.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`] : [];
  const child = group.start(
    'proxy',
    [
      ...profile,
      ...nodeArgsFor(options.entry),
      ...(options.entry === 'cli/main' ? ['proxy'] : []),
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--admin-host',
      '127.0.0.1',
      '--admin-port',
      '0',
    ],
    {
      cwd: ROOT,
      env: { ...cleanEnv(), MODELROUTE_ADMIN_TOKEN: token, [API_KEY_ENV]: API_KEY },
    },
  );
  const line = await child.waitForLine(
    (l) => parseJsonLine(l)?.msg === 'proxy started',
    START_TIMEOUT_MS,
  );
  const started = parseJsonLine(line) as Record<string, unknown>;
  const dataUrl = String(started.data);
  const adminUrl = String(started.admin);

  const res = await fetch(`${adminUrl}/admin/v1/table`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(table),
  });
  const answer = await res.text();
  if (res.status !== 200)
    throw new Error(`the proxy rejected the table (${res.status}): ${answer}`);
  await waitReady(adminUrl, child);
  return { child, dataUrl, adminUrl, token };
}

export async function startFloorChild(
  group: ChildGroup,
  upstreamOrigin: string,
  upstreamModel: string,
): Promise<{ child: Child; url: string }> {
  const child = group.start(
    'floor',
    [...nodeArgsFor('bench/floor-proxy'), upstreamOrigin, upstreamModel, API_KEY],
    { cwd: ROOT },
  );
  const line = await child.waitForLine(
    (l) => parseJsonLine(l)?.url !== undefined,
    START_TIMEOUT_MS,
  );
  return { child, url: String(parseJsonLine(line)?.url) };
}
