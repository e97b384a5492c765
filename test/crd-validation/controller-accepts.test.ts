// Issue 11 class 8: whatever the API server accepts, the controller reads.
// For every field of both CRDs (walked from the generated OpenAPI schema),
// boundary values the structural schema allows — integers at the bounds or at
// int64's when unbounded, strings at maxLength in ASCII, in two-byte and in
// four-byte characters, every enum value — are sent to the real API server
// (server-side dry run); each object it accepts must pass the controller's
// own parse (the watch path, translateWatchEvent).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { modelBackends, modelRoutes } from '../../src/k8s/kinds.js';
import { translateWatchEvent } from '../../src/k8s/kube-client.js';
import type { ResourceKind } from '../../src/k8s/types.js';
import { REPO_ROOT, createNamespace, installCRDs, kubectl } from '../support/cluster.js';

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  required?: string[];
  enum?: unknown[];
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
}

type Path = (string | number)[];
/** A JSON value; `Raw` is written into the request as is (int64s beyond JavaScript's exact integers). */
class Raw {
  constructor(readonly text: string) {}
}

const INT64_MAX = '9223372036854775807';
const INT64_MIN = '-9223372036854775808';

function schemaOf(file: string): SchemaNode {
  const crd = parse(readFileSync(join(REPO_ROOT, 'crds', file), 'utf8')) as {
    spec: { versions: { schema: { openAPIV3Schema: SchemaNode } }[] };
  };
  return crd.spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
}

/** Every field below `node`, with its path (array items at index 0, map entries under key "k"). */
function* fields(node: SchemaNode, path: Path): Generator<{ path: Path; node: SchemaNode }> {
  yield { path, node };
  for (const [key, child] of Object.entries(node.properties ?? {}))
    yield* fields(child, [...path, key]);
  if (node.items) yield* fields(node.items, [...path, 0]);
  if (typeof node.additionalProperties === 'object')
    yield* fields(node.additionalProperties, [...path, 'k']);
}

/** Values at the edges of what this node allows. */
function boundaries(node: SchemaNode): unknown[] {
  if (node.enum) return node.enum;
  switch (node.type) {
    case 'integer':
      return [
        node.minimum !== undefined ? node.minimum : new Raw(INT64_MIN),
        node.maximum !== undefined ? node.maximum : new Raw(INT64_MAX),
      ];
    case 'number':
      return [node.minimum ?? -1.7e308, node.maximum ?? 1.7e308, 0.5];
    case 'boolean':
      return [true, false];
    case 'string': {
      if (node.pattern !== undefined || node.format !== undefined) return [];
      const n = node.maxLength ?? 2048;
      const out: unknown[] = ['x'.repeat(n), 'é'.repeat(n), '😀'.repeat(n)];
      if (node.minLength === undefined) out.push('');
      return out;
    }
    default:
      return [];
  }
}

/** Some value the node allows, to create parents a case needs. */
function sample(node: SchemaNode): unknown {
  if (node.enum) return node.enum[0];
  switch (node.type) {
    case 'integer':
    case 'number':
      return node.minimum ?? 1;
    case 'boolean':
      return true;
    case 'string':
      return 'a'.repeat(Math.max(1, node.minLength ?? 1));
    case 'array':
      return node.minItems ? [sample(node.items ?? {})] : [];
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const key of node.required ?? []) o[key] = sample(node.properties?.[key] ?? {});
      return o;
    }
    default:
      return undefined;
  }
}

function childSchema(node: SchemaNode, key: string | number): SchemaNode {
  if (typeof key === 'number') return node.items ?? {};
  return (
    node.properties?.[key] ??
    (typeof node.additionalProperties === 'object' ? node.additionalProperties : {})
  );
}

/** `base` with `value` at `path` (parents created from samples when absent). */
function withValue(base: unknown, schema: SchemaNode, path: Path, value: unknown): unknown {
  const root = structuredClone(base) as Record<string | number, unknown>;
  let at: Record<string | number, unknown> = root;
  let node = schema;
  for (const [i, key] of path.entries()) {
    const child = childSchema(node, key);
    if (i === path.length - 1) {
      at[key] = value;
      break;
    }
    if (at[key] === undefined || at[key] === null)
      at[key] = child.type === 'array' ? [] : sample(child);
    if (Array.isArray(at[key]) && (at[key] as unknown[]).length === 0)
      (at[key] as unknown[]).push(sample(child.items ?? {}));
    at = at[key] as Record<string | number, unknown>;
    node = child;
  }
  return root;
}

function toJson(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Raw) {
      raws.push(v.text);
      return `@@raw${raws.length - 1}@@`;
    }
    return v;
  });
  return text.replace(/"@@raw(\d+)@@"/g, (_m, i: string) => raws[Number(i)]!);
}

/** kubectl prints one JSON document per object, back to back. */
function jsonStream(text: string): unknown[] {
  const out: unknown[] = [];
  let depth = 0;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{') {
      if (depth++ === 0) start = i;
    } else if (ch === '}' && --depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
  }
  return out;
}

interface Case {
  name: string;
  field: string;
  value: string;
  object: unknown;
}

function casesFor(kind: 'ModelRoute' | 'ModelBackend', schemaFile: string): Case[] {
  const schema = schemaOf(schemaFile);
  const docs = parseAllDocuments(
    readFileSync(
      join(
        REPO_ROOT,
        'test',
        'crd-validation',
        'valid',
        `${kind === 'ModelRoute' ? 'routes' : 'backends'}.yaml`,
      ),
      'utf8',
    ),
  ).map((d) => d.toJS() as { metadata: { name: string }; spec: unknown });
  const cases: Case[] = [];
  for (const { path, node } of fields(schema, [])) {
    for (const value of boundaries(node)) {
      // Each field against every valid example, so cross-field rules meet values they accept.
      for (const base of docs) {
        const name = `${kind === 'ModelRoute' ? 'r' : 'b'}${cases.length}`;
        cases.push({
          name,
          field: `spec.${path.join('.')}`,
          value: value instanceof Raw ? value.text : JSON.stringify(value).slice(0, 40),
          object: { ...base, metadata: { name }, spec: withValue(base.spec, schema, path, value) },
        });
      }
    }
  }
  return cases;
}

let namespace: string;
beforeAll(() => {
  installCRDs();
  namespace = createNamespace('controller-accepts');
});

describe.each([
  ['ModelRoute', 'modelroute.io_modelroutes.yaml', modelRoutes],
  ['ModelBackend', 'modelroute.io_modelbackends.yaml', modelBackends],
] as const)('%s', (kind, file, resource) => {
  test('every boundary value the API server stores, the controller reads', () => {
    const cases = casesFor(kind, file);
    const accepted: Case[] = [];
    const refused: string[] = [];
    // One kubectl per batch: a dry run stores nothing, each object is judged alone.
    for (let i = 0; i < cases.length; i += 200) {
      const batch = cases.slice(i, i + 200);
      const r = kubectl(
        ['create', '--dry-run=server', '-n', namespace, '-o', 'json', '-f', '-'],
        batch.map((c) => toJson(c.object)).join('\n'),
      );
      for (const item of jsonStream(r.stdout)) {
        const name = (item as { metadata: { name: string } }).metadata.name;
        const c = batch.find((x) => x.name === name)!;
        accepted.push(c);
        const step = translateWatchEvent(resource as ResourceKind<unknown>, 'ADDED', item);
        if (step.invalid) refused.push(`${c.field} = ${c.value}: ${step.invalid.message}`);
      }
    }
    // The generator must reach most fields, or the check says little.
    expect(accepted.length).toBeGreaterThan(kind === 'ModelRoute' ? 150 : 100);
    expect([...new Set(refused)]).toEqual([]);
  }, 300_000);
});
