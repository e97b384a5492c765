// A backend's extra upstream headers (spec.headers) reach the provider on
// client calls, streamed or not, and on shadow calls, beside (never instead
// of) the adapter's own headers.
import { shadowSender } from '../../src/proxy/learning/shadow-send.js';
import { createCredentialResolver } from '../../src/proxy/credentials.js';
import { route, startDataPlane, type DataPlane } from '../support/data-plane.js';

let dp: DataPlane | undefined;
afterEach(async () => {
  await dp?.close();
  dp = undefined;
});

const chat = { model: 'chat', messages: [{ role: 'user' as const, content: 'Say hello.' }] };
const headers = { 'OpenAI-Project': 'proj_123', 'X-Team': 'search' };

test('extra headers on client calls, buffered and streamed, and on shadow calls', async () => {
  dp = await startDataPlane(
    [
      {
        name: 'up',
        spec: { headers, secretRef: { name: 'openai', key: 'apiKey' } },
        simulator: { requireApiKey: 'sk-test' },
      },
    ],
    [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'up' }] }] })],
    {
      credentials: createCredentialResolver({
        env: { MODELROUTE_SECRET_OPENAI_APIKEY: 'sk-test' },
      }),
    },
  );
  await dp.client.chat.completions.create(chat);
  const stream = await dp.client.chat.completions.create({ ...chat, stream: true });
  for await (const chunk of stream) void chunk;

  const runtime = dp.proxy.runtime;
  const backend = runtime.store.prepared?.table.backends.find((b) => b.id === 'default/up');
  expect(backend?.headers).toEqual(headers);
  await shadowSender(runtime)(
    backend!,
    { ...chat, model: 'up-upstream' },
    AbortSignal.timeout(10_000),
  );

  const sent = dp.sims.up!.requests;
  expect(sent).toHaveLength(3);
  for (const request of sent) {
    expect(request.headers['openai-project']).toBe('proj_123');
    expect(request.headers['x-team']).toBe('search');
    // The adapter's own headers are untouched.
    expect(request.headers.authorization).toBe('Bearer sk-test');
    expect(request.headers['content-type']).toBe('application/json');
  }
});
