// Every valid manifest applies with the real kubectl; every invalid one is
// refused by the real API server with a message naming the offending field,
// and refused offline by the same zod schemas.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadManifests } from '../../src/api/manifest-files.js';
import {
  REPO_ROOT,
  createNamespace,
  installCRDs,
  kubectl,
  mustKubectl,
} from '../support/cluster.js';

const dir = join(REPO_ROOT, 'test', 'crd-validation');
const validFiles = readdirSync(join(dir, 'valid')).filter((f) => f.endsWith('.yaml'));
const invalidFiles = readdirSync(join(dir, 'invalid')).filter((f) => f.endsWith('.yaml'));

let namespace: string;

beforeAll(() => {
  installCRDs();
  namespace = createNamespace('crd-validation');
});

test('the invalid suite covers at least 25 distinct mistakes', () => {
  expect(invalidFiles.length).toBeGreaterThanOrEqual(25);
});

test.each(validFiles)('valid/%s applies and reads back', (file) => {
  const path = join(dir, 'valid', file);
  const applied = kubectl(['apply', '-n', namespace, '-f', path]);
  expect(applied.stderr).toBe('');
  expect(applied.code).toBe(0);
  const names = JSON.parse(mustKubectl(['get', '-n', namespace, '-f', path, '-o', 'json'])) as {
    items: unknown[];
  };
  expect(names.items.length).toBe(
    loadManifests([path]).backends.length + loadManifests([path]).routes.length,
  );
});

describe.each(invalidFiles)('invalid/%s', (file) => {
  const path = join(dir, 'invalid', file);
  const expectations = [...readFileSync(path, 'utf8').matchAll(/^# expect: (.+)$/gm)].map(
    (m) => m[1] as string,
  );

  test('states what the API server must say', () => {
    expect(expectations.length).toBeGreaterThan(0);
  });

  test('is refused by the API server, naming the field', () => {
    const applied = kubectl(['apply', '-n', namespace, '-f', path]);
    expect(applied.code).not.toBe(0);
    for (const expected of expectations) expect(applied.stderr).toContain(expected);
    // And nothing was stored.
    expect(kubectl(['get', '-n', namespace, '-f', path]).code).not.toBe(0);
  });

  test('is refused offline by the same schemas', () => {
    expect(loadManifests([path]).errors).not.toEqual([]);
  });
});
