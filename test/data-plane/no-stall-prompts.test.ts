// No prompt can stall the proxy: while adversarial prompts are being handled
// (long runs of one letter, many tiny words, long emoji or CJK runs, huge
// message lists), /healthz keeps answering and each request gets a correct
// answer: 200 when it fits the context window, a clear 400 when it does not.
// Before, "a" * 300000 blocked the proxy for 36 s.
import { post, route, startDataPlane, type DataPlane } from '../support/data-plane.js';
import { expectResponsive, whileProbing } from '../support/probe.js';

// Counting 1 MB of random letters takes about a second of CPU (spent in steps
// that leave the event loop free); on a loaded 2-core machine, several.
const TIMEOUT_MS = 30_000;

describe('long and odd prompts', () => {
  let dp: DataPlane;
  beforeAll(async () => {
    dp = await startDataPlane(
      [{ name: 'gpt', spec: { contextWindow: 128_000 } }],
      [
        route('chat', {
          // Every per-request pass runs: difficulty scoring, token counting.
          rules: [
            {
              name: 'hard',
              matches: [{ difficulty: { min: 0.999 } }],
              backendRefs: [{ name: 'gpt' }],
            },
            {
              name: 'big',
              matches: [{ promptTokens: { min: 200_000 } }],
              backendRefs: [{ name: 'gpt' }],
            },
            { name: 'r', backendRefs: [{ name: 'gpt' }] },
          ],
        }),
      ],
    );
  });
  afterAll(() => dp.close());

  function chat(messages: { role: string; content: string }[]) {
    return post(`${dp.proxy.dataUrl}/v1/chat/completions`, { model: 'chat', messages });
  }
  const user = (content: string) => [{ role: 'user', content }];

  let seed = 5;
  const rand = () => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return seed / 0x7fffffff;
  };
  const randomFrom = (alphabet: string[], n: number) =>
    Array.from({ length: n }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');

  // Each fits a 128k-token window (so it must be answered 200) ...
  const fitting: [string, () => { role: string; content: string }[]][] = [
    ['300 KB of one letter', () => user('a'.repeat(300_000))],
    ['120 KB of one letter', () => user('a'.repeat(120_000))],
    ['100 KB of spaces', () => user(`${' '.repeat(100_000)}x`)],
    ['60,000 tiny words', () => user('a '.repeat(60_000))],
    ['20,000 emoji', () => user('🎉'.repeat(20_000))],
    [
      '30,000 CJK characters in one run',
      () => user(randomFrom([...'中文字符的一是不了人我在有他这为之大来'], 30_000)),
    ],
    [
      '5,000 messages',
      () => Array.from({ length: 5_000 }, () => ({ role: 'user', content: 'hi' })),
    ],
  ];
  // ... and each is far beyond it (so a clear 400 that names the context window).
  const oversize: [string, () => { role: string; content: string }[]][] = [
    [
      '1 MB of random letters in one run',
      () => user(randomFrom([...'abcdefghijklmnopqrstuvwxyz'], 1_000_000)),
    ],
    ['600,000 CJK characters in one run', () => user('中文字符的一是不了人'.repeat(60_000))],
  ];

  test.each(fitting)(
    '%s: 200, and /healthz answers meanwhile',
    async (_name, messages) => {
      const body = messages();
      const { result, probeMs } = await whileProbing(dp.proxy.adminUrl, () => chat(body));
      expect(result.status).toBe(200);
      expectResponsive(probeMs);
    },
    TIMEOUT_MS,
  );

  test.each(oversize)(
    '%s: a clear 400 naming the context window',
    async (_name, messages) => {
      const body = messages();
      const { result, probeMs } = await whileProbing(dp.proxy.adminUrl, () => chat(body));
      expect(result.status).toBe(400);
      expect(result.text).toMatch(/context window is 128000/);
      expectResponsive(probeMs);
    },
    TIMEOUT_MS,
  );
  test(
    '4 MiB of nested brackets: a clear 400 before parsing, and /healthz answers meanwhile',
    async () => {
      const half = 2 * 1024 * 1024;
      const body = `{"model":"chat","messages":[{"role":"user","content":"hi"}],"m":${'['.repeat(half)}${']'.repeat(half)}}`;
      const { result, probeMs } = await whileProbing(dp.proxy.adminUrl, () =>
        post(`${dp.proxy.dataUrl}/v1/chat/completions`, body),
      );
      expect(result.status).toBe(400);
      expect(result.text).toMatch(/nested more than 128 levels deep/);
      expectResponsive(probeMs);
    },
    TIMEOUT_MS,
  );
});
