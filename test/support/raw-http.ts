// Raw HTTP/1.1 over node:net, for what fetch will not send: malformed request
// lines and headers, bodies that stop half-way, clients that never finish.
import { connect, type Socket } from 'node:net';

export interface RawResponse {
  status: number;
  /** Header names in lower case; a repeated header keeps its last value. */
  headers: Record<string, string>;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface RawExchangeOptions {
  /**
   * Pieces written in order, `pauseMs` apart. The socket is never ended by
   * the client: a server waiting for more has to decide on its own.
   */
  pauseMs?: number;
  /** Rejects when no complete response arrived by then (default 10 s). */
  timeoutMs?: number;
}

/** Sends raw bytes to `url`'s host and port and reads one response. */
export function rawExchange(
  url: string,
  pieces: (string | Buffer)[],
  options: RawExchangeOptions = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  return new Promise<RawResponse>((resolve, reject) => {
    let received = Buffer.alloc(0);
    const timers: NodeJS.Timeout[] = [];
    const finish = (error: Error | undefined, response?: RawResponse): void => {
      for (const timer of timers) clearTimeout(timer);
      socket.destroy();
      if (response) resolve(response);
      else reject(error ?? new Error('no response'));
    };
    timers.push(
      setTimeout(
        () =>
          finish(
            new Error(
              `no complete response within ${options.timeoutMs ?? 10_000} ms; got ${JSON.stringify(received.toString('latin1').slice(0, 200))}`,
            ),
          ),
        options.timeoutMs ?? 10_000,
      ),
    );
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const response = parseResponse(received, false);
      if (response) finish(undefined, response);
    });
    socket.on('close', () => {
      const response = parseResponse(received, true);
      finish(
        response
          ? undefined
          : new Error(
              `connection closed without a complete response: ${JSON.stringify(received.toString('latin1').slice(0, 200))}`,
            ),
        response,
      );
    });
    socket.on('error', () => {
      // 'close' follows and decides.
    });
    writePieces(socket, pieces, options.pauseMs ?? 0, timers);
  });
}

function writePieces(
  socket: Socket,
  pieces: (string | Buffer)[],
  pauseMs: number,
  timers: NodeJS.Timeout[],
): void {
  pieces.forEach((piece, index) => {
    if (index === 0 || pauseMs === 0) socket.write(piece);
    else
      timers.push(
        setTimeout(() => {
          if (!socket.destroyed) socket.write(piece);
        }, index * pauseMs),
      );
  });
}

/** A complete response (content-length, chunked, or ended by close), else undefined. */
function parseResponse(data: Buffer, closed: boolean): RawResponse | undefined {
  const headEnd = data.indexOf('\r\n\r\n');
  if (headEnd === -1) return undefined;
  const [statusLine = '', ...headerLines] = data
    .subarray(0, headEnd)
    .toString('latin1')
    .split('\r\n');
  const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
  if (!status) return undefined;
  const headers: Record<string, string> = {};
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0)
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = data.subarray(headEnd + 4);
  let body: Buffer | undefined;
  if (headers['content-length'] !== undefined) {
    const length = Number(headers['content-length']);
    if (rest.length >= length) body = rest.subarray(0, length);
  } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    body = dechunk(rest);
  } else if (closed) {
    body = rest;
  }
  if (body === undefined) return undefined;
  const text = body.toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: Number(status), headers, text, json };
}

/** The body of a complete chunked message, or undefined while the last chunk is missing. */
function dechunk(data: Buffer): Buffer | undefined {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = data.indexOf('\r\n', offset);
    if (lineEnd === -1) return undefined;
    const size = parseInt(data.subarray(offset, lineEnd).toString('latin1'), 16);
    if (Number.isNaN(size)) return undefined;
    if (size === 0) return Buffer.concat(parts);
    const start = lineEnd + 2;
    if (data.length < start + size + 2) return undefined;
    parts.push(data.subarray(start, start + size));
    offset = start + size + 2;
  }
}
