import { localNamespace } from './dev-mode.js';

const obj = (name: string, namespace?: string) => ({ metadata: { name, namespace } });

test('local mode serves the namespace all its tenants and keys share', () => {
  expect(localNamespace({ tenants: [obj('a', 'team-a')], apiKeys: [obj('k', 'team-a')] })).toEqual({
    namespace: 'team-a',
    skipped: [],
  });
  expect(localNamespace({ tenants: [], apiKeys: [] })).toEqual({
    namespace: 'default',
    skipped: [],
  });
  expect(localNamespace({ tenants: [obj('a')], apiKeys: [] })).toEqual({
    namespace: 'default',
    skipped: [],
  });
});

test('tenants and keys of several namespaces: default, and the others are named as left out', () => {
  expect(
    localNamespace({
      tenants: [obj('a', 'team-a'), obj('b')],
      apiKeys: [obj('k', 'team-b')],
    }),
  ).toEqual({ namespace: 'default', skipped: ['team-a/a', 'team-b/k'] });
});
