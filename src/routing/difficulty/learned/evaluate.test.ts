import type { Example } from './dataset.js';
import { kFoldByPrompt, leaveGroupsOut, nestedRecipe, type RecipeCandidate } from './evaluate.js';

/** The strong model is right on every prompt; the weak one fails every third. */
const examples: Example[] = Array.from({ length: 300 }, (_, i) => ({
  prompt: `prompt ${i}`,
  group: `subject ${i % 6}`,
  weak: i % 3 === 0 ? 0 : 1,
  strong: 1,
}));

const candidates: RecipeCandidate[] = [
  { name: 'anti-oracle', recipe: (_train, test) => test.map((e) => e.weak - e.strong) },
  // Breaks ties by position so the sweep is not degenerate.
  { name: 'oracle', recipe: (_train, test) => test.map((e, i) => e.strong - e.weak + i * 1e-6) },
  { name: 'constant', recipe: (_train, test) => test.map(() => 0) },
];

test('nested selection picks by inner folds of the training part, never looking at the test part', () => {
  const [outer] = kFoldByPrompt(examples, 5, 1);
  const testPrompts = new Set(outer!.test.map((e) => e.prompt));
  const seen: string[] = [];
  const choices: string[] = [];
  const recipe = nestedRecipe(
    candidates,
    (train, seed) => {
      seen.push(...train.map((e) => e.prompt));
      return leaveGroupsOut(train, 3, seed);
    },
    (name) => choices.push(name),
  );
  const scores = recipe(outer!.train, outer!.test, 7);
  expect(choices).toEqual(['oracle']);
  expect(seen.filter((p) => testPrompts.has(p))).toEqual([]);
  expect(scores).toHaveLength(outer!.test.length);
});

test('nested selection refuses an empty candidate list', () => {
  expect(() => nestedRecipe([], (t, s) => kFoldByPrompt(t, 3, s))).toThrow(/at least one/);
});
