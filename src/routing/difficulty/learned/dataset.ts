// Offline data for the learned difficulty router: CSV files of per-prompt
// results (a `prompt` column and one column per model) and JSONL exclusion
// lists. Used by training, evaluation and the benchmark, never by the proxy.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

/** One prompt with both models' outcomes (higher is better). */
export interface Example {
  prompt: string;
  weak: number;
  strong: number;
  /** Where the prompt came from (file name without extension); leave-groups-out splits by it. */
  group: string;
}

/**
 * Parses RFC 4180 CSV: fields separated by commas, optionally quoted with
 * `"`; inside quotes, `""` is a quote and commas and newlines are data. LF
 * and CRLF line ends. Returns rows of raw strings (header included).
 */
export function parseCsv(text: string, source = 'csv'): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte order mark
  let line = 1;
  let quoteLine = 0;
  const n = text.length;
  while (i < n) {
    const c = text[i] as string;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
      i++;
      continue;
    }
    if (c === '"' && field === '') {
      quoted = true;
      quoteLine = line;
    } else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      row.push(field);
      field = '';
      rows.push(row);
      row = [];
      if (c === '\r' && text[i + 1] === '\n') i++;
      line++;
    } else {
      field += c;
    }
    i++;
  }
  if (quoted) throw new Error(`${source}:${quoteLine}: a quoted field is never closed`);
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ''));
}

/** True/False (any case), yes/no, or a number; higher is better. */
export function parseOutcome(value: string, where: string): number {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === 'yes') return 1;
  if (v === 'false' || v === 'no') return 0;
  const x = v === '' ? NaN : Number(v);
  if (!Number.isFinite(x))
    throw new Error(`${where}: "${value}" is neither True/False nor a number`);
  return x;
}

export interface CsvColumns {
  weak: string;
  strong: string;
}

/** Reads one results CSV; the group is the file name without `.csv`. */
export function examplesFromCsv(text: string, source: string, columns: CsvColumns): Example[] {
  const rows = parseCsv(text, source);
  const header = rows[0];
  if (!header) throw new Error(`${source}: empty file (expected a header row)`);
  const column = (name: string): number => {
    const index = header.indexOf(name);
    if (index < 0)
      throw new Error(
        `${source}: no column "${name}" (columns: ${header.map((h) => JSON.stringify(h)).join(', ')})`,
      );
    return index;
  };
  const p = column('prompt');
  const w = column(columns.weak);
  const s = column(columns.strong);
  const group = basename(source).replace(/\.csv$/i, '');
  const out: Example[] = [];
  for (let r = 1; r < rows.length; r++) {
    const row = rows[r] as string[];
    if (row.length !== header.length)
      throw new Error(
        `${source}: record ${r + 1} has ${row.length} fields, the header has ${header.length}`,
      );
    out.push({
      prompt: row[p] as string,
      weak: parseOutcome(row[w] as string, `${source}: record ${r + 1}, column "${columns.weak}"`),
      strong: parseOutcome(
        row[s] as string,
        `${source}: record ${r + 1}, column "${columns.strong}"`,
      ),
      group,
    });
  }
  return out;
}

/**
 * Prompts to leave out, one JSON value per line: an object with
 * `eval_prompt` (RouteLLM's contamination lists) or `prompt`, or a string.
 */
export function parseExcludeJsonl(text: string, source: string): Set<string> {
  const out = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`${source}:${i + 1}: not JSON (${(err as Error).message})`);
    }
    if (typeof value === 'string') out.add(value);
    else if (value !== null && typeof value === 'object') {
      const o = value as Record<string, unknown>;
      const prompt = o.eval_prompt ?? o.prompt;
      if (typeof prompt !== 'string')
        throw new Error(`${source}:${i + 1}: expected a string field "eval_prompt" or "prompt"`);
      out.add(prompt);
    } else throw new Error(`${source}:${i + 1}: expected an object or a string`);
  });
  return out;
}

/** Loads CSV files in the order given and drops excluded prompts. */
export function loadExamples(
  files: readonly string[],
  columns: CsvColumns,
  excludeFiles: readonly string[] = [],
): { examples: Example[]; excluded: number } {
  const exclude = new Set<string>();
  for (const f of excludeFiles)
    for (const p of parseExcludeJsonl(readFileSync(f, 'utf8'), f)) exclude.add(p);
  const examples: Example[] = [];
  let excluded = 0;
  for (const f of files) {
    for (const e of examplesFromCsv(readFileSync(f, 'utf8'), f, columns)) {
      if (exclude.has(e.prompt)) excluded++;
      else examples.push(e);
    }
  }
  return { examples, excluded };
}
