// Simulator behaviour knobs: API keys, error rate, status sequence, stalls, cuts, pacing, recording, close().
import {
  chatBody,
  json,
  parseSse,
  post,
  type AnthropicError,
  type ChatChunk,
  type ChatCompletion,
  type OpenAIError,
} from './__fixtures__/http.js';
import { startSimulatedBackend, type SimulatedBackend, type SimulatorOptions } from './index.js';

const started: SimulatedBackend[] = [];
async function start(options: SimulatorOptions = {}): Promise<SimulatedBackend> {
  const sim = await startSimulatedBackend(options);
  started.push(sim);
  return sim;
}
afterEach(async () => {
  await Promise.all(started.splice(0).map((s) => s.close()));
});

const chat = (sim: SimulatedBackend, extra: Record<string, unknown> = {}, headers = {}) =>
  post(`${sim.url}/v1/chat/completions`, chatBody(extra), headers);

/** Reads a body to its end or its first error, keeping what arrived. */
async function readAll(res: Response): Promise<{ text: string; error: unknown }> {
  const reader = (res.body as ReadableStream<Uint8Array>).getReader();
  const decoder = new TextDecoder();
  let text = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return { text, error: undefined };
      text += decoder.decode(value, { stream: true });
    }
  } catch (error) {
    return { text, error };
  }
}

describe('requireApiKey', () => {
  test('OpenAI paths need Authorization: Bearer <key>, else a 401 in the OpenAI shape', async () => {
    const sim = await start({ requireApiKey: 'sk-sim' });
    const none = await chat(sim);
    expect(none.status).toBe(401);
    expect((await json<OpenAIError>(none)).error).toMatchObject({ code: 'invalid_api_key' });
    const wrongScheme = await chat(sim, {}, { 'x-api-key': 'sk-sim' });
    expect(wrongScheme.status).toBe(401);
    await wrongScheme.text();
    const ok = await chat(sim, {}, { authorization: 'Bearer sk-sim' });
    expect(ok.status).toBe(200);
    await ok.text();
    const models = await fetch(`${sim.url}/v1/models`);
    expect(models.status).toBe(401);
    await models.text();
  });

  test('Anthropic needs x-api-key, else a 401 authentication_error', async () => {
    const sim = await start({ requireApiKey: 'sk-ant' });
    const body = { model: 'c', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] };
    const headers = { 'anthropic-version': '2023-06-01' };
    const bearer = await post(`${sim.url}/v1/messages`, body, {
      ...headers,
      authorization: 'Bearer sk-ant',
    });
    expect(bearer.status).toBe(401);
    expect(await json<AnthropicError>(bearer)).toEqual({
      type: 'error',
      error: { type: 'authentication_error', message: expect.any(String) },
    });
    const ok = await post(`${sim.url}/v1/messages`, body, { ...headers, 'x-api-key': 'sk-ant' });
    expect(ok.status).toBe(200);
    await ok.text();
  });
});

describe('fault injection', () => {
  async function statuses(sim: SimulatedBackend, n: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const res = await chat(sim);
      await res.text();
      out.push(res.status);
    }
    return out;
  }

  test('errorRate 0.5 fails some requests and not others, the same way for the same seed', async () => {
    const a = await statuses(await start({ errorRate: 0.5, errorStatus: 502, seed: 7 }), 30);
    expect(a.filter((s) => s === 502).length).toBeGreaterThan(3);
    expect(a.filter((s) => s === 200).length).toBeGreaterThan(3);
    expect(a.every((s) => s === 200 || s === 502)).toBe(true);
    const b = await statuses(await start({ errorRate: 0.5, errorStatus: 502, seed: 7 }), 30);
    expect(b).toEqual(a);
  });

  test('statusSequence answers the first requests with its statuses, with Retry-After on 429 and 503', async () => {
    const sim = await start({ statusSequence: [429, 503, 500, 200], retryAfterSeconds: 3 });
    const got: Array<[number, string | null]> = [];
    for (let i = 0; i < 5; i++) {
      const res = await chat(sim);
      got.push([res.status, res.headers.get('retry-after')]);
      const body = await json<OpenAIError>(res);
      if (res.status !== 200) expect(body.error).toMatchObject({ message: expect.any(String) });
    }
    expect(got).toEqual([
      [429, '3'],
      [503, '3'],
      [500, null],
      [200, null],
      [200, null],
    ]);
  });

  test('injected errors use the Anthropic shape on /v1/messages', async () => {
    const sim = await start({ statusSequence: [429] });
    const res = await post(
      `${sim.url}/v1/messages`,
      { model: 'c', max_tokens: 5, messages: [] },
      { 'anthropic-version': '2023-06-01' },
    );
    expect(res.status).toBe(429);
    expect((await json<AnthropicError>(res)).error.type).toBe('rate_limit_error');
  });

  test('setBehavior with a new statusSequence starts it over; undefined restores a default', async () => {
    const sim = await start({ statusSequence: [500] });
    expect(await statuses(sim, 2)).toEqual([500, 200]);
    sim.setBehavior({ statusSequence: [503, 503] });
    expect(await statuses(sim, 3)).toEqual([503, 503, 200]);
    sim.setBehavior({ outputTokens: 1 });
    expect((await json<ChatCompletion>(await chat(sim))).usage.completion_tokens).toBe(1);
    sim.setBehavior({ outputTokens: undefined });
    expect((await json<ChatCompletion>(await chat(sim))).usage.completion_tokens).toBe(16);
  });

  test('invalid options and patches are rejected by the schema', async () => {
    await expect(startSimulatedBackend({ errorRate: 2 })).rejects.toThrow();
    const sim = await start();
    expect(() => sim.setBehavior({ statusSequence: [302] })).toThrow();
    expect(() => sim.setBehavior({ latencyMs: -1 })).toThrow();
  });
});

describe('stalls', () => {
  test('a stalled request is answered normally after stallMs, later than an unstalled one', async () => {
    const sim = await start({ stallMs: 300 });
    const begun = Date.now();
    const order: string[] = [];
    const stalled = chat(sim).then(async (res) => {
      order.push('stalled');
      return { status: res.status, body: await json<ChatCompletion>(res), ms: Date.now() - begun };
    });
    // Wait until the stalled request has arrived, then let new ones through at once.
    while (sim.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    sim.setBehavior({ stallMs: 0 });
    const quick = await chat(sim);
    order.push('quick');
    await quick.text();
    const result = await stalled;
    expect(order).toEqual(['quick', 'stalled']);
    expect(result.status).toBe(200);
    expect(result.body.object).toBe('chat.completion');
    expect(result.ms).toBeGreaterThanOrEqual(250);
  });

  test('stallMs Infinity never answers; the client can abort and close() does not hang', async () => {
    const sim = await start({ stallMs: Infinity });
    const controller = new AbortController();
    const aborted = chat(sim, {}, {}).catch((e: unknown) => e);
    const withSignal = post(`${sim.url}/v1/chat/completions`, chatBody(), {}, controller.signal);
    setTimeout(() => controller.abort(), 100);
    await expect(withSignal).rejects.toThrow();
    expect(sim.requests).toHaveLength(2);
    await sim.close();
    // The request still held open fails once close() destroyed its socket.
    // (fetch's TypeError comes from another realm under jest, so no toBeInstanceOf.)
    expect(await aborted).toMatchObject({ message: 'fetch failed' });
  });
});

describe('cutAfterTokens', () => {
  test('a stream is cut abruptly after N content chunks: no finish chunk, no [DONE]', async () => {
    const sim = await start({ cutAfterTokens: 2 });
    const res = await chat(sim, { stream: true });
    expect(res.status).toBe(200);
    const { text, error } = await readAll(res);
    expect(error).toBeDefined();
    expect(text).not.toContain('[DONE]');
    expect(text).not.toContain('"finish_reason":"stop"');
    const chunks = parseSse(text).map((e) => JSON.parse(e.data) as ChatChunk);
    expect(chunks).toHaveLength(1 + 2);
  });

  test('a paced stream is cut the same way', async () => {
    const sim = await start({ cutAfterTokens: 3, tokensPerSecond: 200, outputTokens: 10 });
    const { text, error } = await readAll(await chat(sim, { stream: true }));
    expect(error).toBeDefined();
    expect(parseSse(text)).toHaveLength(1 + 3);
  });

  test('buffered answers ignore it', async () => {
    const sim = await start({ cutAfterTokens: 1 });
    const res = await chat(sim);
    expect((await json<ChatCompletion>(res)).usage.completion_tokens).toBe(16);
  });

  test('the server keeps serving after a cut', async () => {
    const sim = await start({ cutAfterTokens: 0 });
    await readAll(await chat(sim, { stream: true }));
    sim.setBehavior({ cutAfterTokens: undefined });
    const { text, error } = await readAll(await chat(sim, { stream: true }));
    expect(error).toBeUndefined();
    expect(text).toContain('data: [DONE]');
  });
});

describe('pacing', () => {
  test('latencyMs delays a buffered answer', async () => {
    const sim = await start({ latencyMs: 150 });
    const begun = Date.now();
    await (await chat(sim)).text();
    expect(Date.now() - begun).toBeGreaterThanOrEqual(120);
  });

  test('ttftMs and tokensPerSecond pace a stream; headers arrive before the first token', async () => {
    const sim = await start({ ttftMs: 150, tokensPerSecond: 20, outputTokens: 4 });
    const begun = Date.now();
    const res = await chat(sim, { stream: true });
    const headersAt = Date.now() - begun;
    const { text, error } = await readAll(res);
    const doneAt = Date.now() - begun;
    expect(error).toBeUndefined();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    // ttft 150 + 3 gaps of 50ms, with generous slack.
    expect(doneAt).toBeGreaterThanOrEqual(250);
    expect(headersAt).toBeLessThan(doneAt);
  });

  test('a client leaving a paced stream early does not disturb the server', async () => {
    const sim = await start({ tokensPerSecond: 50, outputTokens: 50 });
    const controller = new AbortController();
    const res = await post(
      `${sim.url}/v1/chat/completions`,
      chatBody({ stream: true }),
      {},
      controller.signal,
    );
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    await reader.read();
    controller.abort();
    await reader.read().catch(() => undefined);
    sim.setBehavior({ tokensPerSecond: 0 });
    expect((await chat(sim)).status).toBe(200);
  });
});

describe('recording and lifecycle', () => {
  test('every request is recorded with method, path, headers and parsed body', async () => {
    const sim = await start();
    expect(sim.url).toBe(`http://127.0.0.1:${sim.port}`);
    await (
      await chat(sim, { stream: false }, { authorization: 'Bearer k', 'x-trace': 't1' })
    ).text();
    await (await post(`${sim.url}/v1/chat/completions`, 'not json')).text();
    await (await fetch(`${sim.url}/v1/models`)).text();
    expect(sim.requests).toHaveLength(3);
    expect(sim.requests[0]).toMatchObject({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: 'Bearer k', 'x-trace': 't1' },
      body: chatBody({ stream: false }),
    });
    expect(sim.requests[1]?.body).toBe('not json');
    expect(sim.requests[2]).toMatchObject({ method: 'GET', path: '/v1/models', body: undefined });
  });

  test('onRequest sees every request with its arrival time, even when nothing is kept', async () => {
    const sim = await start({ recordRequests: false });
    const seen: { path: string; body: unknown; atMs: number }[] = [];
    sim.onRequest((r, atMs) => seen.push({ path: r.path, body: r.body, atMs }));
    const before = Date.now();
    await (await chat(sim, { stream: false })).text();
    await (await fetch(`${sim.url}/v1/models`)).text();
    const after = Date.now();
    expect(seen.map((s) => s.path)).toEqual(['/v1/chat/completions', '/v1/models']);
    expect(seen[0]?.body).toEqual(chatBody({ stream: false }));
    for (const s of seen) {
      expect(s.atMs).toBeGreaterThanOrEqual(before);
      expect(s.atMs).toBeLessThanOrEqual(after);
    }
    expect(seen[1]!.atMs).toBeGreaterThanOrEqual(seen[0]!.atMs);
    expect(sim.requests).toHaveLength(0);
  });

  test('recordRequests false keeps nothing', async () => {
    const sim = await start({ recordRequests: false });
    await (await chat(sim)).text();
    expect(sim.requests).toHaveLength(0);
  });

  test('close() ends idle keep-alive connections and can be called twice', async () => {
    const sim = await start();
    await (await chat(sim)).text();
    await sim.close();
    await sim.close();
    await expect(fetch(`${sim.url}/v1/models`)).rejects.toThrow();
  });
});
