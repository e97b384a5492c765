import { backend, route } from './__fixtures__/objects.js';
import { compileRoutingTable } from './compile.js';
import { routeVersions } from './route-version.js';

const a = backend('a');
const b = backend('b');
const c = backend('c');
const chat = route('chat', { rules: [{ name: 'r', backendRefs: [{ name: 'a' }, { name: 'b' }] }] });
const batch = route('batch', { rules: [{ name: 'r', backendRefs: [{ name: 'c' }] }] });

test('a change to one route or to a backend it does not use leaves its version alone', () => {
  const before = routeVersions(compileRoutingTable([chat, batch], [a, b, c]));
  expect(before.get('default/chat')).toMatch(/^sha256:[0-9a-f]{20}$/);

  const batchChanged = route('batch', {
    rules: [{ name: 'r', strategy: 'least-cost', backendRefs: [{ name: 'c' }] }],
  });
  const after = routeVersions(compileRoutingTable([chat, batchChanged], [a, b, c]));
  expect(after.get('default/chat')).toBe(before.get('default/chat'));
  expect(after.get('default/batch')).not.toBe(before.get('default/batch'));

  const cChanged = backend('c', { quality: 0.9 });
  const afterBackend = routeVersions(compileRoutingTable([chat, batch], [a, b, cChanged]));
  expect(afterBackend.get('default/chat')).toBe(before.get('default/chat'));
  expect(afterBackend.get('default/batch')).not.toBe(before.get('default/batch'));
});

test('a change to a backend the route uses is a new version of the route', () => {
  const before = routeVersions(compileRoutingTable([chat], [a, b]));
  const after = routeVersions(compileRoutingTable([chat], [a, backend('b', { quality: 0.2 })]));
  expect(after.get('default/chat')).not.toBe(before.get('default/chat'));
});

test('computed once per table object', () => {
  const table = compileRoutingTable([chat], [a, b]);
  expect(routeVersions(table)).toBe(routeVersions(table));
});
