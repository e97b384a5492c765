// Our watch over node:http against a real HTTP server that answers the way
// the API server does: JSON lines (cut anywhere by the network), an error
// Status for a stale resourceVersion, the end of the stream.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeApiError } from './types.js';
import { openWatchStream } from './watch-stream.js';

async function serve(answer: (res: ServerResponse, url: URL) => void) {
  const server = createServer((req, res) => answer(res, new URL(req.url ?? '/', 'http://x')));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: new URL(`http://127.0.0.1:${port}/api/v1/pods?watch=true`),
    close: async () => {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

function watch(url: URL) {
  const events: Array<{ type: string; object: unknown }> = [];
  let onDone: (err?: KubeApiError) => void = () => {};
  const done = new Promise<KubeApiError | undefined>((resolve) => (onDone = resolve));
  const stream = openWatchStream({
    url,
    path: '/api/v1/pods',
    options: { headers: { Authorization: 'Bearer t' } },
    answerTimeoutMs: 10_000,
    onEvent: (type, object) => events.push({ type, object }),
    onDone: (err) => onDone(err),
  });
  return { events, done, stream };
}

const line = (type: string, name: string) =>
  `${JSON.stringify({ type, object: { metadata: { name } } })}\n`;

test('events cut across writes arrive whole and in order; a line that is not JSON is skipped; the end is not an error', async () => {
  const name = 'modèle-é';
  const text = [
    line('ADDED', name),
    'not json\n',
    '\n',
    line('MODIFIED', name),
    line('DELETED', name),
  ].join('');
  const server = await serve((res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    // Seven-byte pieces: every line is split, some in the middle of a two-byte character.
    const bytes = Buffer.from(text);
    const pieces: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) pieces.push(bytes.subarray(i, i + 7));
    const next = (): void => {
      const piece = pieces.shift();
      if (piece === undefined) res.end();
      else res.write(piece, () => setImmediate(next));
    };
    next();
  });
  try {
    const w = watch(server.url);
    expect(await w.done).toBeUndefined();
    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    expect(w.events.map((e) => e.object)).toEqual(Array(3).fill({ metadata: { name } }));
  } finally {
    await server.close();
  }
});

test('a 410 answer ends the watch with status 410 and reason Expired (relist), with the server message', async () => {
  const server = await serve((res) => {
    res.writeHead(410, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ kind: 'Status', code: 410, message: 'too old resource version: 1 (5)' }),
    );
  });
  try {
    const err = await watch(server.url).done;
    expect(err).toBeInstanceOf(KubeApiError);
    expect([err?.status, err?.reason, err?.message]).toEqual([
      410,
      'Expired',
      'watch /api/v1/pods: too old resource version: 1 (5)',
    ]);
  } finally {
    await server.close();
  }
});

test('the query reaches the server, and after stop() nothing more is reported', async () => {
  const seen: URL[] = [];
  const server = await serve((res, url) => {
    seen.push(url);
    res.writeHead(200);
    res.write(line('ADDED', 'first'));
  });
  try {
    const w = watch(server.url);
    const first = new Promise<void>((resolve) => {
      const poll = setInterval(() => w.events.length > 0 && (clearInterval(poll), resolve()), 5);
    });
    await first;
    let reported = false;
    void w.done.then(() => (reported = true));
    w.stream.stop();
    await new Promise((r) => setTimeout(r, 100));
    expect(reported).toBe(false);
    expect(seen[0]?.searchParams.get('watch')).toBe('true');
  } finally {
    await server.close();
  }
});

test('onAnswer is told the answer status once, or undefined when no answer came', async () => {
  const statuses: (number | undefined)[] = [];
  const open = (url: URL) =>
    new Promise<void>((resolve) =>
      openWatchStream({
        url,
        path: '/api/v1/pods',
        options: {},
        answerTimeoutMs: 10_000,
        onEvent: () => {},
        onDone: () => resolve(),
        onAnswer: (status) => statuses.push(status),
      }),
    );
  const ok = await serve((res) => res.end(line('ADDED', 'a')));
  const gone = await serve((res) => {
    res.writeHead(410, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ kind: 'Status', code: 410, reason: 'Expired' }));
  });
  await open(ok.url);
  await open(gone.url);
  await ok.close();
  await open(ok.url); // nothing listens there now
  await gone.close();
  expect(statuses).toEqual([200, 410, undefined]);
});
