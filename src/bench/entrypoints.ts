// Where the programs the benchmark starts live: built (dist/) when it runs built, else TypeScript via tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository (package) root: two levels above this module in both src/bench and dist/bench. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** True when this module is the compiled one; children then run compiled code too, never a mix. */
export const BUILT = import.meta.url.endsWith('.js');

/** node arguments that run a module of this package, e.g. ('cli/main') -> [.../dist/cli/main.js]. */
export function nodeArgsFor(module: string): string[] {
  if (BUILT) return [`${ROOT}dist/${module}.js`];
  const built = `${ROOT}dist/${module}.js`;
  const source = `${ROOT}src/${module}.ts`;
  // Running from source: use source so the measured code is the code being edited.
  if (existsSync(source)) return ['--import', 'tsx', source];
  return [built];
}

/** "dist" or "src (tsx)", for the report. */
export function codeOrigin(): string {
  return BUILT ? 'dist (compiled)' : 'src via tsx';
}
