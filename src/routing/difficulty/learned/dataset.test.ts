import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  examplesFromCsv,
  loadExamples,
  parseCsv,
  parseExcludeJsonl,
  parseOutcome,
} from './dataset.js';

const COLUMNS = { weak: 'small', strong: 'big' };

describe('parseCsv', () => {
  test('quoted fields keep commas, newlines and doubled quotes', () => {
    const rows = parseCsv('prompt,a\n"x, y\nz ""q""",1\nplain,2\n');
    expect(rows).toEqual([
      ['prompt', 'a'],
      ['x, y\nz "q"', '1'],
      ['plain', '2'],
    ]);
  });

  test('CRLF line ends, a byte order mark, no final newline, empty fields', () => {
    expect(parseCsv('\ufeffa,b\r\n1,\r\n,2')).toEqual([
      ['a', 'b'],
      ['1', ''],
      ['', '2'],
    ]);
  });

  test('an unclosed quote is an error with its line', () => {
    expect(() => parseCsv('a\nok\n"never closed\n', 'f.csv')).toThrow(
      'f.csv:3: a quoted field is never closed',
    );
  });
});

describe('outcomes', () => {
  test.each([
    ['True', 1],
    ['false', 0],
    ['FALSE', 0],
    ['0.75', 0.75],
    [' 8 ', 8],
    ['-1', -1],
  ])('%j → %d', (text, value) => expect(parseOutcome(text, 'x')).toBe(value));

  test.each(['', 'maybe', 'NaN', '1,5'])('%j is refused', (text) =>
    expect(() => parseOutcome(text, 'f.csv: record 2')).toThrow(
      /f\.csv: record 2: .* neither True\/False nor a number/,
    ),
  );
});

describe('examplesFromCsv', () => {
  test('reads the prompt and both model columns by name; the group is the file name', () => {
    const text = 'big,prompt,small\nTrue,"What is 2+2?\nA. 3\nB. 4",False\n7.5,second,2\n';
    expect(examplesFromCsv(text, '/data/mmlu_anatomy.csv', COLUMNS)).toEqual([
      { prompt: 'What is 2+2?\nA. 3\nB. 4', weak: 0, strong: 1, group: 'mmlu_anatomy' },
      { prompt: 'second', weak: 2, strong: 7.5, group: 'mmlu_anatomy' },
    ]);
  });

  test('a missing column names the columns there are', () => {
    expect(() => examplesFromCsv('prompt,small\nx,True\n', 'f.csv', COLUMNS)).toThrow(
      'f.csv: no column "big" (columns: "prompt", "small")',
    );
  });

  test('a record with the wrong number of fields is refused', () => {
    expect(() => examplesFromCsv('prompt,small,big\nx,True\n', 'f.csv', COLUMNS)).toThrow(
      'f.csv: record 2 has 2 fields, the header has 3',
    );
  });
});

describe('exclusion lists', () => {
  test('eval_prompt or prompt fields, or bare strings; blank lines skipped', () => {
    const set = parseExcludeJsonl(
      '{"eval_prompt":"a","train_prompt":"z"}\n\n{"prompt":"b"}\n"c"\n',
      'x.jsonl',
    );
    expect([...set].sort()).toEqual(['a', 'b', 'c']);
  });

  test('a bad line is reported with its number', () => {
    expect(() => parseExcludeJsonl('{"eval_prompt":"a"}\n{oops\n', 'x.jsonl')).toThrow(
      /^x\.jsonl:2: not JSON/,
    );
    expect(() => parseExcludeJsonl('{"other":1}\n', 'x.jsonl')).toThrow(
      'x.jsonl:1: expected a string field "eval_prompt" or "prompt"',
    );
  });

  test('loadExamples drops excluded prompts and counts them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'difficulty-data-'));
    writeFileSync(join(dir, 'a.csv'), 'prompt,small,big\nkeep,True,True\n"drop, me",False,True\n');
    writeFileSync(join(dir, 'x.jsonl'), `${JSON.stringify({ eval_prompt: 'drop, me' })}\n`);
    const { examples, excluded } = loadExamples([join(dir, 'a.csv')], COLUMNS, [
      join(dir, 'x.jsonl'),
    ]);
    expect(examples.map((e) => e.prompt)).toEqual(['keep']);
    expect(excluded).toBe(1);
  });
});
