// Reading what report-loaded-packages.js (a --import preload) printed at exit.
import { join } from 'node:path';
import { REPO_ROOT } from './cluster.js';

/** Pass as `--import LOADED_PACKAGES_PRELOAD` before the script. */
export const LOADED_PACKAGES_PRELOAD = join(REPO_ROOT, 'test/support/report-loaded-packages.js');

/** The packages in the process's `loaded-packages [...]` line. */
export function loadedPackagesIn(output: readonly string[]): string[] {
  const report = output.find((l) => l.startsWith('loaded-packages '));
  if (!report) throw new Error(`no loaded-packages line:\n${output.join('\n')}`);
  return JSON.parse(report.slice('loaded-packages '.length)) as string[];
}
