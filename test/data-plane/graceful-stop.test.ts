// A proxy asked to stop (SIGTERM when a gateway rolls or an app pod goes away)
// refuses new connections at once, so the Service sends them elsewhere, and
// lets the requests it has already taken finish: a rolling upgrade loses none.
import { request } from 'node:http';
import { eventually } from '../support/eventually.js';
import { route, startDataPlane, type DataPlane } from '../support/data-plane.js';

let dp: DataPlane | undefined;

afterEach(async () => {
  await dp?.close().catch(() => {});
  dp = undefined;
});

/** Opens a fresh connection to the URL and reports how it ended. */
function connectOutcome(url: string): Promise<string> {
  return new Promise((resolve) => {
    const req = request(`${url}/healthz`, { agent: false }, (res) => {
      res.resume();
      resolve(`status ${String(res.statusCode)}`);
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

async function slowPlane(drainMs: number): Promise<DataPlane> {
  return startDataPlane(
    // The answer takes long enough that the stop surely lands while it is in flight.
    [{ name: 'slow', simulator: { latencyMs: 1_500, outputTokens: 4 } }],
    [route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'slow' }] }] })],
    { drainMs },
  );
}

test('a stopping proxy finishes the request in flight and refuses new connections', async () => {
  const plane = await slowPlane(20_000);
  dp = plane;
  const inFlight = plane.client.chat.completions.create({
    model: 'chat',
    messages: [{ role: 'user', content: 'hi' }],
  });
  await eventually(() => expect(plane.sims.slow!.requests).toHaveLength(1));

  const closed = plane.proxy.close();
  expect(await connectOutcome(plane.proxy.dataUrl)).toBe('ECONNREFUSED');

  const answer = await inFlight;
  expect(answer.choices[0]?.message.content).toBeTruthy();
  await closed;
});

test('without a drain time the proxy cuts requests in flight at once, as before', async () => {
  const plane = await slowPlane(0);
  dp = plane;
  const outcome = plane.client.chat.completions
    .create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] })
    .then(
      () => 'answered',
      (err: unknown) => String(err),
    );
  await eventually(() => expect(plane.sims.slow!.requests).toHaveLength(1));
  await plane.proxy.close();
  expect(await outcome).toMatch(/Connection error/);
});
