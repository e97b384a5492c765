import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { modelBackendCRD, modelRouteCRD, toStructural, type JsonSchemaNode } from './crd.js';

const root = join(import.meta.dirname, '..', '..');

/** Visits every schema node with its path. */
function walk(
  node: JsonSchemaNode,
  path: string,
  visit: (n: JsonSchemaNode, p: string) => void,
): void {
  visit(node, path);
  for (const [k, v] of Object.entries(node.properties ?? {})) walk(v, `${path}.${k}`, visit);
  if (node.items) walk(node.items, `${path}[]`, visit);
  if (node.additionalProperties && typeof node.additionalProperties === 'object')
    walk(node.additionalProperties, `${path}{}`, visit);
}

describe.each([
  ['ModelRoute', modelRouteCRD, 'mr'],
  ['ModelBackend', modelBackendCRD, 'mb'],
])('%s CRD', (kind, build, shortName) => {
  const crd = build();
  const version = crd.spec.versions[0]!;
  const schema = version.schema.openAPIV3Schema;

  test('names, short name, category and status subresource', () => {
    expect(crd.spec.names).toMatchObject({
      kind,
      shortNames: [shortName],
      categories: ['modelrouting'],
    });
    expect(crd.spec.scope).toBe('Namespaced');
    expect(version.subresources).toEqual({ status: {} });
  });

  test('is structural: every node typed, no closed objects, no combinators', () => {
    walk(schema, '', (n, p) => {
      expect({ p, type: n.type }).toEqual({ p, type: expect.any(String) });
      expect({ p, ap: n.additionalProperties }).not.toEqual({ p, ap: false });
      for (const banned of ['anyOf', 'oneOf', 'allOf', '$ref', 'nullable'])
        expect(n).not.toHaveProperty(banned);
    });
  });

  test('every spec field has a description', () => {
    walk(schema.properties!.spec!, 'spec', (n, p) => {
      if (!p.endsWith('[]') && !p.endsWith('{}'))
        expect({ p, description: n.description }).toEqual({ p, description: expect.any(String) });
    });
  });

  test('a message column at priority 1 and an Age column', () => {
    const names = version.additionalPrinterColumns.map((c) => c.name);
    expect(names).toContain('Age');
    expect(version.additionalPrinterColumns.find((c) => c.name === 'Message')?.priority).toBe(1);
  });

  test('the committed CRD file is what the generator writes', () => {
    const file = join(root, 'crds', `modelroute.io_${crd.spec.names.plural}.yaml`);
    expect(parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(JSON.stringify(crd)));
  });
});

test('ModelRoute printer columns answer the first questions', () => {
  expect(modelRouteCRD().spec.versions[0]!.additionalPrinterColumns.map((c) => c.name)).toEqual([
    'Model',
    'Ready',
    'Programmed',
    'Healthy Backends',
    'Requests/1h',
    'Cost/1h (USD)',
    'Strong',
    'Spend/Day',
    'Cost/24h (USD)',
    'Saved/30d',
    'Learned',
    'Age',
    'Message',
  ]);
});

test('ModelBackend printer columns answer the first questions', () => {
  expect(modelBackendCRD().spec.versions[0]!.additionalPrinterColumns.map((c) => c.name)).toEqual([
    'Provider',
    'Model',
    'Health',
    '$/1M In',
    '$/1M Out',
    'Age',
    'Message',
  ]);
});

test('cross-field rules reach the CRD as CEL', () => {
  const spec = modelBackendCRD().spec.versions[0]!.schema.openAPIV3Schema.properties!.spec!;
  expect(spec['x-kubernetes-validations']).toEqual(
    expect.arrayContaining([
      expect.objectContaining({ rule: 'has(self.endpoint) != has(self.serviceRef)' }),
    ]),
  );
});

test('toStructural refuses an untyped node rather than emit an invalid CRD', () => {
  expect(() => toStructural({ properties: { x: {} } })).toThrow(/without a type/);
});
