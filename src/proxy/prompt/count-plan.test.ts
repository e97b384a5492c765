import { backend, route } from '../../routing/__fixtures__/objects.js';
import { compileRoutingTable } from '../../routing/compile.js';
import { prepareTable } from '../../routing/prepared-table.js';
import type { PromptInfo } from './extract.js';
import { INLINE_COUNT_MAX, promptTokensFact, tokenCountPlan } from './count-plan.js';
import { estimatePromptTokens } from './tokens.js';

const prompt = (text: string): PromptInfo => ({
  text,
  messageCount: 1,
  imageCount: 0,
  impliedCapabilities: ['chat'],
});

const windowed = prepareTable(
  compileRoutingTable(
    [route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'a' }, { name: 'b' }] }] })],
    [backend('a', { contextWindow: 8_000 }), backend('b', { contextWindow: 32_000 })],
  ),
);
const unbounded = prepareTable(
  compileRoutingTable(
    [
      route('chat', {
        rules: [
          {
            name: 'long',
            matches: [{ promptTokens: { min: 40_000 } }],
            backendRefs: [{ name: 'a' }],
          },
          { name: 'r', backendRefs: [{ name: 'b' }] },
        ],
      }),
    ],
    [backend('a', { contextWindow: 8_000 }), backend('b')],
  ),
);

let yields = 0;
const countYield = (): Promise<void> => {
  yields++;
  return Promise.resolve();
};
beforeEach(() => {
  yields = 0;
});

const budgeted = prepareTable(
  compileRoutingTable(
    [
      route('chat', {
        budget: { maxCostPerRequest: 0.01 },
        rules: [{ name: 'r', backendRefs: [{ name: 'a' }, { name: 'b' }] }],
      }),
    ],
    [backend('a', { contextWindow: 8_000 }), backend('b')],
  ),
);

test('plans: when a count may be needed, and where it can stop', () => {
  expect(tokenCountPlan(windowed)).toEqual({
    alwaysMayCount: false,
    smallestWindow: 8_000,
    stopAbove: 32_000,
  });
  // Past the largest window and promptTokens bound, nothing changes.
  expect(tokenCountPlan(unbounded)).toEqual({
    alwaysMayCount: true,
    smallestWindow: 8_000,
    stopAbove: 40_000,
  });
  // A budget prices the whole prompt: no early stop.
  expect(tokenCountPlan(budgeted)).toEqual({
    alwaysMayCount: true,
    smallestWindow: 8_000,
    stopAbove: Infinity,
  });
});

test('a small prompt is counted only when routing asks', async () => {
  const fact = await promptTokensFact(prompt('hello there'), unbounded, countYield);
  expect(yields).toBe(0);
  expect(fact()).toBe(estimatePromptTokens(prompt('hello there')));
});

test('a big prompt is counted before routing, yielding to the event loop between steps', async () => {
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(4_000); // 180 KB
  expect(text.length).toBeGreaterThan(INLINE_COUNT_MAX * 10);
  const fact = await promptTokensFact(prompt(text), budgeted, countYield);
  expect(yields).toBeGreaterThanOrEqual(10);
  expect(fact()).toBe(estimatePromptTokens(prompt(text)));
});

test('a count stops past every window, still above them all', async () => {
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(20_000); // 200k tokens
  const fact = await promptTokensFact(prompt(text), windowed, () => Promise.resolve());
  expect(fact()).toBeGreaterThan(32_000);
  expect(fact()).toBeLessThan(100_000);
});

test('a big prompt that fits every window and no rule needs a count is not counted', async () => {
  const text = 'word '.repeat(1_000); // 5 KB: under every window even at a token a byte
  const big = prepareTable(
    compileRoutingTable(
      [route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'a' }] }] })],
      [backend('a', { contextWindow: 1_000_000 })],
    ),
  );
  await promptTokensFact(prompt(text.repeat(10)), big, countYield);
  expect(yields).toBe(0);
});

test('an embeddings batch is counted ahead once per question: the whole for prices, each input for windows', async () => {
  const text = 'The quick brown fox jumps over the lazy dog. '.repeat(4_000); // 180 KB
  // Windows only: the whole batch waits (no rule or price asks), each input is counted ahead.
  await promptTokensFact(prompt(text), windowed, countYield, 'batch');
  expect(yields).toBe(0);
  await promptTokensFact(prompt(text), windowed, countYield, 'context-window');
  expect(yields).toBeGreaterThan(0);
  // A budget prices the whole batch, which no window check needs input by input.
  yields = 0;
  await promptTokensFact(prompt(text), budgeted, countYield, 'batch');
  expect(yields).toBeGreaterThan(0);
  yields = 0;
  const noWindows = prepareTable(
    compileRoutingTable(
      [
        route('chat', {
          budget: { maxCostPerRequest: 0.01 },
          rules: [{ name: 'r', backendRefs: [{ name: 'b' }] }],
        }),
      ],
      [backend('b')],
    ),
  );
  await promptTokensFact(prompt(text), noWindows, countYield, 'context-window');
  expect(yields).toBe(0);
});
