import { requestIdGenerator } from './request-id.js';

test('request ids are 22 base64url characters and do not repeat across pool refills', () => {
  const next = requestIdGenerator();
  const ids = Array.from({ length: 1_000 }, next);
  for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect(new Set(ids).size).toBe(ids.length);
});
