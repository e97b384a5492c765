import { difficultySignals, scoreDifficulty } from './index.js';

type Band = 'low' | 'mid' | 'high';

const PROMPTS: Array<[Band, string]> = [
  ['low', ''],
  ['low', 'hi'],
  ['low', 'hello!'],
  ['low', 'thanks :)'],
  ['low', "What's the capital of France?"],
  ['low', 'How are you today?'],
  ['low', 'Tell me a joke about cats.'],
  ['low', 'Translate "good morning" into Spanish.'],
  ['low', 'What time is it in Tokyo?'],
  ['low', 'Write a haiku about autumn.'],
  ['low', 'Summarize this in one sentence: the meeting covered the quarterly results.'],
  ['low', 'Write a Python function that checks whether a string is a palindrome.'],
  ['mid', 'Explain why the sky is blue.'],
  ['mid', 'Compare PostgreSQL and MongoDB and explain which to use for analytics.'],
  ['high', 'Prove that the square root of 2 is irrational.'],
  ['high', 'Prove that there are infinitely many primes.'],
  ['high', 'Derive the closed form of \\sum_{k=1}^{n} k^2 and prove it by induction.'],
  [
    'high',
    'Design a distributed rate limiter for a multi-region API gateway.\n' +
      '1. How would you store the counters?\n' +
      '2. How do you handle clock skew between regions?\n' +
      '3. Compare token bucket and sliding window and explain the trade-offs.\n' +
      'The design must handle 1M requests per second without using a single central database.',
  ],
  [
    'high',
    'Why does this throw a NullPointerException?\n```java\npublic class Foo {\n' +
      '  private static String s;\n  public static void main(String[] args) {\n' +
      '    System.out.println(s.length());\n  }\n}\n```',
  ],
  [
    'high',
    'Analyze the time complexity of this algorithm step by step and optimize it:\n' +
      '```python\ndef f(xs):\n    return [x for x in xs if xs.count(x) == 1]\n```',
  ],
  [
    'high',
    'Compare microservices and a modular monolith for a 20-person team. What are the ' +
      'trade-offs in deployment? How does the architecture affect testing? Which would you ' +
      'choose, and why? Your answer must cover at least three risks.',
  ],
];

describe('bands', () => {
  test.each(PROMPTS)('%s: %j', (band, prompt) => {
    const score = scoreDifficulty(prompt);
    expect(score).toBeGreaterThanOrEqual(0);
    expect(score).toBeLessThanOrEqual(1);
    if (band === 'low') expect(score).toBeLessThan(0.3);
    if (band === 'mid') {
      expect(score).toBeGreaterThanOrEqual(0.1);
      expect(score).toBeLessThanOrEqual(0.6);
    }
    if (band === 'high') expect(score).toBeGreaterThan(0.6);
  });
});

test('deterministic', () => {
  for (const [, prompt] of PROMPTS) expect(scoreDifficulty(prompt)).toBe(scoreDifficulty(prompt));
});

test('monotone in length for the same kind of text', () => {
  const sentence = 'The service stores user records and answers lookups over HTTP. ';
  let previous = -1;
  for (const times of [1, 2, 4, 8, 16, 32, 64, 128]) {
    const score = scoreDifficulty(sentence.repeat(times));
    expect(score).toBeGreaterThanOrEqual(previous);
    previous = score;
  }
  expect(previous).toBeGreaterThan(scoreDifficulty(sentence));
});

test('case does not matter', () => {
  expect(scoreDifficulty('PROVE THAT THERE ARE INFINITELY MANY PRIMES')).toBe(
    scoreDifficulty('prove that there are infinitely many primes'),
  );
});

describe('signals', () => {
  test('phrases across punctuation and case', () => {
    const s = difficultySignals(
      'List the Trade-offs. Think Step by step, without using loops; at most 3.',
    );
    expect(s.reasoningPoints).toBeCloseTo(0.6, 10); // trade-off 0.3 + step by step 0.3
    expect(s.constraintPoints).toBeCloseTo(0.18, 10); // without using 0.12 + at most 0.06
  });

  test('words are matched whole, not as prefixes or inside other words', () => {
    const s = difficultySignals('proven musty designer whys improve');
    expect(s.mathPoints + s.reasoningPoints + s.constraintPoints + s.codePoints).toBe(0);
  });

  test('code fences, symbols, LaTeX and arithmetic', () => {
    const s = difficultySignals(
      '```js\nlet a = [1];\n```\n$\\frac{1}{2} + \\alpha$ and "\\n" 2^10 = 1024, (3) * 4',
    );
    expect(s.codeFences).toBe(2);
    expect(s.latexCommands).toBe(2); // \frac, \alpha; not \n
    expect(s.digitOperators).toBe(3); // 2^, 10 =, ) *
    expect(s.codeSymbols).toBeGreaterThanOrEqual(4);
  });

  test('questions and list items', () => {
    const s = difficultySignals(
      'Why?? How?\n1. one\n 2) two\n- three\n* four\n10.5 is not an item\nx 3. no',
    );
    expect(s.questions).toBe(2);
    expect(s.numberedItems).toBe(2);
    expect(s.bullets).toBe(2);
  });

  test('non-ASCII text does not confuse the scanner', () => {
    const s = difficultySignals('Beweise, dass √2 irrational ist — prove it 😀 naïve');
    expect(s.mathPoints).toBeCloseTo(0.65 + 0.25, 10); // irrational, prove
  });
});
