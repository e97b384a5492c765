// What clients do wrong is never the backend's fault: HTTP/1.0 clients (nginx
// talks HTTP/1.0 upstream by default), clients that stop reading a long
// stream, clients that ask to close the connection and clients that send far
// too much. Each gets a correct answer or is cut off alone, and the backend's
// circuit stays closed, as the admin API shows.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { seededRandom } from '../../src/routing/random.js';
import type { BackendStats } from '../../src/proxy/backend-live-state.js';
import { eventually } from '../support/eventually.js';
import { ADMIN_TOKEN, route, startDataPlane, type DataPlane } from '../support/data-plane.js';
import { rawExchange } from '../support/raw-http.js';

/** More clients than the circuit breaker's failure threshold (5). */
const CLIENTS = 6;

let dp: DataPlane;
let endless: Server;
const bigCompletion = {
  id: 'c',
  object: 'chat.completion',
  created: 1,
  model: 'm',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'word '.repeat(4_000_000) },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 1, completion_tokens: 4_000_000, total_tokens: 4_000_001 },
};
/** Bytes the endless upstream got written into the proxy, per request. */
const upstreamBytes: number[] = [];

/**
 * An upstream that streams chat chunks for as long as anyone reads, cheaply
 * and with backpressure: a client that stops reading stops it too.
 */
async function startEndlessUpstream(): Promise<string> {
  const chunk = `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'word '.repeat(40) }, finish_reason: null }] })}\n\n`;
  const answer = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let body = '';
    for await (const piece of req) body += String(piece);
    if (!body.includes('"stream":true')) {
      // Not streamed: one very large answer.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(bigCompletion));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const index = upstreamBytes.push(0) - 1;
    const pump = (): void => {
      do upstreamBytes[index]! += chunk.length;
      while (!res.destroyed && res.write(chunk));
    };
    res.on('drain', pump);
    pump();
  };
  endless = createServer((req, res) => void answer(req, res));
  await new Promise<void>((resolve) => endless.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(endless.address() as AddressInfo).port}/v1`;
}

beforeAll(async () => {
  const endlessUrl = await startEndlessUpstream();
  dp = await startDataPlane(
    [
      { name: 'long', spec: { endpoint: endlessUrl } },
      { name: 'short', simulator: { outputTokens: 12, recordRequests: false } },
    ],
    [
      route('long', {
        rules: [{ name: 'r', backendRefs: [{ name: 'long' }] }],
        // A backend that sent nothing for 1 s would count as timed out; the
        // clients below stop reading for longer than that.
        timeouts: { firstToken: '1s' },
        retries: { attempts: 0 },
      }),
      route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'short' }] }] }),
    ],
    { clientStallTimeoutMs: 2_000, maxBodyBytes: 64 * 1024 },
  );
});

afterAll(async () => {
  await dp.close();
  endless.closeAllConnections();
  await new Promise((resolve) => endless.close(resolve));
});

async function backendStats(name: string): Promise<BackendStats> {
  const res = await fetch(`${dp.proxy.adminUrl}/admin/v1/stats`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  const body = (await res.json()) as { backends: BackendStats[] };
  const stats = body.backends.find((b) => b.backendId === `default/${name}`);
  if (!stats) throw new Error(`no stats for ${name}`);
  return stats;
}

function chatRequest(version: '1.0' | '1.1', model: string, extraHeaders = ''): string {
  const body = JSON.stringify({
    model,
    stream: true,
    stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'hi' }],
  });
  return `POST /v1/chat/completions HTTP/${version}\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`;
}

test('HTTP/1.0 streaming clients get a complete stream, without a trailer, cost in a comment', async () => {
  for (let i = 0; i < CLIENTS; i++) {
    const res = await rawExchange(dp.proxy.dataUrl, [chatRequest('1.0', 'chat')]);
    expect(res.status).toBe(200);
    expect(res.headers.trailer).toBeUndefined();
    expect(res.headers['transfer-encoding']).toBeUndefined();
    expect(res.headers.connection).toBe('close');
    expect(res.text).toMatch(/"content":/);
    expect(res.text).toMatch(/data: \[DONE\]\n\n$/);
    expect(res.text).toMatch(/^: x-modelroute-cost-usd=\d+\.\d{8}$/m);
  }
  const stats = await backendStats('short');
  expect(stats).toMatchObject({ circuit: 'closed', successes: CLIENTS });
  expect(Object.values(stats.failures).reduce((a, b) => a + b, 0)).toBe(0);
});

test('HTTP/1.1 streams keep the cost trailer', async () => {
  const res = await rawExchange(dp.proxy.dataUrl, [chatRequest('1.1', 'chat')]);
  expect(res.status).toBe(200);
  expect(res.headers.trailer).toBe('x-modelroute-cost-usd');
  expect(res.text).toMatch(/data: \[DONE\]/);
});

test('"Connection: close" on a streamed request is honoured', async () => {
  const res = await rawExchange(dp.proxy.dataUrl, [
    chatRequest('1.1', 'chat', 'connection: close\r\n'),
  ]);
  expect(res.status).toBe(200);
  expect(res.headers.connection).toBe('close');
  expect(res.text).toMatch(/data: \[DONE\]/);
});

test('clients that stop reading a long stream are cut off alone; the backend stays healthy', async () => {
  const before = await backendStats('long');
  const sockets = Array.from({ length: CLIENTS }, () => {
    const { hostname, port } = new URL(dp.proxy.dataUrl);
    const socket = connect(Number(port), hostname);
    socket.on('error', () => {});
    socket.write(chatRequest('1.1', 'long'));
    // Read nothing: the response backs up into the proxy.
    socket.pause();
    return socket;
  });
  try {
    await eventually(async () => {
      const stats = await backendStats('long');
      expect(stats.requests - before.requests).toBe(CLIENTS);
      expect(stats.inFlight).toBe(0);
    }, 20_000);
    const stats = await backendStats('long');
    expect(stats.circuit).toBe('closed');
    // What a stalled client can hold is bounded by socket buffers, not the
    // stream's length: the upstream was paused once the client stopped
    // (7-10 MB per client on loopback, nearly all of it in kernel buffers).
    expect(upstreamBytes).toHaveLength(CLIENTS);
    for (const bytes of upstreamBytes) expect(bytes).toBeLessThan(32 * 1024 * 1024);
    expect(stats.failures).toMatchObject({
      timeout: before.failures.timeout,
      'stream-broken': before.failures['stream-broken'],
      'server-error': before.failures['server-error'],
      'client-error': before.failures['client-error'] + CLIENTS,
    });
    // And it still serves.
    const ok = await rawExchange(dp.proxy.dataUrl, [chatRequest('1.1', 'chat')]);
    expect(ok.status).toBe(200);
  } finally {
    for (const socket of sockets) socket.destroy();
  }
}, 30_000);

test('fuzz: random client misbehaviour never counts against a backend', async () => {
  const rng = seededRandom(31);
  const before = { long: await backendStats('long'), short: await backendStats('short') };
  const { hostname, port } = new URL(dp.proxy.dataUrl);
  const sockets: Socket[] = [];
  const done: Promise<void>[] = [];
  const actions = ['read-all', 'disconnect', 'stall', 'half-body'] as const;
  /** Requests sent whole: each makes exactly one upstream attempt. */
  let whole = 0;
  for (let i = 0; i < 24; i++) {
    const action = actions[Math.floor(rng() * actions.length)]!;
    // The endless stream has no end to read to.
    const model = action === 'read-all' || rng() < 0.5 ? 'chat' : 'long';
    const version = rng() < 0.5 ? '1.0' : '1.1';
    const extra = rng() < 0.3 ? 'connection: close\r\n' : '';
    const request = chatRequest(version, model, extra);
    const socket = connect(Number(port), hostname);
    sockets.push(socket);
    socket.on('error', () => {});
    done.push(new Promise((resolve) => socket.on('close', () => resolve())));
    if (action === 'half-body') {
      socket.write(request.slice(0, request.length - 10), () => socket.destroy());
      continue;
    }
    socket.write(request);
    whole++;
    if (action === 'stall') socket.pause();
    if (action === 'disconnect') {
      const after = Math.floor(rng() * 4_000);
      let seen = 0;
      socket.on('data', (d: Buffer) => {
        seen += d.length;
        if (seen >= after) socket.destroy();
      });
    }
    if (action === 'read-all') socket.resume();
  }
  try {
    await eventually(async () => {
      let attempts = 0;
      for (const name of ['long', 'short'] as const) {
        const stats = await backendStats(name);
        expect(stats.inFlight).toBe(0);
        attempts += stats.requests - before[name].requests;
      }
      expect(attempts).toBe(whole);
    }, 20_000);
    for (const name of ['long', 'short'] as const) {
      const stats = await backendStats(name);
      const blamed = Object.entries(stats.failures)
        .filter(([kind]) => kind !== 'client-error')
        .reduce(
          (sum, [kind, n]) =>
            sum + n - before[name].failures[kind as keyof BackendStats['failures']],
          0,
        );
      expect({ name, blamed, circuit: stats.circuit }).toEqual({
        name,
        blamed: 0,
        circuit: 'closed',
      });
    }
  } finally {
    for (const socket of sockets) socket.destroy();
    await Promise.all(done);
  }
}, 30_000);

test('a client that does not read a large buffered answer is cut off, not kept with it', async () => {
  const { hostname, port } = new URL(dp.proxy.dataUrl);
  const socket = connect(Number(port), hostname);
  socket.on('error', () => {});
  const body = JSON.stringify({ model: 'long', messages: [{ role: 'user', content: 'hi' }] });
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
  socket.pause();
  // Not reading for three times the stall limit (2 s): time enough for the
  // proxy to have the 20 MB answer and to give up on this client, even on a
  // busy machine. Then read what is left: the answer's end never comes.
  await new Promise((resolve) => setTimeout(resolve, 6_000));
  let received = 0;
  socket.on('data', (d: Buffer) => (received += d.length));
  socket.resume();
  await new Promise((resolve) => socket.on('close', resolve));
  expect(received).toBeGreaterThan(0);
  expect(received).toBeLessThan(JSON.stringify(bigCompletion).length);
}, 30_000);

test('a body over the limit gets 413 and the connection is closed, not read to its end', async () => {
  const { hostname, port } = new URL(dp.proxy.dataUrl);
  const socket = connect(Number(port), hostname);
  const declared = 200 * 1024 * 1024;
  let received = '';
  let written = 0;
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => {});
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: ${declared}\r\n\r\n`,
  );
  // Keep sending as a client uploading 200 MB would, until the proxy hangs up.
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  let open = true;
  void closed.then(() => (open = false));
  while (open && written < declared) {
    if (!socket.write(chunk))
      await Promise.race([closed, new Promise((r) => socket.once('drain', r))]);
    written += chunk.length;
  }
  await closed;
  expect(received).toMatch(/^HTTP\/1\.1 413/);
  expect(received.toLowerCase()).toContain('connection: close');
  // Counted, not timed: the proxy hung up long before the body's end.
  expect(written).toBeLessThan(declared / 4);
});
