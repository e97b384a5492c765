// Every benchmark that needs no API server, run in quick mode: it exits 0 and
// prints a JSON object with its documented keys (never a figure checked). The
// ones that need the API server run in test/controller/bench-controller.test.ts.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../support/cluster.js';
import {
  QUICK_BENCHMARKS,
  QUICK_OK,
  firstJsonObject,
  quickOutcome,
  runQuickOnce,
  type QuickBenchmark,
} from '../support/quick-benchmarks.js';

/** The proxy bench starts three processes and warms up: ~20 s alone, minutes on a loaded 2-core machine. */
const RUN_TIMEOUT_MS = 180_000;

/**
 * What a command runs, as QUICK_BENCHMARKS names it: the module (built
 * dist/x.js read as src/x.ts) and, for the CLI, its `bench <target>`.
 */
function invocationKey(words: readonly string[]): string {
  const positional = words.filter(
    (w, i) => !w.startsWith('-') && !w.startsWith('$(') && words[i - 1] !== '--import',
  );
  const module = (positional[0] ?? '').replace(/^dist\/(.*)\.js$/, 'src/$1.ts');
  return module === 'src/cli/main.ts' ? [module, ...positional.slice(1, 3)].join(' ') : module;
}

/** `node ...` invocations in a shell command line, and the npm scripts it runs. */
function parseCommand(line: string): { node: string[]; npm: string[] } {
  const node: string[] = [];
  const npm: string[] = [];
  for (const part of line.split(/&&|;/)) {
    const words = part.trim().split(/\s+/);
    if (words[0] === 'node') node.push(invocationKey(words.slice(1)));
    if (words[0] === 'npm' && words[1] === 'run' && words[2]) npm.push(words[2]);
  }
  return { node, npm };
}

function makeBenchRecipe(): string[] {
  const lines = readFileSync(join(REPO_ROOT, 'Makefile'), 'utf8').split('\n');
  const start = lines.findIndex((l) => /^bench:/.test(l));
  if (start < 0) throw new Error('the Makefile has no bench target');
  const recipe: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (!l.startsWith('\t')) break;
    recipe.push(l.trim());
  }
  return recipe;
}

test('the inventory reads what npm scripts and make recipes run', () => {
  expect(
    parseCommand(
      'npm run testenv -- up && npm run build && node dist/cli/main.js bench controller --json',
    ),
  ).toEqual({ node: ['src/cli/main.ts bench controller'], npm: ['testenv', 'build'] });
  expect(
    parseCommand('node --import tsx bench/router-latency.ts && node --import tsx bench/x.ts'),
  ).toEqual({ node: ['bench/router-latency.ts', 'bench/x.ts'], npm: [] });
  expect(parseCommand('node dist/cli/main.js bench proxy --json $(BENCH_FLAGS)').node).toEqual([
    'src/cli/main.ts bench proxy',
  ]);
  expect(parseCommand('npm run bench:routing -- $(BENCH_FLAGS)').npm).toEqual(['bench:routing']);
});

test('every benchmark that npm or make runs has a quick run in CI', () => {
  const scripts = (
    JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts;
  const covered = new Set(QUICK_BENCHMARKS.map((b) => invocationKey(b.run)));
  const uncovered: string[] = [];
  const commands = [
    ...Object.entries(scripts)
      .filter(([name]) => name.startsWith('bench:'))
      .map(([name, line]) => ({ where: `npm script ${name}`, line })),
    ...makeBenchRecipe().map((line) => ({ where: 'make bench', line })),
  ];
  for (const { where, line } of commands) {
    const { node, npm } = parseCommand(line);
    for (const key of node) if (!covered.has(key)) uncovered.push(`${where}: ${key}`);
    for (const script of npm)
      if (!(script in scripts)) uncovered.push(`${where}: npm run ${script} (no such script)`);
  }
  expect(uncovered).toEqual([]);
  // The parser found the benchmarks at all (an empty inventory proves nothing).
  expect(commands.length).toBeGreaterThanOrEqual(5);
});

describe.each(QUICK_BENCHMARKS.filter((b) => !b.apiServer).map((b) => [b.name, b] as const))(
  '%s --quick',
  (_name, bench) => {
    test(
      'exits 0 and prints a JSON object with the expected keys',
      async () => {
        const run = await runQuickOnce(bench);
        expect(quickOutcome(bench, run)).toEqual(QUICK_OK);
      },
      RUN_TIMEOUT_MS,
    );
  },
);

test(
  'the proxy bench skips only the peer it cannot run, saying why',
  async () => {
    // It asks for the peer; installed here or not, the result says what happened to it.
    const bench = QUICK_BENCHMARKS.find(
      (b) => b.name === 'modelroute bench proxy',
    ) as QuickBenchmark;
    const run = await runQuickOnce(bench);
    expect(run.code).toBe(0);
    const result = firstJsonObject(run.stdout) as { peer?: { skipped?: string; p50_ms?: number } };
    if (result.peer?.skipped !== undefined) {
      expect(result.peer.skipped).toMatch(/not installed|did not start|failed/);
      expect(run.stderr).toContain('peer skipped:');
    } else expect(result.peer?.p50_ms).toEqual(expect.any(Number));
  },
  RUN_TIMEOUT_MS,
);
