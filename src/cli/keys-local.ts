// `modelroute keys create --file keys.yaml`: local mode keeps its keys in a
// YAML file that `modelroute dev -f` reads, so the key document is appended
// there instead of created in a cluster. Only the hash goes to the file.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import type { ModelAPIKey } from '../api/v1alpha1/index.js';

export type AppendResult = { ok: true } | { ok: false; message: string };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** The `namespace/name` of every ModelAPIKey in the file's documents (Lists included). */
function keysIn(text: string, file: string): Set<string> | string {
  const ids = new Set<string>();
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      return `${file} is not valid YAML (${doc.errors[0]?.message.split('\n')[0] ?? ''}); fix it or use another --file`;
    }
    const value: unknown = doc.toJS();
    const objects = isRecord(value) && Array.isArray(value.items) ? value.items : [value];
    for (const o of objects as unknown[]) {
      if (!isRecord(o) || o.kind !== 'ModelAPIKey' || !isRecord(o.metadata)) continue;
      const ns = typeof o.metadata.namespace === 'string' ? o.metadata.namespace : 'default';
      ids.add(`${ns}/${String(o.metadata.name)}`);
    }
  }
  return ids;
}

/** Appends the key as a new YAML document; refuses a key of the same name already in the file. */
export function appendKeyToFile(file: string, key: ModelAPIKey): AppendResult {
  const ns = key.metadata.namespace ?? 'default';
  let existing = '';
  if (existsSync(file)) {
    try {
      existing = readFileSync(file, 'utf8');
    } catch (err) {
      return { ok: false, message: `cannot read ${file}: ${(err as Error).message}` };
    }
    const ids = keysIn(existing, file);
    if (typeof ids === 'string') return { ok: false, message: ids };
    if (ids.has(`${ns}/${key.metadata.name}`)) {
      return {
        ok: false,
        message: `${file} already has ModelAPIKey ${ns}/${key.metadata.name}; pick another name, or delete that document to replace the key`,
      };
    }
  }
  const separator = existing.trim() === '' ? '' : `${existing.endsWith('\n') ? '' : '\n'}---\n`;
  try {
    appendFileSync(file, separator + stringify(key));
  } catch (err) {
    return { ok: false, message: `cannot write ${file}: ${(err as Error).message}` };
  }
  return { ok: true };
}
