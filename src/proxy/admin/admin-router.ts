// The admin port's HTTP layer on plain node:http: finds the route, checks the
// bearer token, reads the JSON body, sends the reply. It replaced express and
// its ~40 helper packages, which held 5 MB of an idle sidecar's 80 MB RSS (and
// 5 MB of V8 heap; Node 20 and 26 alike). It answers as express did: paths
// match regardless of case or one trailing slash, HEAD is GET without the
// body, and a known path asked with another method is unknown (404), not 405.
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { ProxyError } from '../errors.js';
import { readAdminJson } from './admin-body.js';
import type { AdminToken } from './admin-token.js';

export interface AdminReply {
  status?: number;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as it is, e.g. Prometheus' exposition text. */
  text?: { body: string; contentType: string };
}

export interface AdminRoute {
  method: 'GET' | 'PUT';
  path: string;
  /** Only with the admin bearer token (checked before any body is read). */
  token?: boolean;
  /** The handler gets the request's JSON body (see readAdminJson). */
  jsonBody?: boolean;
  /** `query`: the URL's query parameters. */
  handle(body: unknown, query: URLSearchParams): AdminReply | Promise<AdminReply>;
}

export function adminError(message: string, code: string) {
  return { error: { message, type: 'invalid_request_error', param: null, code } };
}

export function adminRequestListener(
  routes: readonly AdminRoute[],
  token: AdminToken,
): RequestListener {
  const byKey = new Map(routes.map((r) => [`${r.method} ${r.path.toLowerCase()}`, r]));
  return (req, res) => {
    const method = req.method === 'HEAD' ? 'GET' : req.method;
    void answer(byKey.get(`${method} ${routePath(req.url ?? '/')}`), req, res, token);
  };
}

async function answer(
  route: AdminRoute | undefined,
  req: IncomingMessage,
  res: ServerResponse,
  token: AdminToken,
): Promise<void> {
  try {
    if (!route) return sendJson(res, 404, adminError('unknown admin path', 'unknown_url'));
    if (route.token && !token.accepts(req.headers.authorization)) {
      return sendJson(res, 401, adminError('missing or wrong admin bearer token', 'unauthorized'), {
        'www-authenticate': 'Bearer',
      });
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const query = new URLSearchParams(q === -1 ? '' : url.slice(q + 1));
    const reply = await route.handle(route.jsonBody ? await readAdminJson(req) : undefined, query);
    if (reply.text) send(res, reply.status ?? 200, reply.text.body, reply.text.contentType);
    else sendJson(res, reply.status ?? 200, reply.json);
  } catch (err) {
    if (err instanceof ProxyError) sendJson(res, err.status, err.body(), err.headers);
    // The message express's error handler gave anything else a handler threw.
    else sendJson(res, 500, adminError(`bad request: ${(err as Error).message}`, 'error'));
  }
}

/** "/Admin/V1/Table/?x=1" → "/admin/v1/table" */
function routePath(url: string): string {
  const query = url.indexOf('?');
  const path = (query === -1 ? url : url.slice(0, query)).toLowerCase();
  return path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
}

function sendJson(
  res: ServerResponse,
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): void {
  send(res, status, JSON.stringify(value), 'application/json; charset=utf-8', headers);
}

function send(
  res: ServerResponse,
  status: number,
  body: string,
  contentType: string,
  headers: Record<string, string> = {},
): void {
  // Node sends no body for HEAD but keeps the length a GET would have.
  res.writeHead(status, {
    ...headers,
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}
