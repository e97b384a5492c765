import { DENSE_FEATURES, FeatureBuffer, extractFeatures, featureSetId } from './features.js';

function features(prompt: string) {
  const b = new FeatureBuffer();
  extractFeatures(prompt, b);
  const dense = Object.fromEntries(DENSE_FEATURES.map((name, i) => [name, b.dense[i] as number]));
  return { dense, hashes: Array.from(b.hashes.subarray(0, b.hashCount)), scale: b.hashScale };
}

test('case does not change the hashed words', () => {
  expect(features('Prove The Theorem').hashes).toEqual(features('prove the theorem').hashes);
});

test('numbers collapse to their digit count', () => {
  expect(features('add 16 eggs').hashes).toEqual(features('add 42 eggs').hashes);
  expect(features('add 16 eggs').hashes).not.toEqual(features('add 160 eggs').hashes);
});

test('words, bigrams and endings; bigrams do not cross lines', () => {
  expect(features('one').hashes).toHaveLength(1);
  expect(features('one two').hashes).toHaveLength(3);
  expect(features('one\ntwo').hashes).toHaveLength(2);
  expect(features('question').hashes).toHaveLength(2); // word + ending "ion"
});

test('shape counts', () => {
  const f = features(
    'Why?? How?\n1. one\n2) two\n- three\n```js\nx = a[1];\n```\n$\\frac{1}{2}$ costs $3.',
  );
  expect(Math.expm1(f.dense.log_questions as number)).toBeCloseTo(2);
  expect(Math.expm1(f.dense.log_list_items as number)).toBeCloseTo(3);
  expect(Math.expm1(f.dense.log_code_fences as number)).toBeCloseTo(2);
  expect(Math.expm1(f.dense.log_latex_commands as number)).toBeCloseTo(1);
  expect(Math.expm1(f.dense.log_lines as number)).toBeCloseTo(8);
});

test('empty and non-ASCII prompts', () => {
  expect(features('').hashes).toEqual([]);
  expect(features('').scale).toBe(0);
  const f = features('Beweise, dass √2 irrational ist 😀');
  expect(f.dense.non_ascii_word_share).toBeGreaterThan(0);
  expect(Number.isFinite(f.scale)).toBe(true);
});

test('the feature set id is stable and versioned', () => {
  expect(featureSetId()).toMatch(/^fs1-[0-9a-f]{8}$/);
  expect(featureSetId()).toBe(featureSetId());
});
