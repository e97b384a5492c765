import { z } from 'zod';
import { durationToMs, withCrossFieldRules } from './common.js';

describe('durationToMs', () => {
  test.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h30m', 5_400_000],
    ['1m30s250ms', 90_250],
  ])('%s is %d ms', (text, ms) => expect(durationToMs(text)).toBe(ms));

  test.each(['', '5', '5 s', 's', '-1s', '1d'])(
    'refuses %j with an example of the right form',
    (text) => {
      expect(() => durationToMs(text)).toThrow(/use forms like "500ms"/);
    },
  );
});

describe('withCrossFieldRules', () => {
  const schema = withCrossFieldRules(
    z.object({ a: z.number().optional(), b: z.number().optional() }),
    [
      {
        rule: 'has(self.a) != has(self.b)',
        message: 'set exactly one of a or b',
        fieldPath: '.a',
        holds: (v) => (v.a === undefined) !== (v.b === undefined),
      },
    ],
  );

  test('puts the CEL rule into the JSON schema', () => {
    expect(z.toJSONSchema(schema)['x-kubernetes-validations']).toEqual([
      { rule: 'has(self.a) != has(self.b)', message: 'set exactly one of a or b', fieldPath: '.a' },
    ]);
  });

  test('enforces the same rule offline, at the field path', () => {
    expect(schema.safeParse({ a: 1 }).success).toBe(true);
    const issues = schema.safeParse({ a: 1, b: 2 }).error?.issues;
    expect(issues).toEqual([
      expect.objectContaining({ message: 'set exactly one of a or b', path: ['a'] }),
    ]);
  });
});
