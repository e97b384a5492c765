import { backend, route } from '../../routing/__fixtures__/objects.js';
import { compileRoutingTable } from '../../routing/compile.js';
import { prepareTable, type PreparedTable } from '../../routing/prepared-table.js';
import { tableNeedsTokenCounts, warmTokenizerFor } from './tokenizer-warmup.js';
import { countTextTokens, tokenizerLoaded } from './tokens.js';

function tableWith(rules: Parameters<typeof route>[1]['rules']): PreparedTable {
  return prepareTable(
    compileRoutingTable(
      [route('chat', { rules, budget: { maxCostPerRequest: 1 } })],
      [backend('a', { contextWindow: 8000 }), backend('b', { quality: 0.9 })],
    ),
  );
}

const plain = tableWith([
  {
    name: 'by-difficulty',
    strategy: 'cost-quality',
    backendRefs: [{ name: 'a' }, { name: 'b' }],
  },
  { name: 'rest', backendRefs: [{ name: 'a' }] },
]);
const byPromptSize = tableWith([
  { name: 'long', matches: [{ promptTokens: { min: 4000 } }], backendRefs: [{ name: 'a' }] },
]);
const leastCost = tableWith([
  { name: 'cheapest', strategy: 'least-cost', backendRefs: [{ name: 'a' }] },
]);

describe('tableNeedsTokenCounts', () => {
  test('context windows, budgets and difficulty alone do not: the upper bound settles most prompts', () => {
    expect(tableNeedsTokenCounts(plain)).toBe(false);
  });
  test('a promptTokens match does', () => {
    expect(tableNeedsTokenCounts(byPromptSize)).toBe(true);
  });
  test('the least-cost strategy does', () => {
    expect(tableNeedsTokenCounts(leastCost)).toBe(true);
  });
});

// One sequence: the tokenizer module is loaded once per test file.
test('the tokenizer loads only for a table that needs it, or on the first count', () => {
  expect(tokenizerLoaded()).toBe(false);
  expect(warmTokenizerFor(plain)).toBe(false);
  expect(tokenizerLoaded()).toBe(false);
  expect(warmTokenizerFor(byPromptSize)).toBe(true);
  expect(tokenizerLoaded()).toBe(true);
  expect(warmTokenizerFor(leastCost)).toBe(false); // already loaded
  expect(countTextTokens('Hello, world!')).toBe(4);
});
