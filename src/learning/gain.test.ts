import { FeedbackBaselines, NEUTRAL_BASELINES, gainOf } from './gain.js';

test('a pairwise verdict is its own gain; feedback is compared with the other tier’s usual score', () => {
  expect(gainOf({ kind: 'pairwise', gain: -1 })).toBe(-1);
  expect(gainOf({ kind: 'pairwise', gain: 0.5 })).toBe(0.5);
  expect(
    gainOf({ kind: 'feedback', tier: 'cheap', score: 0 }, { cheap: 0.6, strong: 0.9 }),
  ).toBeCloseTo(0.9);
  expect(
    gainOf({ kind: 'feedback', tier: 'cheap', score: 1 }, { cheap: 0.6, strong: 0.9 }),
  ).toBeCloseTo(-0.1);
  expect(
    gainOf({ kind: 'feedback', tier: 'strong', score: 1 }, { cheap: 0.6, strong: 0.9 }),
  ).toBeCloseTo(0.4);
  expect(gainOf({ kind: 'feedback', tier: 'strong', score: 0 }, NEUTRAL_BASELINES)).toBe(-0.5);
});

test('baselines start neutral and move with feedback, and survive a round trip', () => {
  const b = new FeedbackBaselines(10);
  expect(b.current()).toEqual(NEUTRAL_BASELINES);
  for (let i = 0; i < 10; i++) b.observe({ kind: 'feedback', tier: 'strong', score: 1 });
  b.observe({ kind: 'pairwise', gain: 1 });
  expect(b.current()).toEqual({ cheap: 0.5, strong: 0.75 });
  expect(
    FeedbackBaselines.from(
      JSON.parse(JSON.stringify(b.toJSON())) as ReturnType<typeof b.toJSON>,
      10,
    ).current(),
  ).toEqual(b.current());
});
