// Writes generated files, or with `--check` compares them and exits 1 on drift
// (CI). Used by hack/generate.ts and hack/render-install.ts.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function writeOrCheckGenerated(
  root: string,
  outputs: Record<string, string>,
  options: { check: boolean; stale?: string[]; upToDate: string },
): void {
  const drifted: string[] = [];
  for (const path of options.stale ?? []) {
    if (options.check) drifted.push(path);
    else {
      rmSync(join(root, path));
      console.log(`removed ${path}`);
    }
  }
  for (const [path, content] of Object.entries(outputs)) {
    const file = join(root, path);
    if (!options.check) {
      writeFileSync(file, content);
      console.log(`wrote ${path}`);
    } else if (!existsSync(file) || readFileSync(file, 'utf8') !== content) drifted.push(path);
  }
  if (drifted.length > 0) {
    console.error(
      `generated files are out of date: ${drifted.join(', ')}\nrun \`npm run generate\` and commit the result`,
    );
    process.exit(1);
  }
  if (options.check) console.log(options.upToDate);
}
