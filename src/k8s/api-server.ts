// Requests to the API server over node:http/https: JSON in, parsed JSON out,
// KubeApiError for anything but 2xx. Objects reach our zod schemas exactly as
// the API server sent them. One keep-alive agent per TLS identity.
import http from 'node:http';
import https from 'node:https';
import { errorFromStatus } from './api-status.js';
import { openClusterAccess } from './cluster-access-fallback.js';
import type { ClusterAccess, ClusterAccessOptions, KubeconfigPlaces } from './cluster-access.js';
import { KeepAliveAgents } from './keep-alive-agents.js';
import { KubeApiError } from './types.js';
import { openWatchStream, type WatchStream } from './watch-stream.js';

export interface ApiServerOptions extends ClusterAccessOptions {
  userAgent?: string | undefined;
  /** Per request (not watches, once their answer began); default 30 s. */
  requestTimeoutMs?: number | undefined;
  /** Where the default kubeconfig and ServiceAccount are looked for (tests). */
  places?: KubeconfigPlaces | undefined;
  /**
   * Told about every request and watch once it is answered or failed
   * (client-go's rest_client_requests_total): status undefined when no answer came.
   */
  onRequest?: ((method: string, host: string, status: number | undefined) => void) | undefined;
}

export interface RequestInit {
  query?: Record<string, string | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string;
}

export interface ApiServer {
  /** One request; resolves with the parsed JSON body, throws KubeApiError for anything but 2xx. */
  request: (method: string, path: string, init?: RequestInit) => Promise<unknown>;
  /** A watch (`?watch=true`); each JSON line goes to onEvent, its end (or failure) to onDone once. */
  watch: (
    path: string,
    query: Record<string, string | undefined>,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err?: KubeApiError) => void,
  ) => Promise<WatchStream>;
}

/** An error's message, whatever was thrown. */
export const messageOf = (err: unknown): string =>
  err instanceof Error ? err.message : typeof err === 'string' ? err : 'unknown error';

export function urlOf(
  server: string,
  path: string,
  query: Record<string, string | undefined> = {},
): URL {
  const url = new URL(server + path);
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined) url.searchParams.set(key, value);
  }
  return url;
}

/** Checks the kubeconfig now (a bad one throws); credentials are loaded per request. */
export function connectApiServer(options: ApiServerOptions = {}): ApiServer {
  const access = openClusterAccess(options, options.places);
  const userAgent = options.userAgent ?? 'modelroute';
  const timeoutMs = options.requestTimeoutMs ?? 30_000;
  const agents = new KeepAliveAgents();

  async function prepare(
    what: string,
  ): Promise<{ cluster: ClusterAccess; opts: https.RequestOptions }> {
    try {
      const cluster = await access();
      const opts = await cluster.requestOptions();
      opts.headers = {
        ...(opts.headers as Record<string, string> | undefined),
        'User-Agent': userAgent,
      };
      return { cluster, opts };
    } catch (err) {
      throw new KubeApiError(`${what}: could not load credentials: ${messageOf(err)}`);
    }
  }

  return {
    async request(method, path, init = {}) {
      const what = `${method} ${path}`;
      const { cluster, opts } = await prepare(what);
      const url = urlOf(cluster.server, path, init.query);
      const body = init.body === undefined ? undefined : JSON.stringify(init.body);
      const headers: http.OutgoingHttpHeaders = {
        ...(opts.headers as http.OutgoingHttpHeaders),
        Accept: init.accept ?? 'application/json',
      };
      if (body !== undefined) {
        headers['Content-Type'] = init.contentType ?? 'application/json';
        headers['Content-Length'] = Buffer.byteLength(body);
      }
      const transport = url.protocol === 'http:' ? http : https;
      const agent = agents.for(url.protocol, opts);
      const answered = new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = transport.request(url, { ...opts, agent, method, headers }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('error', reject);
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        });
        req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
        // Node's messages name the address and the cause, never the request's headers.
        req.on('error', (err) => reject(new KubeApiError(`${what}: ${err.message}`)));
        req.end(body);
      });
      const counted = (code: number | undefined): void => {
        try {
          options.onRequest?.(method, url.host, code);
        } catch {
          // A metric must not fail the request.
        }
      };
      let answer: { status: number; text: string };
      try {
        answer = await answered;
      } catch (err) {
        counted(undefined);
        throw err;
      }
      counted(answer.status);
      const { status, text } = answer;
      let parsed: unknown = undefined;
      try {
        parsed = text === '' ? undefined : JSON.parse(text);
      } catch {
        if (status < 300) throw new KubeApiError(`${what}: the answer is not JSON`, status);
      }
      if (status < 200 || status >= 300) throw errorFromStatus(what, parsed, status);
      return parsed;
    },

    async watch(path, query, onEvent, onDone) {
      const { cluster, opts } = await prepare(`watch ${path}`);
      const url = urlOf(cluster.server, path, { ...query, watch: 'true' });
      return openWatchStream({
        url,
        path,
        options: opts,
        answerTimeoutMs: timeoutMs,
        onEvent,
        onDone,
        onAnswer: (status) => options.onRequest?.('GET', url.host, status),
      });
    },
  };
}
