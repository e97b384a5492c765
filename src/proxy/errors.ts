// Errors in OpenAI's JSON shape, so every client library understands them.
import type { ServerResponse } from 'node:http';
import { redactSecrets } from '../telemetry/redact.js';

export type OpenAIErrorType =
  | 'invalid_request_error'
  | 'authentication_error'
  | 'not_found_error'
  /** Also the proxy's own 429s (codes tenant_rate_limited, budget_exceeded, capacity_shed). */
  | 'rate_limit_error'
  | 'server_error'
  | 'service_unavailable'
  | 'timeout_error'
  | 'upstream_error';

export interface OpenAIErrorBody {
  error: { message: string; type: OpenAIErrorType; param: string | null; code: string | null };
}

export class ProxyError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: OpenAIErrorType,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Extra response headers, e.g. Retry-After. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  /** The body clients get. Messages may carry upstream text, so they pass the redactor. */
  body(): OpenAIErrorBody {
    return {
      error: {
        message: redactSecrets(this.message),
        type: this.type,
        param: this.param,
        code: this.code,
      },
    };
  }
}

/** A thrown ProxyError as it is; anything else (a bug) as a 500 that points at the proxy log. */
export function asProxyError(err: unknown): ProxyError {
  return err instanceof ProxyError
    ? err
    : new ProxyError(
        500,
        'internal proxy error; see the proxy log',
        'server_error',
        'internal_error',
      );
}

/** A data-port request that arrived before the proxy's first routing table. */
export const notReady = () =>
  new ProxyError(
    503,
    'the proxy has no routing table yet; it is waiting for the controller to push one',
    'service_unavailable',
    'not_ready',
  );

export const badRequest = (
  message: string,
  param: string | null = null,
  code = 'invalid_request',
) => new ProxyError(400, message, 'invalid_request_error', code, param);

/** How a client API answers a proxy error: its status and body (ingress dialects differ). */
export interface ErrorShape {
  status(err: ProxyError): number;
  body(err: ProxyError): unknown;
}

export const OPENAI_ERROR_SHAPE: ErrorShape = {
  status: (err) => err.status,
  body: (err) => err.body(),
};

export function sendError(
  res: ServerResponse,
  err: ProxyError,
  extraHeaders: Record<string, string> = {},
  shape: ErrorShape = OPENAI_ERROR_SHAPE,
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(shape.body(err));
  res.writeHead(shape.status(err), {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    ...extraHeaders,
    ...err.headers,
  });
  res.end(body);
}
