// Renders docs/api.md, the API reference for both kinds, from the generated
// CRDs, so the reference says exactly what the API server enforces.
import type { CustomResourceDefinition, JsonSchemaNode } from './crd.js';

interface FieldRow {
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  constraints: string[];
  description: string;
}

interface CelRule {
  path: string;
  message: string;
}

function typeOf(node: JsonSchemaNode): string {
  if (node['x-kubernetes-int-or-string'] === true) return 'integer or string';
  if (node.type === 'array') return `${node.items ? typeOf(node.items) : 'any'}[]`;
  if (node.type === 'object' && typeof node.additionalProperties === 'object')
    return `map[string]${typeOf(node.additionalProperties)}`;
  return node.type ?? 'any';
}

function constraintsOf(node: JsonSchemaNode): string[] {
  const out: string[] = [];
  const enumValues = node.enum;
  if (Array.isArray(enumValues))
    out.push(`one of ${enumValues.map((v) => `\`${String(v)}\``).join(', ')}`);
  const bound = (keyword: string, label: string) => {
    const v = node[keyword];
    if (typeof v === 'number') out.push(`${label} ${v}`);
  };
  bound('minimum', '≥');
  bound('maximum', '≤');
  bound('exclusiveMinimum', '>');
  bound('exclusiveMaximum', '<');
  bound('minLength', 'length ≥');
  bound('maxLength', 'length ≤');
  bound('minItems', 'items ≥');
  bound('maxItems', 'items ≤');
  bound('maxProperties', 'entries ≤');
  if (typeof node.pattern === 'string') out.push(`pattern \`${node.pattern}\``);
  if (typeof node.format === 'string') out.push(`format ${node.format}`);
  // A list of scalars: what each item may be.
  if (node.items && node.items.type !== 'object')
    out.push(...constraintsOf(node.items).map((c) => `each ${c}`));
  return out;
}

function walk(
  node: JsonSchemaNode,
  path: string,
  required: boolean,
  rows: FieldRow[],
  rules: CelRule[],
): void {
  const validations = node['x-kubernetes-validations'];
  if (Array.isArray(validations)) {
    for (const v of validations as { message?: string; rule: string }[])
      rules.push({ path: path || '(root)', message: v.message ?? v.rule });
  }
  if (path) {
    const row: FieldRow = {
      path,
      type: typeOf(node),
      required,
      constraints: constraintsOf(node),
      description: node.description ?? '',
    };
    if (node.default !== undefined) row.default = node.default;
    rows.push(row);
  }
  const requiredNames = new Set(node.required ?? []);
  for (const [name, child] of Object.entries(node.properties ?? {}))
    walk(child, path ? `${path}.${name}` : name, requiredNames.has(name), rows, rules);
  if (node.items) {
    const itemsNode = node.items;
    const itemPath = `${path}[]`;
    const itemValidations = itemsNode['x-kubernetes-validations'];
    if (Array.isArray(itemValidations)) {
      for (const v of itemValidations as { message?: string; rule: string }[])
        rules.push({ path: itemPath, message: v.message ?? v.rule });
    }
    const itemRequired = new Set(itemsNode.required ?? []);
    for (const [name, child] of Object.entries(itemsNode.properties ?? {}))
      walk(child, `${itemPath}.${name}`, itemRequired.has(name), rows, rules);
  }
  if (typeof node.additionalProperties === 'object') {
    const valueNode = node.additionalProperties;
    const valueRequired = new Set(valueNode.required ?? []);
    for (const [name, child] of Object.entries(valueNode.properties ?? {}))
      walk(child, `${path}.<key>.${name}`, valueRequired.has(name), rows, rules);
  }
}

/** Markdown table cells may not hold raw pipes or newlines. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n+/g, ' ');
}

function kindSection(crd: CustomResourceDefinition): string[] {
  const version = crd.spec.versions[0]!;
  const root = version.schema.openAPIV3Schema;
  const { names, group } = crd.spec;
  const lines: string[] = [];
  lines.push(`## ${names.kind}`, '');
  lines.push(root.description ?? '', '');
  lines.push(
    `\`apiVersion: ${group}/${version.name}\` · plural \`${names.plural}\` · short names ${names.shortNames.map((n) => `\`${n}\``).join(', ')} · category \`${names.categories.join(', ')}\``,
    '',
  );
  lines.push('`kubectl get` columns:', '');
  lines.push('| column | from | meaning |', '| --- | --- | --- |');
  for (const c of version.additionalPrinterColumns) {
    const wide = c.priority ? ' (with `-o wide`)' : '';
    lines.push(
      `| ${cell(c.name)} | \`${cell(c.jsonPath)}\` | ${cell((c.description ?? '') + wide)} |`,
    );
  }
  lines.push('');
  for (const part of ['spec', 'status'] as const) {
    const node = root.properties?.[part];
    if (!node) continue;
    const rows: FieldRow[] = [];
    const rules: CelRule[] = [];
    walk(node, '', false, rows, rules);
    lines.push(`### ${names.kind}.${part}`, '');
    if (node.description) lines.push(node.description, '');
    lines.push('| field | type | required | default | constraints | description |');
    lines.push('| --- | --- | --- | --- | --- | --- |');
    for (const r of rows) {
      const def = r.default === undefined ? '' : `\`${JSON.stringify(r.default)}\``;
      lines.push(
        `| \`${r.path}\` | ${cell(r.type)} | ${r.required ? 'yes' : ''} | ${cell(def)} | ${cell(r.constraints.join('; '))} | ${cell(r.description)} |`,
      );
    }
    lines.push('');
    if (rules.length > 0) {
      lines.push(`Cross-field rules the API server enforces on \`${part}\`:`, '');
      for (const rule of rules) lines.push(`- \`${rule.path}\`: ${rule.message}`);
      lines.push('');
    }
  }
  return lines;
}

export function apiReferenceMarkdown(crds: CustomResourceDefinition[]): string {
  const lines = [
    '<!-- Code generated by `npm run generate` from src/api/v1alpha1; DO NOT EDIT. -->',
    '',
    '# API reference: modelroute.io/v1alpha1',
    '',
    'Generated from the zod schemas in `src/api/v1alpha1/` through the CRDs in',
    '`crds/`: what is written here is what the API server, `modelroute validate`',
    'and local mode enforce.',
    '',
  ];
  for (const crd of crds) lines.push(...kindSection(crd));
  return `${lines.join('\n').trimEnd()}\n`;
}
