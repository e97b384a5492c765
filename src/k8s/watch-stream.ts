// One watch over node:http/https: the API server answers `?watch=true` with
// one JSON object per line, {"type": ..., "object": ...}. Replaces
// client-node's Watch with the same behaviour where kube-client relies on it:
// a non-200 answer ends the watch with its status (410 = relist), the end of
// the stream ends it without error, a line that is not JSON is skipped.
import http from 'node:http';
import https from 'node:https';
import { errorFromStatus } from './api-status.js';
import { KubeApiError } from './types.js';

export interface WatchStream {
  /** Closes the connection; onDone is not called after this. */
  stop(): void;
}

export interface WatchStreamOptions {
  url: URL;
  /** For messages: `watch <path>: ...`. */
  path: string;
  /** TLS settings and headers (Authorization, User-Agent). */
  options: https.RequestOptions;
  /**
   * How long the answer's headers may take. The stream itself has no timeout:
   * a quiet resource sends nothing for minutes, and the server ends the watch
   * at its timeoutSeconds.
   */
  answerTimeoutMs: number;
  onEvent(type: string, object: unknown): void;
  onDone(err?: KubeApiError): void;
  /** Told once: the answer's status, or undefined when none came (rest_client_requests_total). */
  onAnswer?: ((status: number | undefined) => void) | undefined;
}

/** An error answer's body is a Status of a few hundred bytes; more is not read. */
const MAX_ERROR_BODY = 64 * 1024;

const objectLine = (line: string): { type: string; object: unknown } | undefined => {
  try {
    const data: unknown = JSON.parse(line);
    if (typeof data !== 'object' || data === null) return undefined;
    const { type, object } = data as { type?: unknown; object?: unknown };
    return typeof type === 'string' ? { type, object } : undefined;
  } catch {
    return undefined;
  }
};

export function openWatchStream(o: WatchStreamOptions): WatchStream {
  const what = `watch ${o.path}`;
  let over = false;
  let answered = false;
  const answer = (status: number | undefined): void => {
    if (answered) return;
    answered = true;
    try {
      o.onAnswer?.(status);
    } catch {
      // A metric must not break the watch.
    }
  };
  const done = (err?: KubeApiError): void => {
    if (over) return;
    over = true;
    answer(undefined);
    clearTimeout(answerTimer);
    req.destroy();
    o.onDone(err);
  };
  const transport = o.url.protocol === 'http:' ? http : https;
  const req = transport.request(
    o.url,
    {
      ...o.options,
      // Its own connection: a watch holds it for minutes, so it must not take
      // one of the request agent's sockets (as client-node, a one-off agent).
      agent: false,
      method: 'GET',
      headers: { ...(o.options.headers as http.OutgoingHttpHeaders), Accept: 'application/json' },
    },
    (res) => {
      clearTimeout(answerTimer);
      const status = res.statusCode ?? 0;
      answer(status);
      res.setEncoding('utf8');
      if (status !== 200) {
        let text = '';
        res.on('data', (chunk: string) => {
          if (text.length < MAX_ERROR_BODY) text += chunk;
        });
        res.on('end', () => {
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          const err = errorFromStatus(what, body, status);
          done(
            err.status === 410 && err.reason === undefined
              ? new KubeApiError(err.message, 410, 'Expired')
              : err,
          );
        });
        return;
      }
      let pending = '';
      res.on('data', (chunk: string) => {
        pending += chunk;
        let start = 0;
        for (let nl = pending.indexOf('\n'); nl >= 0 && !over; nl = pending.indexOf('\n', start)) {
          const line = pending.slice(start, nl).trim();
          start = nl + 1;
          const event = line === '' ? undefined : objectLine(line);
          if (event) o.onEvent(event.type, event.object);
        }
        pending = pending.slice(start);
      });
      res.on('end', () => {
        const event = pending.trim() === '' ? undefined : objectLine(pending.trim());
        if (event && !over) o.onEvent(event.type, event.object);
        done();
      });
      res.on('close', () => {
        if (!res.complete) done(new KubeApiError(`${what}: the connection was closed`));
      });
      res.on('error', (err) => done(new KubeApiError(`${what}: ${err.message}`)));
    },
  );
  const answerTimer = setTimeout(
    () => done(new KubeApiError(`${what}: no answer within ${o.answerTimeoutMs} ms`)),
    o.answerTimeoutMs,
  );
  // A dead peer on a long quiet watch is found by TCP keep-alive, as client-node did.
  req.on('socket', (socket) => socket.setKeepAlive(true, 30_000));
  req.on('error', (err) => done(new KubeApiError(`${what}: ${err.message}`)));
  req.end();
  return {
    stop: () => {
      over = true;
      clearTimeout(answerTimer);
      req.destroy();
    },
  };
}
