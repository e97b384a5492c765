// Reads ModelRoute/ModelBackend manifests from YAML files, validating each
// object with the API schemas and locating every error by file and line.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { LineCounter, parseAllDocuments, type Document } from 'yaml';
import type { z } from 'zod';
import {
  GROUP,
  modelAPIKey,
  modelBackend,
  modelBackendGrant,
  modelRoute,
  modelTenant,
  type ModelAPIKey,
  type ModelBackend,
  type ModelBackendGrant,
  type ModelRoute,
  type ModelTenant,
} from './v1alpha1/index.js';

import { checkIdentityReferences } from './identity-references.js';

/** Every kind a manifest file may hold for modelroute, with the schema it is checked against. */
const KINDS = {
  ModelRoute: modelRoute,
  ModelBackend: modelBackend,
  ModelTenant: modelTenant,
  ModelAPIKey: modelAPIKey,
  ModelBackendGrant: modelBackendGrant,
} as const;
type KnownKind = keyof typeof KINDS;
const isKnownKind = (kind: string): kind is KnownKind => Object.hasOwn(KINDS, kind);

export type ManifestObject =
  ModelRoute | ModelBackend | ModelTenant | ModelAPIKey | ModelBackendGrant;

export interface ManifestError {
  file: string;
  line?: number | undefined;
  /** `Kind namespace/name`, when the object got far enough to have one. */
  object?: string | undefined;
  /** Field path such as `spec.rules[0].backendRefs[1].weight`. */
  path?: string | undefined;
  message: string;
}

export interface ObjectSource {
  file: string;
  doc: Document;
  lineCounter: LineCounter;
  /** Path prefix inside the document (for items of a List). */
  prefix: (string | number)[];
}

export interface LoadedManifests {
  routes: ModelRoute[];
  backends: ModelBackend[];
  tenants: ModelTenant[];
  apiKeys: ModelAPIKey[];
  grants: ModelBackendGrant[];
  /** Objects of other kinds (Secrets, Namespaces, ...) that were passed over. */
  ignored: { file: string; kind: string; name: string }[];
  errors: ManifestError[];
  files: string[];
  /** Where each loaded object came from, to place later (cross-object) errors. */
  sources: Map<ManifestObject, ObjectSource>;
}

/** `file:line: Kind ns/name: field.path: message`, the form every error is printed in. */
export function formatManifestError(e: ManifestError): string {
  const where = e.line !== undefined ? `${e.file}:${e.line}` : e.file;
  const what = [e.object, e.path].filter((s) => s !== undefined && s !== '').join(': ');
  return `${where}: ${what ? `${what}: ` : ''}${e.message}`;
}

/** Loads manifests and adds the cross-object problems, each placed at its file and line. */
export function loadAndCheckManifests(
  paths: readonly string[],
  checkSemantics: (
    routes: ModelRoute[],
    backends: ModelBackend[],
    grants: ModelBackendGrant[],
  ) => {
    code: string;
    object: { kind: string; namespace: string; name: string };
    path: string;
    message: string;
  }[],
): LoadedManifests {
  const loaded = loadManifests(paths);
  for (const problem of [
    ...checkSemantics(loaded.routes, loaded.backends, loaded.grants),
    ...checkIdentityReferences(loaded),
  ]) {
    const obj = [...loaded.sources.keys()].find(
      (o) =>
        o.kind === problem.object.kind &&
        o.metadata.name === problem.object.name &&
        (o.metadata.namespace ?? 'default') === problem.object.namespace,
    );
    const source = obj ? loaded.sources.get(obj) : undefined;
    loaded.errors.push({
      file: source?.file ?? '(unknown file)',
      line: source ? lineOf(source, parsePath(problem.path)) : undefined,
      object: `${problem.object.kind} ${problem.object.namespace}/${problem.object.name}`,
      path: problem.path,
      message: `${problem.message} [${problem.code}]`,
    });
  }
  return loaded;
}

export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

export function parsePath(path: string): (string | number)[] {
  const parts: (string | number)[] = [];
  for (const [, name, index] of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (index !== undefined) parts.push(Number(index));
    else if (name !== undefined) parts.push(name);
  }
  return parts;
}

/** The line of the deepest node along `path` that exists in the document. */
export function lineOf(
  source: ObjectSource,
  path: readonly (string | number)[],
): number | undefined {
  const full = [...source.prefix, ...path];
  for (let n = full.length; n >= 0; n--) {
    const node = source.doc.getIn(full.slice(0, n), true) as
      { range?: [number, number, number] } | undefined;
    if (node?.range) return source.lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

/** Expands files and directories into the YAML files they hold, sorted. */
export function manifestFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const visit = (path: string): void => {
    const st = statSync(path);
    if (st.isDirectory()) {
      for (const entry of readdirSync(path).sort()) visit(join(path, entry));
    } else if (['.yaml', '.yml', '.json'].includes(extname(path))) {
      out.push(path);
    }
  };
  for (const path of paths) {
    try {
      visit(path);
    } catch (err) {
      throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
  return out;
}

function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  let message = issue.message;
  if (issue.code === 'unrecognized_keys') {
    message += '; check the spelling (`kubectl explain` or docs list the fields)';
  } else if (issue.code === 'invalid_type' && value === undefined) {
    message = 'required field is missing';
  } else if (
    value !== undefined &&
    issue.code !== 'custom' &&
    (typeof value !== 'object' || value === null)
  ) {
    message += ` (got ${JSON.stringify(value)})`;
  }
  return message;
}

function valueAt(obj: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = obj;
  for (const part of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[part];
  }
  return current;
}

function objectLabel(raw: Record<string, unknown>): string {
  const meta = (raw.metadata ?? {}) as { name?: unknown; namespace?: unknown };
  const name = typeof meta.name === 'string' ? meta.name : '(unnamed)';
  const ns = typeof meta.namespace === 'string' ? meta.namespace : 'default';
  return `${String(raw.kind)} ${ns}/${name}`;
}

export function loadManifests(paths: readonly string[]): LoadedManifests {
  const result: LoadedManifests = {
    routes: [],
    backends: [],
    tenants: [],
    apiKeys: [],
    grants: [],
    ignored: [],
    errors: [],
    files: manifestFiles(paths),
    sources: new Map(),
  };
  for (const file of result.files) {
    const lineCounter = new LineCounter();
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      result.errors.push({ file, message: `cannot read file: ${(err as Error).message}` });
      continue;
    }
    for (const doc of parseAllDocuments(text, { lineCounter })) {
      if (doc.errors.length > 0) {
        for (const e of doc.errors) {
          result.errors.push({
            file,
            line: lineCounter.linePos(e.pos[0]).line,
            message: `YAML: ${e.message.split('\n')[0] ?? ''}`,
          });
        }
        continue;
      }
      const raw: unknown = doc.toJS();
      if (raw === null || raw === undefined) continue;
      const items = isList(raw)
        ? raw.items.map((item, i) => ({ item, prefix: ['items', i] }))
        : [{ item: raw, prefix: [] }];
      for (const { item, prefix } of items) {
        addObject(result, item, { file, doc, lineCounter, prefix });
      }
    }
  }
  result.errors.sort((a, b) =>
    a.file === b.file ? (a.line ?? 0) - (b.line ?? 0) : a.file < b.file ? -1 : 1,
  );
  return result;
}

function isList(raw: unknown): raw is { items: unknown[] } {
  return (
    typeof raw === 'object' &&
    raw !== null &&
    typeof (raw as { kind?: unknown }).kind === 'string' &&
    (raw as { kind: string }).kind.endsWith('List') &&
    Array.isArray((raw as { items?: unknown }).items)
  );
}

function addObject(result: LoadedManifests, raw: unknown, source: ObjectSource): void {
  const { file } = source;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    result.errors.push({
      file,
      line: lineOf(source, []),
      message: 'expected a Kubernetes object (a mapping with apiVersion and kind)',
    });
    return;
  }
  const obj = raw as Record<string, unknown>;
  const apiVersion = typeof obj.apiVersion === 'string' ? obj.apiVersion : '';
  const kind = typeof obj.kind === 'string' ? obj.kind : '';
  const ours = apiVersion.startsWith(`${GROUP}/`);
  if (!ours) {
    if (isKnownKind(kind)) {
      result.errors.push({
        file,
        line: lineOf(source, ['apiVersion']),
        object: objectLabel(obj),
        path: 'apiVersion',
        message: `apiVersion must be "${GROUP}/v1alpha1" for kind ${kind}`,
      });
    } else {
      const meta = obj.metadata as { name?: unknown } | undefined;
      result.ignored.push({
        file,
        kind: kind || '(no kind)',
        name: typeof meta?.name === 'string' ? meta.name : '',
      });
    }
    return;
  }
  if (!isKnownKind(kind)) {
    result.errors.push({
      file,
      line: lineOf(source, ['kind']),
      path: 'kind',
      message: `unknown kind "${kind}" in ${apiVersion}: expected one of ${Object.keys(KINDS).join(', ')}`,
    });
    return;
  }
  const parsed = (KINDS[kind] as z.ZodType<ManifestObject>).safeParse(obj);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const path =
        issue.code === 'unrecognized_keys' ? [...issue.path, issue.keys[0] ?? ''] : issue.path;
      result.errors.push({
        file,
        line: lineOf(
          source,
          path.map((p) => (typeof p === 'symbol' ? String(p) : p)),
        ),
        object: objectLabel(obj),
        path: formatPath(path),
        message: describeIssue(issue, valueAt(obj, issue.path)),
      });
    }
    return;
  }
  const loaded = parsed.data;
  switch (loaded.kind) {
    case 'ModelRoute':
      result.routes.push(loaded);
      break;
    case 'ModelBackend':
      result.backends.push(loaded);
      break;
    case 'ModelTenant':
      result.tenants.push(loaded);
      break;
    case 'ModelAPIKey':
      result.apiKeys.push(loaded);
      break;
    case 'ModelBackendGrant':
      result.grants.push(loaded);
      break;
  }
  result.sources.set(loaded, source);
}
