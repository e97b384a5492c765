import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { keepYoungGenerationSmall } from './proxy-heap.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** New-space size (MB) of a fresh node after churning short-lived objects, with or without the call. */
function youngGenerationAfterChurn(call: boolean, nodeOptions = ''): number {
  const script = `
    import { getHeapSpaceStatistics } from 'node:v8';
    import { keepYoungGenerationSmall } from './src/cli/proxy-heap.ts';
    if (${String(call)}) keepYoungGenerationSmall();
    let keep = [];
    for (let i = 0; i < 2e6; i++) { keep.push({ i, s: 'x' + i }); if (keep.length > 20000) keep = []; }
    const space = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    process.stdout.write(String(space.space_size / 2 ** 20));`;
  const out = execFileSync(
    process.execPath,
    ['--import', 'tsx', '--input-type=module', '-e', script],
    {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: nodeOptions },
    },
  );
  return Number(out);
}

test('the young generation stays at its starting size (1 MB per semi-space) once called', () => {
  // Without the call the same churn grows it to V8's maximum (16 MB per semi-space).
  expect(youngGenerationAfterChurn(false)).toBeGreaterThan(8);
  expect(youngGenerationAfterChurn(true)).toBeLessThanOrEqual(4);
});

test("an operator's own young-generation sizing is left alone", () => {
  expect(keepYoungGenerationSmall(['--max-semi-space-size=8'], undefined)).toBe(false);
  expect(keepYoungGenerationSmall([], '--enable-source-maps --min-semi-space-size=4')).toBe(false);
  expect(keepYoungGenerationSmall([], '--max_semi_space_size=4')).toBe(false);
  expect(youngGenerationAfterChurn(true, '--max-semi-space-size=16')).toBeGreaterThan(8);
});
