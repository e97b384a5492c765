import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DifficultyModelError,
  SHIPPED_MODEL_URL,
  type DifficultyModelFile,
} from '../routing/difficulty/learned/index.js';
import { shippedModelVariant } from '../routing/difficulty/learned/__fixtures__/model-variant.js';
import { scoreDifficulty as heuristic } from '../routing/difficulty/heuristic.js';
import {
  initialDifficultyRouter,
  watchDifficultyModelFile,
  type DifficultyModelInfo,
} from './difficulty-router.js';

const shipped = JSON.parse(readFileSync(SHIPPED_MODEL_URL, 'utf8')) as DifficultyModelFile;
const PROMPT = 'Prove that there are infinitely many primes.';

const variant = shippedModelVariant;

/** Replaced the way a ConfigMap or a careful deploy does it: a new file renamed over the old. */
function replaceFile(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content);
  renameSync(`${file}.tmp`, file);
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(check()).toBe(true);
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'modelroute-difficulty-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('the router a proxy starts with', () => {
  test('the shipped model by default', () => {
    const router = initialDifficultyRouter({ onShippedRefused: () => {} });
    expect(router.model).toEqual({
      name: 'difficulty-v2.1',
      checksum: shipped.checksum,
      source: 'shipped',
    });
  });

  test('a given file instead, named as its source', () => {
    const file = join(dir, 'm.json');
    writeFileSync(file, variant('ours-v2', 1));
    const router = initialDifficultyRouter({ file, onShippedRefused: () => {} });
    expect(router.model).toMatchObject({ name: 'ours-v2', source: file });
  });

  test('a refused file stops the start with the reason', () => {
    const file = join(dir, 'm.json');
    writeFileSync(file, variant('ours-v2', 1).replace('"bias":', '"bias": 1, "extra":'));
    expect(() => initialDifficultyRouter({ file, onShippedRefused: () => {} })).toThrow(
      DifficultyModelError,
    );
    expect(() =>
      initialDifficultyRouter({ file: join(dir, 'missing.json'), onShippedRefused: () => {} }),
    ).toThrow(/missing\.json: cannot read the difficulty model/);
  });

  test('if the shipped file itself is refused, the heuristic scores and the reason is reported', () => {
    const refused: string[] = [];
    const router = initialDifficultyRouter({
      onShippedRefused: (e) => refused.push(e),
      loadShipped: () => {
        throw new DifficultyModelError('model-v2.json: checksum mismatch');
      },
    });
    expect(refused).toEqual(['model-v2.json: checksum mismatch']);
    expect(router.model).toEqual({ name: 'heuristic', checksum: null, source: 'heuristic' });
    expect(router.score(PROMPT)).toBe(heuristic(PROMPT));
  });
});

describe('a watched model file', () => {
  test('a valid change replaces the model; a corrupt one or a missing file keeps it', async () => {
    const file = join(dir, 'm.json');
    writeFileSync(file, variant('ours-v1', 0));
    const router = initialDifficultyRouter({ file, onShippedRefused: () => {} });
    const before = router.score(PROMPT);
    const loaded: DifficultyModelInfo[] = [];
    const refused: string[] = [];
    const stop = watchDifficultyModelFile(router, {
      file,
      intervalMs: 10,
      onLoaded: (m) => loaded.push(m),
      onRefused: (e) => refused.push(e),
    });
    try {
      // fs.watchFile takes its baseline with an asynchronous first stat: a
      // replacement before it is the baseline, never a change. The shipped
      // model is small since v2 (4 KB), so the race shows; let the first poll run.
      await new Promise((r) => setTimeout(r, 100));
      replaceFile(file, variant('ours-v2', 3));
      await until(() => loaded.length === 1);
      expect(loaded[0]).toMatchObject({ name: 'ours-v2', source: file });
      expect(router.model.name).toBe('ours-v2');
      const after = router.score(PROMPT);
      expect(after).not.toBe(before);

      // Truncated mid-copy: refused, and ours-v2 keeps scoring exactly as before.
      replaceFile(file, variant('ours-v3', 5).slice(0, 1000));
      await until(() => refused.length === 1);
      expect(refused[0]).toMatch(/m\.json: not valid JSON .*; still scoring with ours-v2$/);
      expect(router.model.name).toBe('ours-v2');
      expect(router.score(PROMPT)).toBe(after);

      rmSync(file);
      await until(() => refused.length === 2);
      expect(refused[1]).toBe(`${file}: the file is gone; still scoring with ours-v2`);
      expect(router.model.name).toBe('ours-v2');
    } finally {
      stop();
    }
    expect(loaded).toHaveLength(1);
  });
});
