// `modelroute keys create --file keys.yaml`: local mode keeps its keys in a
// YAML file that `modelroute dev -f` reads, so the key document is appended
// there instead of created in a cluster. Only the hash goes to the file.
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { parseAllDocuments, stringify } from 'yaml';
import type { ModelAPIKey } from '../api/v1alpha1/index.js';

export type AppendResult =
  | {
      ok: true;
      /** Whether the file also holds the key's ModelTenant (else it must come from another -f file). */
      tenantInFile: boolean;
    }
  | { ok: false; message: string };

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

interface FileObjects {
  /** `namespace/name` of every ModelAPIKey and ModelTenant in the documents (Lists included). */
  keys: Set<string>;
  tenants: Set<string>;
}

function objectsIn(text: string, file: string): FileObjects | string {
  const found: FileObjects = { keys: new Set(), tenants: new Set() };
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) {
      return `${file} is not valid YAML (${doc.errors[0]?.message.split('\n')[0] ?? ''}); fix it or use another --file`;
    }
    const value: unknown = doc.toJS();
    const objects = isRecord(value) && Array.isArray(value.items) ? value.items : [value];
    for (const o of objects as unknown[]) {
      if (!isRecord(o) || !isRecord(o.metadata)) continue;
      const ns = typeof o.metadata.namespace === 'string' ? o.metadata.namespace : 'default';
      const id = `${ns}/${String(o.metadata.name)}`;
      if (o.kind === 'ModelAPIKey') found.keys.add(id);
      if (o.kind === 'ModelTenant') found.tenants.add(id);
    }
  }
  return found;
}

/** Appends the key as a new YAML document; refuses a key of the same name already in the file. */
export function appendKeyToFile(file: string, key: ModelAPIKey): AppendResult {
  const ns = key.metadata.namespace ?? 'default';
  let existing = '';
  let tenantInFile = false;
  if (existsSync(file)) {
    try {
      existing = readFileSync(file, 'utf8');
    } catch (err) {
      return { ok: false, message: `cannot read ${file}: ${(err as Error).message}` };
    }
    const found = objectsIn(existing, file);
    if (typeof found === 'string') return { ok: false, message: found };
    tenantInFile = found.tenants.has(`${ns}/${key.spec.tenant}`);
    if (found.keys.has(`${ns}/${key.metadata.name}`)) {
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
  return { ok: true, tenantInFile };
}
