// The image cache key: what the build context ships changes it, what
// .dockerignore keeps out (tests, fixtures, docs) does not.
import { afterEach, expect, test } from '@jest/globals';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { buildInputsHash, contextFiles } from './build-inputs.js';

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function tree(files: Record<string, string>): string {
  dir = mkdtempSync(join(tmpdir(), 'modelroute-build-inputs-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const SOURCE = {
  Dockerfile: 'FROM base\n',
  'package.json': '{}',
  'package-lock.json': '{}',
  'src/cli/main.ts': 'run();\n',
  'src/cli/main.test.ts': 'test();\n',
  'src/cli/__fixtures__/a.yaml': 'a: 1\n',
  'manifests/samples/chat.yaml': 'kind: ModelRoute\n',
  'docs/notes.md': '# notes\n',
};

test('the context is what the Dockerfile copies, without tests and fixtures', () => {
  expect(contextFiles(tree(SOURCE))).toEqual([
    'Dockerfile',
    'manifests/samples/chat.yaml',
    'package-lock.json',
    'package.json',
    'src/cli/main.ts',
  ]);
});

test('shipped files, the base and the recipe change the hash; tests and docs do not', () => {
  const root = tree(SOURCE);
  const before = buildInputsHash(root, 'base:1', 'r1');
  expect(buildInputsHash(root, 'base:1', 'r1')).toBe(before);
  expect(buildInputsHash(root, 'base:2', 'r1')).not.toBe(before);
  expect(buildInputsHash(root, 'base:1', 'r2')).not.toBe(before);

  writeFileSync(join(root, 'src/cli/main.test.ts'), 'test(2);\n');
  writeFileSync(join(root, 'docs/notes.md'), '# other\n');
  expect(buildInputsHash(root, 'base:1', 'r1')).toBe(before);

  for (const shipped of ['src/cli/main.ts', 'manifests/samples/chat.yaml', 'Dockerfile']) {
    writeFileSync(join(root, shipped), 'changed\n');
    const after = buildInputsHash(root, 'base:1', 'r1');
    expect(after).not.toBe(before);
  }
});

test('a file moved to another path is another input', () => {
  const root = tree(SOURCE);
  const before = buildInputsHash(root, 'b', 'r');
  rmSync(join(root, 'src/cli/main.ts'));
  writeFileSync(join(root, 'src/cli/main2.ts'), 'run();\n');
  expect(buildInputsHash(root, 'b', 'r')).not.toBe(before);
});
