// /healthz, /readyz and /metrics of a controller replica (leader or not).
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DashboardListener } from '../dashboard/dashboard-listener.js';
import type { ControllerMetrics } from '../telemetry/controller-metrics.js';

export interface HealthServerOptions {
  host: string;
  port: number;
  metrics: ControllerMetrics;
  synced: () => boolean;
  isLeader: () => boolean;
  queueDepth: () => number;
  /** The FinOps dashboard and API (/dashboard/, /api/v1/), answered first. */
  dashboard?: DashboardListener | undefined;
}

export interface RunningHealthServer {
  url: string;
  close(): Promise<void>;
}

export async function startHealthServer(
  options: HealthServerOptions,
): Promise<RunningHealthServer> {
  const { metrics } = options;
  const server: Server = createServer((req, res) => {
    if (options.dashboard?.(req, res)) return;
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz')
      return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    if (path === '/readyz') {
      const synced = options.synced();
      return void res
        .writeHead(synced ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: synced ? 'ready' : 'syncing', leader: options.isLeader() }));
    }
    if (path === '/metrics') {
      metrics.queueDepth(options.queueDepth());
      void metrics
        .render()
        .then((text) => res.writeHead(200, { 'content-type': metrics.contentType }).end(text));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(options.port, options.host, resolve));
  return {
    url: `http://${options.host}:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
