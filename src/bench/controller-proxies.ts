// The proxies the controller benchmark programs: real ones (startProxy, in
// this process, so the moment each installs a table is seen without polling)
// and ack-only ones (a few lines of node:http that accept any table), each on
// its own loopback address as a pod would have its own IP.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { startProxy, type ProxyOptions, type RunningProxy } from '../proxy/proxy.js';
import type { RoutingTable } from '../routing/table.js';
import { createLogger } from '../telemetry/logger.js';

/** 127.0.0.2, 127.0.0.3, ...: the i-th proxy's address (127.0.0.1 is left to everything else). */
export const proxyAddress = (i: number): string => `127.0.0.${i + 2}`;

export interface BenchProxy {
  name: string;
  ip: string;
  adminPort: number;
  close(): Promise<void>;
}

export interface RealProxy extends BenchProxy {
  /** Called with each table the proxy installs, at the moment it installs it. */
  onInstall(listener: (table: RoutingTable, atNs: bigint) => void): void;
}

/** `count` real proxies on 127.0.0.2, 127.0.0.3, ... (random ports), quiet; all closed if one fails to start. */
export async function startProxiesOnLoopback(
  count: number,
  adminToken: string,
  options: Pick<ProxyOptions, 'namespace'> = {},
): Promise<RunningProxy[]> {
  const logger = createLogger({ level: 'error', write: () => {} });
  const started: RunningProxy[] = [];
  try {
    for (let i = 0; i < count; i++)
      started.push(
        await startProxy({
          ...options,
          host: proxyAddress(i),
          dataPort: 0,
          adminPort: 0,
          adminToken: { value: adminToken },
          logger,
        }),
      );
  } catch (err) {
    await Promise.all(started.map((p) => p.close()));
    throw err;
  }
  return started;
}

export async function startRealProxies(count: number, adminToken: string): Promise<RealProxy[]> {
  const started = await startProxiesOnLoopback(count, adminToken);
  return started.map((proxy, i) => ({
    name: `proxy-${i}`,
    ip: proxyAddress(i),
    adminPort: Number(new URL(proxy.adminUrl).port),
    onInstall: (listener) =>
      proxy.runtime.store.onChange((prepared) => listener(prepared.table, process.hrtime.bigint())),
    close: () => proxy.close(),
  }));
}

/** Only the field an ack-only proxy reads from a pushed table. */
const pushedTable = z.looseObject({ version: z.string().min(1) });

export interface AckRecord {
  /** PUTs answered, and their bodies' total size. */
  pushes: number;
  bytes: number;
  version: string | undefined;
  firstAckNs: bigint | undefined;
  /** When the version it holds now was acknowledged. */
  lastAckNs: bigint | undefined;
}

export interface AckOnlyProxy extends BenchProxy {
  readonly record: AckRecord;
  /** Called with each pushed table's raw body, as it is acknowledged. */
  onPush(listener: ((body: Buffer, atNs: bigint) => void) | undefined): void;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/**
 * A proxy that acknowledges every table it is sent (PUT /admin/v1/table) and
 * reports the version it holds (GET /admin/v1/stats), as the controller
 * expects from src/controller/proxy-fleet.ts. It costs the bench process
 * one JSON.parse per push, so the controller, not the proxies, is measured.
 */
export async function startAckOnlyProxy(index: number, adminToken: string): Promise<AckOnlyProxy> {
  const record: AckRecord = {
    pushes: 0,
    bytes: 0,
    version: undefined,
    firstAckNs: undefined,
    lastAckNs: undefined,
  };
  const expected = `Bearer ${adminToken}`;
  let pushListener: ((body: Buffer, atNs: bigint) => void) | undefined;
  const server: Server = createServer((req, res) => {
    if (req.headers.authorization !== expected)
      return json(res, 401, { error: { message: 'missing or wrong admin bearer token' } });
    const path = (req.url ?? '/').split('?')[0];
    if (req.method === 'GET' && path === '/admin/v1/stats')
      return json(res, 200, { tableVersion: record.version ?? null, backends: [] });
    if (req.method !== 'PUT' || path !== '/admin/v1/table')
      return json(res, 404, { error: { message: 'not found' } });
    readBody(req)
      .then((body) => {
        const parsed = pushedTable.safeParse(JSON.parse(body.toString('utf8')));
        if (!parsed.success) return json(res, 422, { error: { message: 'not a table' } });
        const at = process.hrtime.bigint();
        record.pushes += 1;
        record.bytes += body.length;
        record.firstAckNs ??= at;
        const changed = parsed.data.version !== record.version;
        if (changed) {
          record.version = parsed.data.version;
          record.lastAckNs = at;
        }
        pushListener?.(body, at);
        json(res, 200, { version: parsed.data.version, changed });
      })
      .catch((err: unknown) => json(res, 400, { error: { message: String(err) } }));
  });
  const ip = proxyAddress(index);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, ip, () => resolve());
  });
  return {
    name: `ack-proxy-${index}`,
    ip,
    adminPort: (server.address() as AddressInfo).port,
    record,
    onPush: (listener) => {
      pushListener = listener;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
