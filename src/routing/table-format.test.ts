import { fromNewerWriter, randomTable } from './__fixtures__/random-table.js';
import { seededRandom } from './random.js';
import { projectOntoSchema, type JsonSchema } from './schema-projection.js';
import { TABLE_FORMAT_1_SCHEMA } from './table-format-1-schema.js';
import { chooseTableFormat, reportedTableFormats, tableInFormat } from './table-format.js';
import {
  TABLE_FORMAT_VERSION,
  parseRoutingTable,
  tableContentVersion,
  type RoutingTable,
} from './table.js';

/** Every key of `value` the schema lists at its position (a strict reader's view). */
function unknownKeys(value: unknown, schema: JsonSchema, path = ''): string[] {
  if (Array.isArray(value) && schema.items) {
    const items = schema.items;
    return value.flatMap((v, i) => unknownKeys(v, items, `${path}.${i}`));
  }
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const known = schema.properties?.[k];
    if (known) return unknownKeys(v, known, `${path}.${k}`);
    if (typeof schema.additionalProperties === 'object')
      return unknownKeys(v, schema.additionalProperties, `${path}.${k}`);
    return [`${path}.${k}`];
  });
}

describe('tolerant table parsing', () => {
  test('property: keys a proxy does not know are ignored at every level, and the rest reads as sent', () => {
    const rand = seededRandom(15);
    for (let i = 0; i < 200; i++) {
      const table = randomTable(rand);
      const sent = fromNewerWriter(table, rand);
      const parsed = parseRoutingTable(JSON.parse(JSON.stringify(sent)));
      if (!parsed.ok) throw new Error(`table ${i} refused: ${parsed.error}`);
      expect(parsed.table).toEqual({ ...table, version: sent.version });
      // What it persists is what was sent, so its version still matches on reload.
      expect(parseRoutingTable(JSON.parse(JSON.stringify(parsed.received))).ok).toBe(true);
    }
  });

  test('the version hashes the keys a proxy ignores too: changing one is tampering', () => {
    const rand = seededRandom(3);
    const sent = fromNewerWriter(randomTable(rand), rand);
    const tampered = { ...sent, futureTopLevel: 'added after hashing' };
    const result = parseRoutingTable(tampered);
    expect(!result.ok && result.error).toMatch(/does not match its content/);
  });

  test('a known field with a value the proxy cannot read is refused, naming it, with skew advice', () => {
    const table = randomTable(seededRandom(4));
    const { version: _v, ...content } = JSON.parse(JSON.stringify(table)) as RoutingTable;
    const rule = content.routes[0]!.rules[0]! as { strategy: string };
    rule.strategy = 'mind-reading';
    const result = parseRoutingTable({ ...content, version: tableContentVersion(content) });
    expect(!result.ok && result.error).toMatch(
      /routes\.0\.rules\.0\.strategy: .*if the controller is newer than this proxy, .*upgrade the proxy/,
    );
  });

  test('a missing required field is refused, naming it', () => {
    const { version: _v, ...content } = JSON.parse(
      JSON.stringify(randomTable(seededRandom(5))),
    ) as Record<string, unknown>;
    delete content.backends;
    const result = parseRoutingTable({ ...content, version: tableContentVersion(content) });
    expect(!result.ok && result.error).toMatch(/invalid routing table: backends: /);
  });

  test('a format 1 table (0.1.0 controller, or a table 0.1.0 persisted) still loads', () => {
    const one = tableInFormat(randomTable(seededRandom(6)), 1);
    if (!one.ok) throw new Error(one.error);
    const parsed = parseRoutingTable(JSON.parse(JSON.stringify(one.table)));
    expect(parsed.ok && parsed.table.formatVersion).toBe(1);
  });
});

describe('table formats', () => {
  test('a proxy reporting nothing is 0.1.0 and gets format 1; otherwise the newest both read', () => {
    expect(chooseTableFormat(undefined)).toEqual({ ok: true, format: 1 });
    expect(chooseTableFormat([1, 2])).toEqual({ ok: true, format: TABLE_FORMAT_VERSION });
    expect(chooseTableFormat([1])).toEqual({ ok: true, format: 1 });
    expect(chooseTableFormat([2, 3])).toEqual({ ok: true, format: 2 });
    const ahead = chooseTableFormat([3]);
    expect(!ahead.ok && ahead.error).toMatch(
      /reads table formats 3 and this controller writes 1, 2: .*upgrade the controller/,
    );
  });

  test('what a proxy reports is read from its answers; a malformed report counts as none', () => {
    expect(reportedTableFormats({ version: 'v', tableFormats: [1, 2] })).toEqual([1, 2]);
    expect(reportedTableFormats({ version: 'v' })).toBeUndefined();
    expect(reportedTableFormats({ tableFormats: 'all' })).toBeUndefined();
    expect(reportedTableFormats(null)).toBeUndefined();
  });

  test('the frozen format 1 schema is closed at every level, as 0.1.0 parses', () => {
    const open: string[] = [];
    (function walk(s: JsonSchema, path: string): void {
      if (s.properties && s.additionalProperties !== false) open.push(path || '(table)');
      for (const [k, p] of Object.entries(s.properties ?? {})) walk(p, `${path}.${k}`);
      if (s.items) walk(s.items, `${path}[]`);
    })(TABLE_FORMAT_1_SCHEMA, '');
    expect(open).toEqual([]);
  });

  test('property: any table, even with fields 0.1.0 never knew, projected to format 1 is what 0.1.0 accepts', () => {
    const rand = seededRandom(1501);
    for (let i = 0; i < 200; i++) {
      const table = randomTable(rand);
      // A later controller's table: format 2 plus fields no release reads yet.
      const grown = fromNewerWriter(table, rand) as unknown as RoutingTable;
      const one = tableInFormat(grown, 1);
      if (!one.ok) throw new Error(`table ${i}: ${one.error}`);
      expect(unknownKeys(one.table, TABLE_FORMAT_1_SCHEMA)).toEqual([]);
      const strict = projectOntoSchema(one.table, TABLE_FORMAT_1_SCHEMA, { validate: true });
      expect(strict).toEqual({ ok: true, value: one.table });
      const body = one.table as Record<string, unknown>;
      const { version, ...content } = body;
      expect(body.formatVersion).toBe(1);
      expect(version).toBe(tableContentVersion(content));
      expect(one.version).toBe(version);
      // Nothing 0.1.0 reads is lost: the current reader sees the same routes, backends and tenants.
      const reread = parseRoutingTable(JSON.parse(JSON.stringify(one.table)));
      if (!reread.ok) throw new Error(reread.error);
      const { version: _a, formatVersion: _b, ...known } = reread.table;
      const { version: _c, formatVersion: _d, ...original } = withoutFieldsAfterFormat1(table);
      expect(known).toEqual(original);
    }
  });

  test('a value format 1 cannot hold is refused with the field and the fix', () => {
    const table = JSON.parse(JSON.stringify(randomTable(seededRandom(8)))) as RoutingTable;
    (table.backends[0] as { provider: string }).provider = 'bedrock';
    const one = tableInFormat(table, 1);
    expect(!one.ok && one.error).toMatch(
      /table format 1 .*0\.1\.0.*backends\.0\.provider: "bedrock" is not one of .*upgrade the proxy/,
    );
  });

  test('the current format is the table itself', () => {
    const table = randomTable(seededRandom(9));
    expect(tableInFormat(table, TABLE_FORMAT_VERSION)).toEqual({
      ok: true,
      format: TABLE_FORMAT_VERSION,
      version: table.version,
      table,
    });
  });
});

/**
 * The table as format 1 can say it: fields added since are dropped by the
 * projection (a 0.1.0 proxy prices cache writes at the input rate).
 */
function withoutFieldsAfterFormat1(table: RoutingTable): RoutingTable {
  return {
    ...table,
    backends: table.backends.map((b) => {
      const { cacheWriteInputPerMillion: _, ...pricing } = b.pricing;
      return { ...b, pricing };
    }),
  };
}
