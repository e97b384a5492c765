import { seededRandom } from '../../random.js';
import {
  DENSE_FEATURES_V2,
  FeatureBufferV2,
  extractFeaturesV2,
  featureSetIdV2,
  quantitativeGate,
  type DenseFeatureV2,
} from './features-v2.js';

function features(prompt: string): Record<DenseFeatureV2, number> {
  const b = new FeatureBufferV2();
  extractFeaturesV2(prompt, b);
  return Object.fromEntries(
    DENSE_FEATURES_V2.map((name, i) => [name, b.dense[i] as number]),
  ) as Record<DenseFeatureV2, number>;
}

/** A count feature's value back as a count (they are log1p of counts). */
const count = (prompt: string, name: DenseFeatureV2) =>
  Math.round(Math.expm1(features(prompt)[name]));

// Each task kind: a prompt that clearly is that kind, and one that clearly is not.
const KINDS: Array<[DenseFeatureV2, string, string]> = [
  ['log_proof_words', "Prove Fermat's Last Theorem for n=4.", 'What is the capital of France?'],
  ['log_proof_words', 'Show that the sum of two even numbers is even.', 'Show me the menu.'],
  [
    'log_quantity_questions',
    'Janet has 16 eggs and eats 3. How many are left?',
    'Many people like eggs.',
  ],
  ['log_unit_words', 'He drives 60 miles in 2 hours.', 'He drives home.'],
  ['log_solve_words', 'Solve for x: 3x + 5 = 20.', 'Tell me about x-rays.'],
  ['log_digit_operators', 'What is 12 * 7 + 3?', 'What is a star?'],
  ['log_latex_commands', 'Evaluate $\\frac{1}{2} + \\sqrt{3}$.', 'Evaluate this essay.'],
  ['log_reasoning_words', 'Explain why the sky is blue, step by step.', 'The sky is blue.'],
  [
    'log_constraint_words',
    'Answer in exactly three words and at most one sentence.',
    'Answer the question.',
  ],
  ['log_negation_words', 'Which of these is NOT a mammal?', 'Which of these is a mammal?'],
  [
    'log_code_write_cues',
    'Write a Python function that reverses a list.',
    'Write a letter to my aunt.',
  ],
  ['log_code_keywords', 'def f(x):\n    return x + 1', 'Define a friendship.'],
  ['log_code_fences', '```js\nconsole.log(1)\n```', 'Print one.'],
  ['log_creative_words', 'Write a short poem about autumn.', 'Write down the date.'],
  [
    'log_roleplay_cues',
    'Pretend you are a pirate and act as my guide.',
    'Guide me to the station.',
  ],
  ['log_chat_words', 'Hey there, thanks a lot!', 'Compute the determinant.'],
  ['log_factoid_cues', 'What is the capital of France?', 'Sort these numbers.'],
  ['log_translation_cues', 'Translate this sentence into French.', 'Read this sentence.'],
  ['log_summary_cues', 'Summarize the main points of the article.', 'Read the article.'],
  ['log_extraction_words', 'According to the passage, who wrote it?', 'Who are you?'],
];

describe('each task kind fires on a clear example and not on a counter-example', () => {
  test.each(KINDS)('%s', (name, yes, no) => {
    expect(features(yes)[name]).toBeGreaterThan(0);
    expect(features(no)[name]).toBe(0);
  });
});

test('the quantitative gate admits calculations and not prose with one date', () => {
  const gate = (p: string) => {
    const b = new FeatureBufferV2();
    extractFeaturesV2(p, b);
    return quantitativeGate(b.dense);
  };
  for (const p of [
    'What is 12 * 7?',
    'Janet has 16 eggs and 3 hens.',
    'A ticket costs $5.',
    'How many legs does a spider have?',
    'Evaluate $\\int_0^1 x\\,dx$.',
  ])
    expect({ p, gate: gate(p) }).toEqual({ p, gate: 1 });
  for (const p of [
    'Explain the causes of the French Revolution.',
    'In 1789 the Estates-General met at Versailles. Why?',
    'Write a poem about the sea.',
  ])
    expect({ p, gate: gate(p) }).toEqual({ p, gate: 0 });
});

test('multiple choice: four lettered options at line starts, not a lettered sentence', () => {
  const mc = 'Which is a prime?\nA. 4\nB. 6\nC. 7\nD. 9\nAnswer:';
  expect(features(mc).multiple_choice_options).toBe(1);
  expect(features('A. Smith wrote it. B. Jones read it.').multiple_choice_options).toBe(0);
  expect(count(mc, 'log_list_items')).toBe(0);
});

test('structure: sentences, questions, list items, lines, numbers', () => {
  const p = 'First line. Second one?\n1. alpha\n2) beta\n- gamma\nIs 12 more than 7?';
  expect(count(p, 'log_questions')).toBe(2);
  expect(count(p, 'log_list_items')).toBe(3);
  expect(count(p, 'log_lines')).toBe(5);
  expect(count(p, 'log_numbers')).toBe(4);
  expect(count(p, 'log_sentences')).toBe(4);
  expect(count('', 'log_sentences')).toBe(0);
});

test('a long passage before a short question is a supplied passage; a short prompt is not', () => {
  const passage = 'The council met in 1848 and debated the new charter at length. '.repeat(10);
  expect(features(`${passage}\nWhat did the council debate?`).log_passage_chars).toBeGreaterThan(5);
  expect(features('What did the council debate?').log_passage_chars).toBe(0);
});

test('cues match in any case; two-word cues only inside one clause', () => {
  expect(count('PROVE IT', 'log_proof_words')).toBe(1);
  expect(count('how many', 'log_quantity_questions')).toBe(1);
  expect(count('how, many', 'log_quantity_questions')).toBe(0);
  expect(count('how\nmany', 'log_quantity_questions')).toBe(0);
});

test('the buffer is reused: a second prompt leaves nothing of the first', () => {
  const b = new FeatureBufferV2();
  extractFeaturesV2('Prove it. How many? ```x```', b);
  extractFeaturesV2('hi', b);
  const fresh = new FeatureBufferV2();
  extractFeaturesV2('hi', fresh);
  expect(Array.from(b.dense)).toEqual(Array.from(fresh.dense));
});

test('any string gives finite features, the same twice (seeded fuzz)', () => {
  const rng = seededRandom(12);
  const alphabet = "ab Z9?.\n-*`\\$+=()A.:’'é中😀";
  const b = new FeatureBufferV2();
  for (let k = 0; k < 300; k++) {
    const length = Math.floor(rng() * 300);
    let s = '';
    for (let i = 0; i < length; i++) s += alphabet[Math.floor(rng() * alphabet.length)];
    extractFeaturesV2(s, b);
    const first = Array.from(b.dense);
    for (const v of first) expect(Number.isFinite(v)).toBe(true);
    extractFeaturesV2(s, b);
    expect(Array.from(b.dense)).toEqual(first);
  }
});

test('the feature-set id names version 2 and is stable', () => {
  expect(featureSetIdV2()).toMatch(/^fs2-[0-9a-f]{8}$/);
  expect(featureSetIdV2()).toBe(featureSetIdV2());
});
