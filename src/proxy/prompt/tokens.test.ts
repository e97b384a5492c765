import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import type { PromptInfo } from './extract.js';
import { countTextTokens, estimatePromptTokens, promptTokensAtMost } from './tokens.js';

describe('countTextTokens (o200k_base)', () => {
  // Counts checked against the library's own encoder (o200k_base ids shown where short).
  test.each([
    ['', 0],
    ['Hello, world!', 4], // [13225, 11, 2375, 0]
    ['The quick brown fox jumps over the lazy dog.', 10],
    ['こんにちは世界', 2],
    ['    def f(x):\n        return x * 2\n', 12],
  ])('%j → %i', (text, expected) => {
    expect(countTextTokens(text)).toBe(expected);
    expect(countTextTokens(text)).toBe(encode(text).length);
  });

  test('special-token text in a prompt is ordinary text, not an error', () => {
    expect(() => encode('a <|endoftext|> b')).toThrow(); // the library default
    expect(countTextTokens('a <|endoftext|> b')).toBe(9);
  });

  test('long text', () => {
    const text = 'The quick brown fox jumps over the lazy dog. '.repeat(200);
    expect(countTextTokens(text)).toBe(encode(text).length);
  });
});

describe('estimatePromptTokens', () => {
  const base: PromptInfo = {
    text: 'Hello, world!',
    messageCount: 0,
    imageCount: 0,
    impliedCapabilities: ['chat'],
  };

  test.each<[string, Partial<PromptInfo>, number]>([
    ['text + 3', {}, 4 + 3],
    ['+ 3 per message', { messageCount: 2 }, 4 + 6 + 3],
    ['+ 85 per image', { messageCount: 1, imageCount: 2 }, 4 + 3 + 3 + 170],
    ['+ tool definitions', { toolsText: 'Hello, world!' }, 4 + 3 + 4],
    ['+ pre-tokenized input', { text: '', tokenIdCount: 42 }, 42 + 3],
    ['empty', { text: '' }, 3],
  ])('%s', (_name, over, expected) => {
    expect(estimatePromptTokens({ ...base, ...over })).toBe(expected);
  });
});

describe('promptTokensAtMost', () => {
  test.each([
    'Hello, world!',
    'Ünïcödé and emoji 🎉🎉 and 中文字符',
    'def f(x):\n    return x ** 2  # code',
    '',
  ])('never below the real count: %j', (text) => {
    const info = { text, messageCount: 2, imageCount: 1, impliedCapabilities: [] };
    expect(promptTokensAtMost(info)).toBeGreaterThanOrEqual(estimatePromptTokens(info));
  });
});
