// OpenAI dialect of the simulator: chat, completions, embeddings, models, request errors.
import {
  chatBody,
  json,
  parseSse,
  post,
  type ChatChunk,
  type ChatCompletion,
  type EmbeddingList,
  type ModelList,
  type OpenAIError,
  type TextCompletion,
} from './__fixtures__/http.js';
import { startSimulatedBackend, type SimulatedBackend } from './index.js';

let sim: SimulatedBackend;

beforeAll(async () => {
  sim = await startSimulatedBackend({ outputTokens: 5, models: ['sim-a', 'sim-b'] });
});
afterAll(() => sim.close());

describe('OpenAI chat completions', () => {
  test('a buffered answer has the chat.completion shape, echoes the model and counts usage', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, chatBody());
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = await json<ChatCompletion>(res);
    expect(body).toMatchObject({
      object: 'chat.completion',
      model: 'gpt-test',
      choices: [{ index: 0, message: { role: 'assistant' }, finish_reason: 'stop' }],
      // "be brief" + "hello there" = 19 characters -> ceil(19 / 4)
      usage: { prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 },
    });
    expect(body.id).toMatch(/^chatcmpl-/);
    expect(body.choices[0]?.message.content.split(' ')).toHaveLength(5);
  });

  test('the generated text is the same for every request of a seed', async () => {
    const a = await json<ChatCompletion>(await post(`${sim.url}/v1/chat/completions`, chatBody()));
    const b = await json<ChatCompletion>(await post(`${sim.url}/v1/chat/completions`, chatBody()));
    expect(a.choices[0]?.message.content).toBe(b.choices[0]?.message.content);
  });

  test('text parts of array content count toward prompt tokens', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, {
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'text', text: '12345678' }] }],
    });
    expect((await json<ChatCompletion>(res)).usage.prompt_tokens).toBe(2);
  });

  test('a stream sends the role first, one word per chunk, the finish chunk, then [DONE]', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, chatBody({ stream: true }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(await res.text());
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as ChatChunk);
    for (const c of chunks) {
      expect(c).toMatchObject({ object: 'chat.completion.chunk', model: 'gpt-test' });
      expect(c).not.toHaveProperty('usage');
    }
    expect(chunks[0]?.choices[0]?.delta.role).toBe('assistant');
    const content = chunks.slice(1, -1).map((c) => c.choices[0]?.delta.content);
    expect(content).toHaveLength(5);
    const buffered = await json<ChatCompletion>(
      await post(`${sim.url}/v1/chat/completions`, chatBody()),
    );
    expect(content.join('')).toBe(buffered.choices[0]?.message.content);
    expect(chunks.at(-1)?.choices[0]).toEqual({
      index: 0,
      delta: {},
      logprobs: null,
      finish_reason: 'stop',
    });
  });

  test('stream_options.include_usage adds a usage chunk with no choices just before [DONE]', async () => {
    const res = await post(
      `${sim.url}/v1/chat/completions`,
      chatBody({ stream: true, stream_options: { include_usage: true } }),
    );
    const events = parseSse(await res.text());
    expect(events.at(-1)?.data).toBe('[DONE]');
    const usageChunk = JSON.parse(events.at(-2)?.data ?? '{}') as ChatChunk;
    expect(usageChunk.choices).toEqual([]);
    expect(usageChunk.usage).toEqual({ prompt_tokens: 5, completion_tokens: 5, total_tokens: 10 });
    const finish = JSON.parse(events.at(-3)?.data ?? '{}') as ChatChunk;
    expect(finish.choices[0]?.finish_reason).toBe('stop');
  });

  test('max_tokens below outputTokens produces max_tokens tokens and finish_reason length', async () => {
    const buffered = await json<ChatCompletion>(
      await post(`${sim.url}/v1/chat/completions`, chatBody({ max_tokens: 2 })),
    );
    expect(buffered.choices[0]?.finish_reason).toBe('length');
    expect(buffered.usage.completion_tokens).toBe(2);
    expect(buffered.choices[0]?.message.content.split(' ')).toHaveLength(2);

    const events = parseSse(
      await (
        await post(
          `${sim.url}/v1/chat/completions`,
          chatBody({ stream: true, max_completion_tokens: 3 }),
        )
      ).text(),
    );
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as ChatChunk);
    expect(chunks).toHaveLength(1 + 3 + 1);
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('length');
  });

  test('a missing messages array is a 400 in the OpenAI error shape', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, { model: 'm' });
    expect(res.status).toBe(400);
    expect(await json<OpenAIError>(res)).toEqual({
      error: {
        message: expect.any(String),
        type: 'invalid_request_error',
        param: 'messages',
        code: 'missing_required_parameter',
      },
    });
  });

  test('a request with tools still gets a plain text answer', async () => {
    const res = await post(
      `${sim.url}/v1/chat/completions`,
      chatBody({ tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] }),
    );
    expect(res.status).toBe(200);
    expect(typeof (await json<ChatCompletion>(res)).choices[0]?.message.content).toBe('string');
  });
});

describe('OpenAI completions', () => {
  test('a buffered answer has the text_completion shape and usage', async () => {
    const res = await post(`${sim.url}/v1/completions`, { model: 'davinci', prompt: 'abcdefgh' });
    const body = await json<TextCompletion>(res);
    expect(body).toMatchObject({
      object: 'text_completion',
      model: 'davinci',
      choices: [{ index: 0, finish_reason: 'stop' }],
      usage: { prompt_tokens: 2, completion_tokens: 5, total_tokens: 7 },
    });
    expect(body.choices[0]?.text.split(' ')).toHaveLength(5);
  });

  test('a stream sends one text chunk per word, a finish chunk, usage when asked, then [DONE]', async () => {
    const res = await post(`${sim.url}/v1/completions`, {
      model: 'davinci',
      prompt: 'abcd',
      max_tokens: 4,
      stream: true,
      stream_options: { include_usage: true },
    });
    const events = parseSse(await res.text());
    expect(events.at(-1)?.data).toBe('[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data) as TextCompletion);
    expect(chunks).toHaveLength(4 + 1 + 1);
    expect(chunks[0]).toMatchObject({ object: 'text_completion', model: 'davinci' });
    expect(chunks[4]?.choices[0]?.finish_reason).toBe('length');
    expect(chunks[5]).toMatchObject({ choices: [], usage: { completion_tokens: 4 } });
  });
});

describe('OpenAI embeddings', () => {
  test('each input gets a deterministic unit vector of embeddingDimensions', async () => {
    const res = await post(`${sim.url}/v1/embeddings`, { model: 'emb', input: ['alpha', 'beta'] });
    const body = await json<EmbeddingList>(res);
    expect(body).toMatchObject({ object: 'list', model: 'emb', usage: { prompt_tokens: 3 } });
    expect(body.data).toHaveLength(2);
    for (const item of body.data) {
      expect(item.object).toBe('embedding');
      expect(item.embedding).toHaveLength(8);
      const norm = Math.hypot(...item.embedding);
      expect(norm).toBeCloseTo(1, 6);
    }
    expect(body.data[0]?.embedding).not.toEqual(body.data[1]?.embedding);

    const again = await json<EmbeddingList>(
      await post(`${sim.url}/v1/embeddings`, { model: 'emb', input: 'alpha' }),
    );
    expect(again.data[0]?.embedding).toEqual(body.data[0]?.embedding);
  });

  test('the dimensions knob and the request field both set the length', async () => {
    const other = await startSimulatedBackend({ embeddingDimensions: 3 });
    try {
      const a = await json<EmbeddingList>(
        await post(`${other.url}/v1/embeddings`, { model: 'e', input: 'x' }),
      );
      expect(a.data[0]?.embedding).toHaveLength(3);
      const b = await json<EmbeddingList>(
        await post(`${other.url}/v1/embeddings`, { model: 'e', input: 'x', dimensions: 5 }),
      );
      expect(b.data[0]?.embedding).toHaveLength(5);
    } finally {
      await other.close();
    }
  });

  test('an absurd dimensions value is a 400, not a crash', async () => {
    const res = await post(`${sim.url}/v1/embeddings`, {
      model: 'e',
      input: 'x',
      dimensions: 1e12,
    });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/dimensions.*1 to 65536/);
  });

  test('encoding_format base64 returns little-endian float32s (what the OpenAI SDK asks for)', async () => {
    const floats = await json<EmbeddingList>(
      await post(`${sim.url}/v1/embeddings`, { model: 'e', input: 'x' }),
    );
    const b64 = await json<EmbeddingList<string>>(
      await post(`${sim.url}/v1/embeddings`, { model: 'e', input: 'x', encoding_format: 'base64' }),
    );
    const bytes = Buffer.from(b64.data[0]?.embedding ?? '', 'base64');
    // Copy into a fresh buffer: Float32Array needs a 4-byte aligned offset.
    const decoded = Array.from(new Float32Array(new Uint8Array(bytes).buffer));
    expect(decoded).toHaveLength(8);
    decoded.forEach((v, i) => expect(v).toBeCloseTo(floats.data[0]?.embedding[i] ?? NaN, 5));
  });

  test('a missing input is a 400', async () => {
    const res = await post(`${sim.url}/v1/embeddings`, { model: 'e' });
    expect(res.status).toBe(400);
    expect((await json<OpenAIError>(res)).error.param).toBe('input');
  });
});

describe('OpenAI models and request errors', () => {
  test('GET /v1/models lists the served models', async () => {
    const res = await fetch(`${sim.url}/v1/models`);
    expect(res.status).toBe(200);
    const body = await json<ModelList>(res);
    expect(body.object).toBe('list');
    expect(body.data.map((m) => m.id)).toEqual(['sim-a', 'sim-b']);
    expect(body.data[0]).toMatchObject({ object: 'model', owned_by: expect.any(String) });
  });

  test('the default served model is sim-model', async () => {
    const other = await startSimulatedBackend();
    try {
      const body = await json<ModelList>(await fetch(`${other.url}/v1/models`));
      expect(body.data.map((m) => m.id)).toEqual(['sim-model']);
    } finally {
      await other.close();
    }
  });

  test('malformed JSON is a 400 in the OpenAI error shape', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, '{"model": ');
    expect(res.status).toBe(400);
    const body = await json<OpenAIError>(res);
    expect(body.error).toMatchObject({ type: 'invalid_request_error', param: null });
    expect(typeof body.error.message).toBe('string');
  });

  test('a JSON body that is not an object is a 400', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, '[1,2]');
    expect(res.status).toBe(400);
  });

  test('an unknown path or wrong method is a 404 in the OpenAI error shape', async () => {
    const unknown = await post(`${sim.url}/v1/nothing-here`, {});
    expect(unknown.status).toBe(404);
    expect((await json<OpenAIError>(unknown)).error.type).toBe('invalid_request_error');
    const wrongMethod = await fetch(`${sim.url}/v1/chat/completions`);
    expect(wrongMethod.status).toBe(404);
    await wrongMethod.text();
  });
});
