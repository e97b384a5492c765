// The admin port, separate from the data port: the controller pushes and
// inspects tables and quota assignments and reads outcome stats here; probes
// and Prometheus too.
import express, { type NextFunction, type Request, type Response } from 'express';
import { READABLE_TABLE_FORMATS } from '../../routing/table.js';
import type { ProxyRuntime } from '../runtime.js';
import type { AdminToken } from './admin-token.js';

const MAX_TABLE_BYTES = '16mb';

function errorBody(message: string, code: string) {
  return { error: { message, type: 'invalid_request_error', param: null, code } };
}

export function createAdminApp(
  runtime: ProxyRuntime,
  token: AdminToken,
  startedAt: number,
): express.Express {
  const app = express();
  app.disable('x-powered-by');

  const requireToken = (req: Request, res: Response, next: NextFunction): void => {
    if (token.accepts(req.headers.authorization)) return next();
    res
      .status(401)
      .set('www-authenticate', 'Bearer')
      .json(errorBody('missing or wrong admin bearer token', 'unauthorized'));
  };

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  // tableFormats in every answer the controller reads: it sends each proxy a
  // format it reads, and asks here (no token needed) before its first push.
  const tableFormats = READABLE_TABLE_FORMATS;

  app.get('/readyz', (_req, res) => {
    const version = runtime.store.version;
    if (version) res.json({ status: 'ready', tableVersion: version, tableFormats });
    else
      res
        .status(503)
        .json({ status: 'not ready', reason: 'no routing table loaded yet', tableFormats });
  });

  app.get('/metrics', async (_req, res) => {
    res.set('content-type', runtime.metrics.contentType).send(await runtime.metrics.render());
  });

  app.put(
    '/admin/v1/table',
    requireToken,
    express.json({ limit: MAX_TABLE_BYTES, strict: true, type: () => true }),
    (req, res) => {
      const result = runtime.store.update(req.body);
      if (!result.ok) {
        runtime.metrics.tableRejected('invalid');
        runtime.logger.warn('routing table rejected', {
          error: result.error,
          current: runtime.store.version,
        });
        res.status(422).json({
          ...errorBody(result.error, 'table_rejected'),
          currentVersion: runtime.store.version ?? null,
          tableFormats,
        });
        return;
      }
      if (result.changed)
        runtime.logger.info('routing table installed', { version: result.version });
      res.json({ version: result.version, changed: result.changed, tableFormats });
    },
  );

  app.put(
    '/admin/v1/quotas',
    requireToken,
    express.json({ limit: MAX_TABLE_BYTES, strict: true, type: () => true }),
    (req, res) => {
      const result = runtime.quotas.state.apply(req.body);
      if (!result.ok) {
        runtime.logger.warn('quota assignment refused', {
          status: result.status,
          error: result.error,
          current: runtime.quotas.state.assignment(),
        });
        res.status(result.status).json({
          ...errorBody(
            result.error,
            result.status === 409 ? 'assignment_outdated' : 'assignment_invalid',
          ),
          current: runtime.quotas.state.assignment(),
        });
        return;
      }
      res.json({ assignment: runtime.quotas.state.assignment() });
    },
  );

  // What the proxy enforces now: the shares in effect (assigned, safe after expiry, limit / 20
  // before any assignment, or the whole limit in local mode) and the budgets it holds.
  app.get('/admin/v1/quotas', requireToken, (_req, res) => {
    res.json({
      ...runtime.quotas.state.describe(),
      exactStore: runtime.quotas.store !== undefined,
      limits: [...runtime.live.limitsInEffect(), ...runtime.quotas.tenants.limitsInEffect()],
    });
  });

  app.get('/admin/v1/table', requireToken, (_req, res) => {
    const prepared = runtime.store.prepared;
    // Tables carry credentials references (Secret name and key), never values:
    // the schema has no field that could hold one, so there is nothing to redact.
    if (!prepared) res.status(404).json(errorBody('no routing table loaded yet', 'no_table'));
    else res.json(prepared.table);
  });

  app.get('/admin/v1/stats', requireToken, (_req, res) => {
    res.json({
      tableVersion: runtime.store.version ?? null,
      tableFormats,
      difficultyModel: runtime.difficulty.model,
      uptimeSeconds: Math.round((runtime.now() - startedAt) / 1000),
      backends: runtime.live.stats(),
      routes: runtime.usage.stats(),
      calibration: runtime.strongShare.stats(),
      quotas: runtime.quotas.stats(runtime.live.limitUsage()),
      ...(runtime.credentialCheck
        ? { credentials: { unavailable: runtime.credentialCheck.report() } }
        : {}),
    });
  });

  app.use((_req, res) => {
    res.status(404).json(errorBody('unknown admin path', 'unknown_url'));
  });

  // Body-parser errors (bad JSON, too large) in OpenAI's error shape.
  app.use(
    (
      err: { status?: number; type?: string; message?: string },
      _req: Request,
      res: Response,
      _next: NextFunction,
    ) => {
      const status = err.status ?? 500;
      const message =
        err.type === 'entity.too.large'
          ? `body larger than ${MAX_TABLE_BYTES}`
          : `bad request: ${err.message ?? 'unknown error'}`;
      res.status(status).json(errorBody(message, err.type ?? 'error'));
    },
  );
  return app;
}
