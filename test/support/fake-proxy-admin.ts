// A proxy's admin port and nothing else, for control-plane tests that need
// proxies to report what a test decides (calibration sketches and counters)
// rather than what real traffic produced. It accepts pushed tables only if
// they validate as a real proxy would (parseRoutingTable), records each one,
// and answers GET /admin/v1/stats in the shape the proxy serves.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ProxyCalibrationStats, ProxyStats } from '../../src/controller/proxy-fleet.js';
import { quotaAssignment, type QuotaAssignment } from '../../src/quota/protocol.js';
import {
  READABLE_TABLE_FORMATS,
  parseRoutingTable,
  type RoutingTable,
} from '../../src/routing/table.js';
import { ADMIN_TOKEN } from './controller-env.js';

export interface FakeProxyAdmin {
  readonly adminUrl: string;
  /** Every table pushed and accepted, oldest first. */
  readonly tables: RoutingTable[];
  /** Quota assignments pushed (PUT /admin/v1/quotas), oldest first; only when `takesQuotas`. */
  readonly assignments: QuotaAssignment[];
  /** Stats reads answered so far. */
  readonly statsReads: number;
  /** What the next stats reads report for calibration. */
  calibration: ProxyCalibrationStats[];
  /** Cumulative requests and cost per route the next stats reads report. */
  routes: ProxyStats['routes'];
  /** The `quotas` field the next stats reads report (tenants' cumulative spend); absent by default. */
  quotas: ProxyStats['quotas'];
  /** When the process "started" (epoch ms): stats report uptime from it; set it later for a restart. */
  startedAt: number;
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * `takesQuotas`: accept quota assignments as a proxy with fleet-wide limits
 * does (validated by the protocol's schema); without it the port answers 404
 * there, as a proxy older than fleet quotas would.
 */
export async function startFakeProxyAdmin(
  host: string,
  options: { takesQuotas?: boolean } = {},
): Promise<FakeProxyAdmin> {
  const tables: RoutingTable[] = [];
  const assignments: QuotaAssignment[] = [];
  let statsReads = 0;
  const fake = {
    adminUrl: '',
    tables,
    assignments,
    get statsReads() {
      return statsReads;
    },
    calibration: [] as ProxyCalibrationStats[],
    routes: [] as ProxyStats['routes'],
    quotas: undefined as ProxyStats['quotas'],
    startedAt: Date.now(),
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
  const server: Server = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const tableFormats = READABLE_TABLE_FORMATS;
    if (req.method === 'GET' && req.url === '/readyz')
      return reply(tables.length > 0 ? 200 : 503, { tableFormats });
    if (req.headers.authorization !== `Bearer ${ADMIN_TOKEN}`)
      return reply(401, { error: { message: 'bad admin token' } });
    if (req.method === 'PUT' && req.url === '/admin/v1/table') {
      void bodyOf(req).then((text) => {
        const parsed = parseRoutingTable(JSON.parse(text));
        if (!parsed.ok) return reply(422, { error: { message: parsed.error }, tableFormats });
        tables.push(parsed.table);
        reply(200, { version: parsed.table.version, tableFormats });
      });
      return;
    }
    if (options.takesQuotas && req.method === 'PUT' && req.url === '/admin/v1/quotas') {
      void bodyOf(req).then((text) => {
        const parsed = quotaAssignment.safeParse(JSON.parse(text));
        if (!parsed.success) return reply(400, { error: { message: parsed.error.message } });
        assignments.push(parsed.data);
        reply(200, { sequence: parsed.data.sequence });
      });
      return;
    }
    if (req.method === 'GET' && req.url === '/admin/v1/stats') {
      statsReads += 1;
      return reply(200, {
        tableVersion: tables.at(-1)?.version ?? null,
        tableFormats,
        uptimeSeconds: Math.floor((Date.now() - fake.startedAt) / 1000),
        backends: [],
        routes: fake.routes,
        calibration: fake.calibration,
        ...(fake.quotas ? { quotas: fake.quotas } : {}),
      });
    }
    reply(404, { error: { message: `${req.method} ${req.url} is not served here` } });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  fake.adminUrl = `http://${host}:${(server.address() as AddressInfo).port}`;
  return fake;
}
