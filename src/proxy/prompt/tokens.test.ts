import { encode } from 'gpt-tokenizer/encoding/o200k_base';
import { O200K_TOKEN_SPLIT_REGEX } from 'gpt-tokenizer/encodingParams/constants';
import type { PromptInfo } from './extract.js';
import { seededRandom } from '../../routing/random.js';
import {
  MAX_PIECE_UNITS,
  MAX_WHITESPACE_PIECE_UNITS,
  STEP_UNITS,
  countTextTokenSteps,
  countTextTokens,
  estimatePromptTokens,
  promptTokensAtMost,
} from './tokens.js';

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

describe('bounded counting (linear work for any input)', () => {
  const longestPreToken = (piece: string): number => {
    let longest = 0;
    for (const m of piece.matchAll(O200K_TOKEN_SPLIT_REGEX))
      longest = Math.max(longest, m[0].length);
    return longest;
  };

  const rng = seededRandom(99);
  const pick = (alphabet: readonly string[], n: number): string => {
    let out = '';
    while (out.length < n) out += alphabet[Math.floor(rng() * alphabet.length)] as string;
    return out;
  };
  const LETTERS = [...'abcdefghijklmnopqrstuvwxyz'];
  // Adversarial shapes: one long pre-token, or many tiny ones.
  const SHAPES: Record<string, (n: number) => string> = {
    'one letter': (n) => 'a'.repeat(n),
    'space then one letter': (n) => ` ${'a'.repeat(n - 1)}`,
    'random letters': (n) => pick(LETTERS, n),
    'upper case DNA': (n) => pick([...'ACGT'], n),
    'CJK run': (n) => pick([...'中文字符的一是不了人我在有他这为之大来'], n),
    'emoji run': (n) => pick(['🎉', '😀', '👍', '🚀'], n),
    'combining marks': (n) => `e${'\u0301'.repeat(n - 1)}`,
    punctuation: (n) => pick([...'!@#$%^&*()[]{}<>?'], n),
    spaces: (n) => ' '.repeat(n),
    'mixed whitespace': (n) => pick([' ', '\t', '\n', '\r'], n),
    'tiny words': (n) => 'a '.repeat(n / 2),
    digits: (n) => pick([...'0123456789'], n),
  };

  /** Runs a count with a probe; returns what the tokenizer was handed. */
  function probe(text: string, stopAbove?: number) {
    const pieces: string[] = [];
    const steps = countTextTokenSteps(
      text,
      (piece) => {
        pieces.push(piece);
        return countTextTokens(piece);
      },
      stopAbove,
    );
    let unitsSinceYield = 0;
    let longestStep = 0;
    let fedBefore = 0;
    for (;;) {
      const step = steps.next();
      const fed = pieces.reduce((sum, p) => sum + p.length, 0);
      unitsSinceYield += fed - fedBefore;
      fedBefore = fed;
      longestStep = Math.max(longestStep, unitsSinceYield);
      if (step.done) return { count: step.value, pieces, fed, longestStep };
      unitsSinceYield = 0;
    }
  }

  test.each(Object.keys(SHAPES))(
    '%s: every unit is handed over once, in pieces whose BPE work is bounded',
    (shape) => {
      for (const n of [10_000, 20_000]) {
        const text = (SHAPES[shape] as (n: number) => string)(n);
        const { pieces, fed, longestStep } = probe(text);
        expect(fed).toBe(text.length);
        expect(pieces.join('')).toBe(text);
        // BPE is quadratic in a pre-token's length; no piece holds a long one,
        // so the work is at most (text length × piece limit): linear.
        for (const piece of pieces)
          expect(longestPreToken(piece)).toBeLessThanOrEqual(MAX_WHITESPACE_PIECE_UNITS);
        const nonWhitespace = pieces.filter((p) => !/^\s+$/.test(p));
        for (const piece of nonWhitespace)
          expect(longestPreToken(piece)).toBeLessThanOrEqual(MAX_PIECE_UNITS);
        // A cooperative count yields at least every step (plus one piece).
        expect(longestStep).toBeLessThanOrEqual(STEP_UNITS + MAX_WHITESPACE_PIECE_UNITS + 1);
      }
    },
  );

  test.each(Object.keys(SHAPES))('%s: within one token per cut of the exact count', (shape) => {
    const text = (SHAPES[shape] as (n: number) => string)(4_000);
    const exact = encode(text, { disallowedSpecial: new Set() }).length;
    const { count, pieces } = probe(text);
    expect(Math.abs(count - exact)).toBeLessThanOrEqual(pieces.length - 1);
    // And no more than 2% off: each cut is 32+ units, and tokens are rarely shorter than 1 unit.
    expect(Math.abs(count - exact)).toBeLessThanOrEqual(Math.ceil(exact * 0.02) + 1);
  });

  test('ordinary text of every kind is counted exactly', () => {
    const samples = [
      'The quick brown fox jumps over the lazy dog. '.repeat(500),
      'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n'.repeat(200),
      JSON.stringify({
        users: Array.from({ length: 300 }, (_, i) => ({ id: i, name: `user${i}` })),
      }),
      'Ünïcödé and emoji 🎉 and 中文字符 mixed, 12345 numbers. '.repeat(300),
      'Kubernetes-native LLM routing: ModelRoute/ModelBackend CRDs → sidecar proxies.\n'.repeat(
        300,
      ),
      `${'    '.repeat(20)}indented\n`.repeat(100),
    ];
    for (let i = 0; i < 30; i++) {
      const words = Array.from({ length: 400 }, () => pick(LETTERS, 1 + Math.floor(rng() * 12)));
      samples.push(words.join(rng() < 0.5 ? ' ' : ', '));
    }
    for (const text of samples)
      expect(countTextTokens(text)).toBe(encode(text, { disallowedSpecial: new Set() }).length);
  });

  test('stops once the count exceeds stopAbove, having handed over little of the text', () => {
    const text = SHAPES['random letters']?.(200_000) as string;
    const { count, fed } = probe(text, 1_000);
    expect(count).toBeGreaterThan(1_000);
    expect(fed).toBeLessThan(text.length / 10);
  });
});
