import { seededRandom } from '../../routing/random.js';
import { estimatePromptTokens, promptTokensAtMost } from '../prompt/tokens.js';
import { embeddingInputs, largestInput } from './embedding-inputs.js';

const WORDS = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta'];

test('each input form gives one prompt per input', () => {
  expect(embeddingInputs({ model: 'm', input: 'one' })).toHaveLength(1);
  expect(embeddingInputs({ model: 'm', input: ['a', 'b', 'c'] })).toHaveLength(3);
  expect(embeddingInputs({ model: 'm', input: [1, 2, 3] })[0]?.tokenIdCount).toBe(3);
  expect(embeddingInputs({ model: 'm', input: [[1, 2], [3]] }).map((i) => i.tokenIdCount)).toEqual([
    2, 1,
  ]);
});

test('property: the largest input is what must fit, never the sum', () => {
  const rng = seededRandom(9);
  for (let round = 0; round < 40; round++) {
    const input = Array.from({ length: 1 + Math.floor(rng() * 12) }, () =>
      Array.from(
        { length: Math.floor(rng() * 300) },
        () => WORDS[Math.floor(rng() * WORDS.length)],
      ).join(' '),
    );
    const infos = embeddingInputs({ model: 'm', input });
    const largest = largestInput(infos);
    const each = infos.map(estimatePromptTokens);
    expect(largest.tokens()).toBe(Math.max(0, ...each));
    expect(largest.atMost).toBe(Math.max(0, ...infos.map(promptTokensAtMost)));
    expect(largest.atMost).toBeGreaterThanOrEqual(largest.tokens());
  }
});
