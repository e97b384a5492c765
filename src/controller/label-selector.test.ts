import { selects } from './label-selector.js';

const labels = { app: 'web', tier: 'api', 'modelroute.io/proxy': 'true' };

test.each([
  ['no selector', undefined, true],
  ['empty selector', {}, true],
  ['matchLabels hit', { matchLabels: { app: 'web' } }, true],
  ['matchLabels miss', { matchLabels: { app: 'batch' } }, false],
  [
    'In hit',
    { matchExpressions: [{ key: 'tier', operator: 'In' as const, values: ['api', 'fe'] }] },
    true,
  ],
  [
    'In miss',
    { matchExpressions: [{ key: 'tier', operator: 'In' as const, values: ['fe'] }] },
    false,
  ],
  [
    'In on a missing key',
    { matchExpressions: [{ key: 'zone', operator: 'In' as const, values: ['a'] }] },
    false,
  ],
  [
    'NotIn on a missing key',
    { matchExpressions: [{ key: 'zone', operator: 'NotIn' as const, values: ['a'] }] },
    true,
  ],
  [
    'NotIn hit',
    { matchExpressions: [{ key: 'tier', operator: 'NotIn' as const, values: ['api'] }] },
    false,
  ],
  ['Exists', { matchExpressions: [{ key: 'app', operator: 'Exists' as const }] }, true],
  [
    'DoesNotExist',
    { matchExpressions: [{ key: 'app', operator: 'DoesNotExist' as const }] },
    false,
  ],
  [
    'labels and expressions together',
    {
      matchLabels: { app: 'web' },
      matchExpressions: [{ key: 'tier', operator: 'Exists' as const }],
    },
    true,
  ],
])('%s', (_name, selector, expected) => {
  expect(selects(selector, labels)).toBe(expected);
});
