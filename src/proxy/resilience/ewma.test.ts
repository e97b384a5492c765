import { Ewma } from './ewma.js';

test('undefined until the first sample, which it takes as is', () => {
  const e = new Ewma(0.2);
  expect(e.value).toBeUndefined();
  e.update(100);
  expect(e.value).toBe(100);
});

test.each([
  // alpha, samples, expected
  [0.2, [100, 200], 120],
  [0.5, [100, 200, 200], 175],
  [1, [100, 200, 50], 50],
  [0.2, [100, 100, 100], 100],
])('alpha %s over %j → %s', (alpha, samples, expected) => {
  const e = new Ewma(alpha);
  for (const s of samples) e.update(s);
  expect(e.value).toBeCloseTo(expected, 10);
});

test('converges towards a new level', () => {
  const e = new Ewma(0.2);
  e.update(1000);
  for (let i = 0; i < 50; i++) e.update(100);
  expect(e.value).toBeCloseTo(100, 0);
});

test('ignores non-finite samples', () => {
  const e = new Ewma(0.2);
  e.update(Number.NaN);
  expect(e.value).toBeUndefined();
  e.update(50);
  e.update(Number.POSITIVE_INFINITY);
  expect(e.value).toBe(50);
});

test('an out-of-range alpha is clamped', () => {
  const big = new Ewma(5);
  big.update(1);
  big.update(9);
  expect(big.value).toBe(9);
  const nan = new Ewma(Number.NaN);
  nan.update(1);
  nan.update(3);
  expect(nan.value).toBe(3);
});
