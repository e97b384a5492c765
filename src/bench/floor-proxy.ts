// The floor: a minimal pass-through proxy (node:http + undici Pool, body parsed once) run as its own process.
// Usage: node floor-proxy.js <upstream origin> <upstream model> [api key]
// Prints {"url":"http://127.0.0.1:<port>"} on one line once listening; SIGTERM ends it.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';

const [upstream, model, apiKey] = process.argv.slice(2);
if (!upstream || !model) {
  process.stderr.write('usage: floor-proxy <upstream origin> <upstream model> [api key]\n');
  process.exit(2);
}

// Same pool settings as the proxy's UpstreamPools, so the comparison is about the code in between.
const pool = new Pool(upstream, {
  connections: 256,
  pipelining: 1,
  keepAliveTimeout: 30_000,
  headersTimeout: 0,
  bodyTimeout: 0,
});

function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = JSON.stringify({ error: { message, type: 'floor_error' } });
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
    } catch {
      fail(res, 400, 'body is not JSON');
      return;
    }
    body.model = model;
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (apiKey) headers.authorization = `Bearer ${apiKey}`;
    pool
      .request({
        path: req.url ?? '/',
        method: 'POST',
        headers,
        body: JSON.stringify(body),
      })
      .then(({ statusCode, headers: upHeaders, body: upBody }) => {
        const out: Record<string, string> = {};
        const type = upHeaders['content-type'];
        const length = upHeaders['content-length'];
        if (typeof type === 'string') out['content-type'] = type;
        if (typeof length === 'string') out['content-length'] = length;
        res.writeHead(statusCode, out);
        upBody.on('error', () => res.destroy());
        upBody.pipe(res);
      })
      .catch((err: unknown) => fail(res, 502, (err as Error).message));
  });
});

server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}` })}\n`);
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
