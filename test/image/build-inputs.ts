// The inputs of an image build, hashed: the Dockerfile and the files its build
// context admits (the same set .dockerignore lets in: package files, tsconfig,
// src/ without tests and fixtures, manifests/samples/), plus the base's ref.
// An image whose label carries the same hash is the image this build would make.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const TOP_FILES = [
  'Dockerfile',
  '.dockerignore',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
];
const TREES = ['src', join('manifests', 'samples')];

function shipped(name: string): boolean {
  return !name.endsWith('.test.ts') && name !== '__fixtures__';
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!shipped(entry.name)) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile()) out.push(path);
  }
}

/** The context files an image build reads, relative to sourceDir, sorted. */
export function contextFiles(sourceDir: string): string[] {
  const files = TOP_FILES.map((name) => join(sourceDir, name)).filter((path) => existsSync(path));
  for (const tree of TREES) {
    if (existsSync(join(sourceDir, tree))) walk(join(sourceDir, tree), files);
  }
  return files.map((path) => relative(sourceDir, path)).sort();
}

export function buildInputsHash(sourceDir: string, baseRef: string, recipe: string): string {
  const hash = createHash('sha256').update(`${baseRef}\n${recipe}\n`);
  for (const file of contextFiles(sourceDir)) {
    const bytes = readFileSync(join(sourceDir, file));
    // Path and length first: no two different trees feed the hash the same bytes.
    hash.update(`${file}\0${String(bytes.length)}\0`).update(bytes);
  }
  return hash.digest('hex').slice(0, 16);
}
