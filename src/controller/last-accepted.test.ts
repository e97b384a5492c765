import { modelBackend, modelRoute } from '../api/v1alpha1/index.js';
import { LastAcceptedRoutes } from './last-accepted.js';

const a = modelBackend.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelBackend',
  metadata: { name: 'a', namespace: 'ns' },
  spec: { provider: 'openai-compatible', endpoint: 'http://a:8000/v1', model: 'a' },
});

/** Route "r" whose fallback is "loop" (refused: it falls back to itself via "loop") or none. */
const r = (generation: number, uid: string, refused: boolean) =>
  modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'r', namespace: 'ns', generation, uid },
    spec: {
      model: 'r',
      rules: [{ name: 'x', backendRefs: [{ name: 'a' }] }],
      ...(refused ? { fallback: { model: 'loop' } } : {}),
    },
  });
const loop = modelRoute.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelRoute',
  metadata: { name: 'loop', namespace: 'ns', uid: 'loop' },
  spec: {
    model: 'loop',
    rules: [{ name: 'x', backendRefs: [{ name: 'a' }] }],
    fallback: { model: 'r' },
  },
});

test('a refused route serves its last accepted version, only for the same object', () => {
  const memory = new LastAcceptedRoutes();
  expect(
    memory.admit('ns', [r(1, 'u1', false)], [a]).routes.map((x) => x.metadata.generation),
  ).toEqual([1]);
  const refused = memory.admit('ns', [r(2, 'u1', true), loop], [a]);
  expect(refused.routes.map((x) => [x.metadata.name, x.metadata.generation])).toEqual([['r', 1]]);
  expect(refused.servingLastAccepted).toEqual(new Map([['ns/r', 1]]));
  // Deleted and created again (a new uid): no memory of the old object.
  expect(memory.admit('ns', [r(1, 'u2', true), loop], [a]).routes).toEqual([]);
});

test('a route that is gone is forgotten', () => {
  const memory = new LastAcceptedRoutes();
  memory.admit('ns', [r(1, 'u1', false)], [a]);
  memory.admit('ns', [], [a]);
  expect(memory.admit('ns', [r(2, 'u1', true), loop], [a]).routes).toEqual([]);
});
