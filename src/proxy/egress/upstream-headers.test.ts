import type { CompiledBackend } from '../../routing/table.js';
import { withBackendHeaders } from './upstream-headers.js';

const backend = (headers?: Record<string, string>) => ({ headers }) as unknown as CompiledBackend;

test('adds the backend headers without replacing the adapter’s', () => {
  const sent = { authorization: 'Bearer k', 'content-type': 'application/json' };
  expect(
    withBackendHeaders(backend({ 'OpenAI-Project': 'p', Authorization: 'Bearer other' }), sent),
  ).toEqual({
    authorization: 'Bearer k',
    'content-type': 'application/json',
    'OpenAI-Project': 'p',
  });
  const untouched = { a: '1' };
  expect(withBackendHeaders(backend(), untouched)).toBe(untouched);
});
