// The admin port, separate from the data port: the controller pushes and
// inspects tables and quota assignments and reads outcome stats here; probes
// and Prometheus too.
import type { RequestListener } from 'node:http';
import { LABELS_AFTER_PARAM } from '../../learning/wire.js';
import { READABLE_TABLE_FORMATS } from '../../routing/table.js';
import { parseLabelsCursor } from '../learning/label-outbox.js';
import type { ProxyRuntime } from '../runtime.js';
import { adminError, adminRequestListener, type AdminRoute } from './admin-router.js';
import type { AdminToken } from './admin-token.js';

export function createAdminApp(
  runtime: ProxyRuntime,
  token: AdminToken,
  startedAt: number,
): RequestListener {
  // tableFormats in every answer the controller reads: it sends each proxy a
  // format it reads, and asks here (no token needed) before its first push.
  const tableFormats = READABLE_TABLE_FORMATS;

  const routes: AdminRoute[] = [
    { method: 'GET', path: '/healthz', handle: () => ({ json: { status: 'ok' } }) },
    {
      method: 'GET',
      path: '/readyz',
      handle: () => {
        const version = runtime.store.version;
        if (version) return { json: { status: 'ready', tableVersion: version, tableFormats } };
        return {
          status: 503,
          json: { status: 'not ready', reason: 'no routing table loaded yet', tableFormats },
        };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      handle: async () => ({
        text: { body: await runtime.metrics.render(), contentType: runtime.metrics.contentType },
      }),
    },
    {
      method: 'PUT',
      path: '/admin/v1/table',
      token: true,
      jsonBody: true,
      handle: (body) => {
        const result = runtime.store.update(body);
        if (!result.ok) {
          runtime.metrics.tableRejected('invalid');
          runtime.logger.warn('routing table rejected', {
            error: result.error,
            current: runtime.store.version,
          });
          return {
            status: 422,
            json: {
              ...adminError(result.error, 'table_rejected'),
              currentVersion: runtime.store.version ?? null,
              tableFormats,
            },
          };
        }
        if (result.changed)
          runtime.logger.info('routing table installed', { version: result.version });
        return { json: { version: result.version, changed: result.changed, tableFormats } };
      },
    },
    {
      method: 'PUT',
      path: '/admin/v1/quotas',
      token: true,
      jsonBody: true,
      handle: (body) => {
        const result = runtime.quotas.state.apply(body);
        if (!result.ok) {
          runtime.logger.warn('quota assignment refused', {
            status: result.status,
            error: result.error,
            current: runtime.quotas.state.assignment(),
          });
          return {
            status: result.status,
            json: {
              ...adminError(
                result.error,
                result.status === 409 ? 'assignment_outdated' : 'assignment_invalid',
              ),
              current: runtime.quotas.state.assignment(),
            },
          };
        }
        return { json: { assignment: runtime.quotas.state.assignment() } };
      },
    },
    {
      // What the proxy enforces now: the shares in effect (assigned, safe after expiry, limit / 20
      // before any assignment, or the whole limit in local mode) and the budgets it holds.
      method: 'GET',
      path: '/admin/v1/quotas',
      token: true,
      handle: () => ({
        json: {
          ...runtime.quotas.state.describe(),
          exactStore: runtime.quotas.store !== undefined,
          limits: [...runtime.live.limitsInEffect(), ...runtime.quotas.tenants.limitsInEffect()],
        },
      }),
    },
    {
      method: 'GET',
      path: '/admin/v1/table',
      token: true,
      handle: () => {
        const prepared = runtime.store.prepared;
        // Tables carry credentials references (Secret name and key), never values:
        // the schema has no field that could hold one, so there is nothing to redact.
        if (!prepared)
          return { status: 404, json: adminError('no routing table loaded yet', 'no_table') };
        return { json: prepared.table };
      },
    },
    {
      method: 'GET',
      path: '/admin/v1/stats',
      token: true,
      handle: (_body, query) => {
        const after = query.get(LABELS_AFTER_PARAM);
        const cursor = after === null ? undefined : parseLabelsCursor(after);
        if (typeof cursor === 'string')
          return { status: 400, json: adminError(cursor, 'invalid_cursor') };
        return {
          json: {
            tableVersion: runtime.store.version ?? null,
            tableFormats,
            difficultyModel: runtime.difficulty.model,
            uptimeSeconds: Math.round((runtime.now() - startedAt) / 1000),
            backends: runtime.live.stats(),
            routes: runtime.usage.stats(),
            ...runtime.attribution.stats(),
            calibration: runtime.strongShare.stats(),
            quotas: runtime.quotas.stats(runtime.live.limitUsage()),
            ...(runtime.credentialCheck
              ? { credentials: { unavailable: runtime.credentialCheck.report() } }
              : {}),
            // Labels after the reader's cursor and counters per learning rule: numbers only (issue 17).
            learning: runtime.learning.stats(cursor),
          },
        };
      },
    },
  ];
  return adminRequestListener(routes, token);
}
