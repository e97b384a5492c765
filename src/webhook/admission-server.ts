// The HTTPS endpoint the API server calls with AdmissionReviews. It listens at
// once; TLS handshakes fail until the first certificate is set, and a rotated
// certificate is swapped in with setSecureContext without dropping the port.
import { createServer, type Server } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../telemetry/logger.js';
import {
  admissionResponse,
  admissionReview,
  explainInvalidReview,
  type AdmissionDecision,
  type AdmissionRequest,
} from './admission-review.js';

/** The API server sends at most ~3 MiB objects; anything larger is not an AdmissionReview. */
const MAX_BODY_BYTES = 4 * 1024 * 1024;

export type AdmissionHandler = (request: AdmissionRequest) => Promise<AdmissionDecision>;

/** A plain JSON endpoint on the same listener (e.g. the credential endpoint): POST only. */
export type JsonRouteHandler = (request: {
  headers: IncomingHttpHeaders;
  body: string;
}) => Promise<{ status: number; body: unknown }>;

export interface AdmissionServerOptions {
  host: string;
  port: number;
  /** Path → handler, e.g. { '/mutate-pods': … }. */
  handlers: Readonly<Record<string, AdmissionHandler>>;
  /** Path → JSON endpoint that is not an admission webhook. */
  routes?: Readonly<Record<string, JsonRouteHandler>> | undefined;
  logger: Logger;
}

export interface RunningAdmissionServer {
  /** https://host:port (the bound port when 0 was asked). */
  readonly url: string;
  /** Serve with this certificate from the next handshake on. */
  setCertificate(pem: { cert: string; key: string }): void;
  readonly hasCertificate: boolean;
  close(): Promise<void>;
}

/** Thrown by a handler (or the server) to answer with this HTTP status instead of a review. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, `the body exceeds ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

export async function startAdmissionServer(
  options: AdmissionServerOptions,
): Promise<RunningAdmissionServer> {
  const { logger } = options;
  let hasCertificate = false;

  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const routes = options.routes ?? {};
    const route = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (route) {
      if (req.method !== 'POST') throw new HttpError(405, `${path} takes POST`);
      const answer = await route({ headers: req.headers, body: await readBody(req) });
      sendJson(res, answer.status, answer.body);
      return;
    }
    const handler = Object.hasOwn(options.handlers, path) ? options.handlers[path] : undefined;
    if (!handler) throw new HttpError(404, `no admission webhook at ${path}`);
    if (req.method !== 'POST') throw new HttpError(405, 'admission reviews are POSTed');
    let body: unknown;
    try {
      body = JSON.parse(await readBody(req));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'the body is not JSON');
    }
    const review = admissionReview.safeParse(body);
    if (!review.success) throw new HttpError(400, explainInvalidReview(review.error));
    const request = review.data.request;
    const decision = await handler(request);
    sendJson(res, 200, admissionResponse(request.uid, decision));
  };

  const server: Server = createServer({}, (req, res) => {
    serve(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : 'internal error';
      // A 4xx/5xx answer makes the API server apply the webhook's failurePolicy.
      if (status >= 500) logger.error('admission request failed', { path: req.url, error: err });
      else logger.warn('bad admission request', { path: req.url, status, message });
      if (!res.headersSent) sendJson(res, status, { error: message });
      else res.destroy();
    });
  });
  // The API server waits timeoutSeconds (at most 30 s) for us; never hold a socket longer.
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  server.on('tlsClientError', (err) => {
    if (!hasCertificate)
      logger.debug('TLS handshake before a certificate was ready', { error: err });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    url: `https://${host}:${address.port}`,
    get hasCertificate() {
      return hasCertificate;
    },
    setCertificate(pem) {
      server.setSecureContext({ cert: pem.cert, key: pem.key });
      hasCertificate = true;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
