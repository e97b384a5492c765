// The data port: the OpenAI-compatible API applications call. Plain node:http
// (no framework) because every microsecond here is added to every request.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { ProxyError, sendError, type ErrorShape } from './errors.js';
import { handleFeedback } from './handlers/feedback.js';
import { handleInference } from './handlers/inference.js';
import { handleModels } from './handlers/models.js';
import {
  COUNT_TOKENS_PATH,
  INGRESS_DIALECTS,
  anthropicErrorShape,
  handleCountTokens,
} from './ingress/index.js';
import { RESPONSE_HEADERS } from './forward/request.js';
import type { ProxyRuntime } from './runtime.js';

export interface DataServerOptions {
  /** Max time to receive a request's headers (slow clients get 408). */
  headersTimeoutMs: number;
  /** Max time to receive a whole request (headers and body). */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

const ENDPOINTS = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
} as const;

/** Scores for answers of learning rules (issue 17). */
export const FEEDBACK_PATH = '/v1/feedback';

export function createDataServer(runtime: ProxyRuntime, options: DataServerOptions): Server {
  const server = createServer(
    {
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      keepAliveTimeout: options.keepAliveTimeoutMs,
      // Node enforces both timeouts only when it sweeps its connections, every
      // 30 s by default: a slow client would keep its socket that long whatever
      // the limits say. Sweep often enough for the limits to mean what they say.
      connectionsCheckingInterval: sweepIntervalMs(options),
      // Node's own check answers a bare 400 with no body; ours below answers in OpenAI's shape.
      requireHostHeader: false,
    },
    (req: IncomingMessage, res: ServerResponse) => {
      // First, so every answer carries it, errors too: what a caller quotes in feedback or a bug report.
      const requestId = runtime.newRequestId();
      res.setHeader(RESPONSE_HEADERS.requestId, requestId);
      if (req.httpVersion === '1.1' && req.headers.host === undefined) {
        req.resume();
        return sendError(
          res,
          new ProxyError(
            400,
            'bad HTTP request: an HTTP/1.1 request must carry a Host header',
            'invalid_request_error',
            'bad_http',
          ),
          { connection: 'close' },
        );
      }
      const path = (req.url ?? '/').split('?', 1)[0] as string;
      const endpoint = ENDPOINTS[path as keyof typeof ENDPOINTS];
      if (endpoint) {
        if (req.method !== 'POST') return methodNotAllowed(res, path, 'POST');
        handleInference(runtime, endpoint, req, res, requestId).catch(unhandled(runtime, res));
        return;
      }
      // The Responses and Messages APIs: chat requests inside (issue 18).
      const dialect = INGRESS_DIALECTS.get(path);
      if (dialect) {
        if (req.method !== 'POST') return methodNotAllowed(res, path, 'POST', dialect.errors);
        handleInference(runtime, 'chat', req, res, requestId, dialect).catch(
          unhandled(runtime, res, dialect.errors),
        );
        return;
      }
      if (path === COUNT_TOKENS_PATH) {
        if (req.method !== 'POST') return methodNotAllowed(res, path, 'POST', anthropicErrorShape);
        handleCountTokens(runtime, req, res).catch(unhandled(runtime, res, anthropicErrorShape));
        return;
      }
      if (path === FEEDBACK_PATH) {
        if (req.method !== 'POST') return methodNotAllowed(res, path, 'POST');
        handleFeedback(runtime, req, res).catch(unhandled(runtime, res));
        return;
      }
      if (path === '/v1/models') {
        if (req.method !== 'GET') return methodNotAllowed(res, path, 'GET');
        req.resume();
        handleModels(runtime, req, res).catch(unhandled(runtime, res));
        return;
      }
      req.resume();
      sendError(
        res,
        new ProxyError(
          404,
          `unknown path ${path}: this proxy serves /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/responses, /v1/messages (and its count_tokens), /v1/models and /v1/feedback`,
          'not_found_error',
          'unknown_url',
        ),
      );
    },
  );
  // Malformed HTTP never reaches the handler; answer it rather than drop it.
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    if (!socket.writable) return socket.destroy();
    const status =
      err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? 408
        : err.code === 'HPE_HEADER_OVERFLOW'
          ? 431
          : 400;
    const body = JSON.stringify(
      new ProxyError(
        status,
        `bad HTTP request: ${err.code ?? err.message}`,
        'invalid_request_error',
        'bad_http',
      ).body(),
    );
    socket.end(
      `HTTP/1.1 ${status} ${status === 408 ? 'Request Timeout' : status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nconnection: close\r\n${RESPONSE_HEADERS.requestId}: ${runtime.newRequestId()}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  });
  return server;
}

function unhandled(
  runtime: ProxyRuntime,
  res: ServerResponse,
  shape?: ErrorShape,
): (err: unknown) => void {
  return (err) => {
    runtime.logger.error('unhandled request error', { error: err });
    sendError(
      res,
      new ProxyError(500, 'internal proxy error', 'server_error', 'internal_error'),
      {},
      shape,
    );
  };
}

function sweepIntervalMs(options: DataServerOptions): number {
  const limits = [options.headersTimeoutMs, options.requestTimeoutMs].filter((ms) => ms > 0);
  if (limits.length === 0) return 30_000; // Node's default; nothing to enforce
  return Math.max(10, Math.min(1_000, Math.floor(Math.min(...limits) / 2)));
}

function methodNotAllowed(
  res: ServerResponse,
  path: string,
  allowed: string,
  shape?: ErrorShape,
): void {
  sendError(
    res,
    new ProxyError(
      405,
      `${path} accepts ${allowed} only`,
      'invalid_request_error',
      'method_not_allowed',
    ),
    { allow: allowed },
    shape,
  );
}
