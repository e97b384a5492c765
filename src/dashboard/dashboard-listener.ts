// The dashboard on node:http: the static page under /dashboard/ and the FinOps
// JSON API under /api/v1/. A chainable listener: it answers its own paths and
// returns false for anything else, so the controller's health server and the
// dev proxy's admin port can put it in front of their own routes.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SourceUnavailableError, type FinopsSource } from '../finops/api-types.js';
import type { Logger } from '../telemetry/logger.js';
import { parseNoQuery, parseUsageQuery, parseWindowQuery, type QueryResult } from './api-query.js';
import { DashboardAssets } from './dashboard-assets.js';

export interface DashboardListenerOptions {
  source: FinopsSource;
  /**
   * Whether a request may read the API (e.g. checks its bearer token). Absent:
   * the API is open (`modelroute dev` on loopback). The page itself holds no
   * data and is always served, so it can ask for the token.
   */
  authorize?: (req: IncomingMessage) => boolean;
  logger?: Logger;
}

/** Answers the request and returns true when the path is the dashboard's; false leaves it to the caller. */
export type DashboardListener = (req: IncomingMessage, res: ServerResponse) => boolean;

const PAGE_PREFIX = '/dashboard/';

// Everything the page loads comes from this origin; nothing may frame it.
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};
const API_HEADERS = {
  'cache-control': 'no-store',
  'x-content-type-options': 'nosniff',
};

type ApiEndpoint = (
  source: FinopsSource,
  params: URLSearchParams,
) => QueryResult<() => Promise<unknown>>;

function endpoint<Q>(
  parse: (params: URLSearchParams) => QueryResult<Q>,
  read: (source: FinopsSource, query: Q) => Promise<unknown>,
): ApiEndpoint {
  return (source, params) => {
    const parsed = parse(params);
    return parsed.ok ? { ok: true, value: () => read(source, parsed.value) } : parsed;
  };
}

const API: ReadonlyMap<string, ApiEndpoint> = new Map([
  ['/api/v1/usage', endpoint(parseUsageQuery, (s, q) => s.usage(q))],
  ['/api/v1/savings', endpoint(parseWindowQuery, (s, q) => s.savings(q))],
  ['/api/v1/latency', endpoint(parseWindowQuery, (s, q) => s.latency(q))],
  ['/api/v1/timeline', endpoint(parseWindowQuery, (s, q) => s.timeline(q))],
  ['/api/v1/budgets', endpoint(parseNoQuery, (s) => s.budgets())],
]);

export function createDashboardListener(options: DashboardListenerOptions): DashboardListener {
  const assets = new DashboardAssets();
  return (req, res) => {
    const url = req.url ?? '/';
    const queryAt = url.indexOf('?');
    const path = queryAt === -1 ? url : url.slice(0, queryAt);
    const query = queryAt === -1 ? '' : url.slice(queryAt + 1);

    const api = API.get(path);
    if (api) {
      if (!readOnly(req, res, true)) return true;
      void answerApi(api, path, new URLSearchParams(query), req, res, options);
      return true;
    }
    if (path === '/dashboard') {
      if (!readOnly(req, res, false)) return true;
      res.writeHead(308, { location: `${PAGE_PREFIX}${queryAt === -1 ? '' : `?${query}`}` }).end();
      return true;
    }
    if (path.startsWith(PAGE_PREFIX)) {
      if (!readOnly(req, res, false)) return true;
      void answerAsset(assets, path.slice(PAGE_PREFIX.length), req, res, options.logger);
      return true;
    }
    return false;
  };
}

/** GET and HEAD only; anything else gets a 405 here. */
function readOnly(req: IncomingMessage, res: ServerResponse, json: boolean): boolean {
  if (req.method === 'GET' || req.method === 'HEAD') return true;
  const message = `${req.method ?? 'this method'} is not allowed here: the dashboard and its API are read-only (use GET)`;
  if (json)
    sendJson(req, res, 405, apiError(message, 'method_not_allowed'), { allow: 'GET, HEAD' });
  else
    send(req, res, 405, message, {
      'content-type': 'text/plain; charset=utf-8',
      allow: 'GET, HEAD',
    });
  return false;
}

async function answerApi(
  api: ApiEndpoint,
  path: string,
  params: URLSearchParams,
  req: IncomingMessage,
  res: ServerResponse,
  options: DashboardListenerOptions,
): Promise<void> {
  if (options.authorize && !options.authorize(req)) {
    const message = req.headers.authorization
      ? 'the bearer token was refused: send the admin token as Authorization: Bearer <token>'
      : 'this API needs the admin token: send it as Authorization: Bearer <token>';
    return sendJson(req, res, 401, apiError(message, 'unauthorized'), {
      'www-authenticate': 'Bearer realm="modelroute"',
    });
  }
  const read = api(options.source, params);
  if (!read.ok) return sendJson(req, res, 400, apiError(read.error, 'invalid_query'));
  try {
    sendJson(req, res, 200, await read.value());
  } catch (err) {
    // A source that cannot answer now (a controller that does not lead) says so with a 503.
    if (err instanceof SourceUnavailableError)
      return sendJson(req, res, 503, apiError(err.message, 'unavailable'), { 'retry-after': '5' });
    options.logger?.error('FinOps API read failed', { path, error: err });
    sendJson(
      req,
      res,
      500,
      apiError(`could not read ${path}: ${(err as Error).message}`, 'source_failed'),
    );
  }
}

async function answerAsset(
  assets: DashboardAssets,
  name: string,
  req: IncomingMessage,
  res: ServerResponse,
  logger: Logger | undefined,
): Promise<void> {
  const lookup = await assets.get(name);
  if (!lookup.found) {
    if (lookup.reason === 'unreadable')
      logger?.error('dashboard file unreadable', { asset: name, error: lookup.error });
    const status = lookup.reason === 'unknown' ? 404 : 500;
    const message =
      lookup.reason === 'unknown'
        ? `no such dashboard file; the page is at ${PAGE_PREFIX}`
        : `dashboard file ${name || 'index.html'} is missing from this installation (${lookup.error})`;
    return send(req, res, status, message, { 'content-type': 'text/plain; charset=utf-8' });
  }
  const { asset } = lookup;
  const headers = {
    ...PAGE_HEADERS,
    'content-type': asset.contentType,
    // Revalidated on every load (cheap with the ETag), so an upgrade shows at once.
    'cache-control': 'no-cache',
    etag: asset.etag,
  };
  if (req.headers['if-none-match'] === asset.etag) return send(req, res, 304, '', headers);
  send(req, res, 200, asset.body, headers);
}

function apiError(message: string, code: string) {
  return { error: { message, code } };
}

function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  send(req, res, status, JSON.stringify(value), {
    ...API_HEADERS,
    'content-type': 'application/json; charset=utf-8',
    ...headers,
  });
}

function send(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  body: string | Buffer,
  headers: Record<string, string>,
): void {
  const length = status === 304 ? 0 : Buffer.byteLength(body);
  res.writeHead(status, { ...headers, ...(status === 304 ? {} : { 'content-length': length }) });
  res.end(req.method === 'HEAD' || status === 304 ? undefined : body);
}
