// An embeddings batch is checked against the context window input by input:
// 64 inputs of about 2,500 tokens each fit an 8k-context model.
import { route, startDataPlane, type DataPlane } from '../support/data-plane.js';

let dp: DataPlane;

beforeAll(async () => {
  dp = await startDataPlane(
    [{ name: 'emb', spec: { capabilities: ['embeddings'], contextWindow: 8192 } }],
    [route('embed', { rules: [{ name: 'r', backendRefs: [{ name: 'emb' }] }] })],
  );
});

afterAll(async () => {
  await dp.close();
});

/** About `tokens` tokens of text (" word" is one token in o200k_base). */
const text = (tokens: number) => `word${' word'.repeat(tokens - 1)}`;

test('64 inputs of 2,500 tokens each are served', async () => {
  const res = await dp.client.embeddings.create({
    model: 'embed',
    input: Array.from({ length: 64 }, () => text(2_500)),
  });
  expect(res.data).toHaveLength(64);
});

test('one input over the window is still refused, naming the window', async () => {
  await expect(
    dp.client.embeddings.create({ model: 'embed', input: ['short', text(9_000)] }),
  ).rejects.toMatchObject({ status: 400, message: expect.stringMatching(/context window/) });
});
