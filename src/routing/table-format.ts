// Which table format each proxy is sent, and the table in that format. A
// proxy reports the formats it reads (`tableFormats` in its acknowledgements,
// stats and readiness); one that reports nothing is 0.1.0, which reads format
// 1 strictly, so it gets the table projected onto format 1's frozen schema.
import { z } from 'zod';
import { projectOntoSchema } from './schema-projection.js';
import { TABLE_FORMAT_1_SCHEMA } from './table-format-1-schema.js';
import {
  READABLE_TABLE_FORMATS,
  TABLE_FORMAT_VERSION,
  tableContentVersion,
  type RoutingTable,
  type TableFormat,
} from './table.js';

/** The formats this controller can write, oldest first. */
export const WRITABLE_TABLE_FORMATS: readonly TableFormat[] = READABLE_TABLE_FORMATS;

/** What a proxy reports in `tableFormats`; a bound, so a confused proxy cannot send a huge list. */
export const tableFormatsReport = z.array(z.int().min(1)).max(32);

/** The formats a proxy's admin answer reports; undefined when it reports none (0.1.0). */
export function reportedTableFormats(body: unknown): readonly number[] | undefined {
  if (typeof body !== 'object' || body === null || !('tableFormats' in body)) return undefined;
  const parsed = tableFormatsReport.safeParse(body.tableFormats);
  return parsed.success ? parsed.data : undefined;
}

/** The release whose proxies report no formats. */
const SILENT_PROXY_RELEASE = '0.1.0';

export type FormatChoice = { ok: true; format: TableFormat } | { ok: false; error: string };

/** The newest format both sides read; format 1 for a proxy that reports none. */
export function chooseTableFormat(reported: readonly number[] | undefined): FormatChoice {
  if (reported === undefined) return { ok: true, format: 1 };
  const common = WRITABLE_TABLE_FORMATS.filter((f) => reported.includes(f));
  const newest = common[common.length - 1];
  if (newest !== undefined) return { ok: true, format: newest };
  return {
    ok: false,
    error: `the proxy reads table formats ${reported.join(', ') || '(none)'} and this controller writes ${WRITABLE_TABLE_FORMATS.join(', ')}: proxies must not be newer than their controller (docs/version-skew.md); upgrade the controller`,
  };
}

export type FormattedTable =
  { ok: true; format: TableFormat; version: string; table: object } | { ok: false; error: string };

/**
 * `table` as a proxy reading `format` must receive it. Format 1 drops every
 * key 0.1.0 does not know (at every level; the version is the hash of what is
 * left) and refuses, naming the field, a value 0.1.0 cannot read.
 */
export function tableInFormat(table: RoutingTable, format: TableFormat): FormattedTable {
  if (table.formatVersion === format) return { ok: true, format, version: table.version, table };
  if (format === TABLE_FORMAT_VERSION) {
    // Format 1's fields are format 2's: only the number changes.
    const { version: _old, ...content } = table;
    const upgraded = { ...content, formatVersion: format };
    const version = tableContentVersion(upgraded);
    return { ok: true, format, version, table: { ...upgraded, version } };
  }
  const { version: _version, ...content } = table;
  const stripped = projectOntoSchema({ ...content, formatVersion: 1 }, TABLE_FORMAT_1_SCHEMA, {
    validate: false,
  });
  const kept = stripped.ok ? (stripped.value as Record<string, unknown>) : {};
  const version = tableContentVersion(kept);
  const checked = projectOntoSchema({ ...kept, version }, TABLE_FORMAT_1_SCHEMA, {
    validate: true,
  });
  if (!checked.ok)
    return {
      ok: false,
      error: `table format 1 (all that ${SILENT_PROXY_RELEASE} proxies read) cannot express this table: ${checked.errors.join('; ')}; upgrade the proxy (its pod's sidecar image) to this controller's release`,
    };
  return { ok: true, format, version, table: checked.value as object };
}
