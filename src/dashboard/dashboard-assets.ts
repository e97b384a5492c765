// The dashboard's static files: a fixed list (so no request path ever reaches
// the file system), read once and kept in memory with an ETag.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface DashboardAsset {
  body: Buffer;
  contentType: string;
  etag: string;
}

const HTML = 'text/html; charset=utf-8';
const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

// Beside this module in src/ and in dist/ (the build copies the folder).
const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/** Chart.js's UMD build, wherever the installed package is (its exports map does not list the file). */
function chartJsFile(): string {
  const main = createRequire(import.meta.url).resolve('chart.js');
  return join(dirname(main), 'chart.umd.min.js');
}

/** Path under /dashboard/ → where the file is and what it is. */
const FILES: ReadonlyMap<string, { file: () => string; contentType: string }> = new Map([
  ['', { file: () => join(ASSETS_DIR, 'index.html'), contentType: HTML }],
  ['index.html', { file: () => join(ASSETS_DIR, 'index.html'), contentType: HTML }],
  ['app.js', { file: () => join(ASSETS_DIR, 'app.js'), contentType: JS }],
  ['format.js', { file: () => join(ASSETS_DIR, 'format.js'), contentType: JS }],
  ['style.css', { file: () => join(ASSETS_DIR, 'style.css'), contentType: CSS }],
  ['vendor/chart.umd.min.js', { file: chartJsFile, contentType: JS }],
]);

export type AssetLookup =
  | { found: true; asset: DashboardAsset }
  | { found: false; reason: 'unknown' }
  | { found: false; reason: 'unreadable'; error: string };

/** Reads each asset on first use; a failed read is retried on the next request. */
export class DashboardAssets {
  private readonly loaded = new Map<string, Promise<DashboardAsset>>();

  async get(name: string): Promise<AssetLookup> {
    const entry = FILES.get(name);
    if (!entry) return { found: false, reason: 'unknown' };
    let pending = this.loaded.get(name);
    if (!pending) {
      pending = load(entry.file, entry.contentType);
      this.loaded.set(name, pending);
    }
    try {
      return { found: true, asset: await pending };
    } catch (err) {
      this.loaded.delete(name);
      return { found: false, reason: 'unreadable', error: (err as Error).message };
    }
  }
}

async function load(file: () => string, contentType: string): Promise<DashboardAsset> {
  const body = await readFile(file());
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, contentType, etag };
}
