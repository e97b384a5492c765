import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { seededRandom } from '../routing/random.js';
import { expandMultiValueFlags, runRouter } from './router.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

/** Synthetic results: "hard" prompts need the strong model; answers known by construction. */
function writeData(dir: string): string[] {
  const rng = seededRandom(2);
  const files: string[] = [];
  for (const part of ['a', 'b']) {
    const lines = ['prompt,small,big'];
    for (let i = 0; i < 400; i++) {
      const hard = rng() < 0.3;
      // Hard prompts are multi-step word problems (what feature set v2 sees), easy ones a greeting.
      const prompt = hard
        ? `Question ${i}: she buys 3 apples at 2 dollars each and 5 pears at 4 dollars each, then sells 2 of them, with a comma. How much does she spend?`
        : `Hello, question ${i}, with a comma`;
      lines.push(`"${prompt}",${hard ? 'False' : 'True'},True`);
    }
    files.push(join(dir, `${part}.csv`));
    writeFileSync(files.at(-1) as string, `${lines.join('\n')}\n`);
  }
  return files;
}

test('--data a b c means --data a --data b --data c', () => {
  expect(expandMultiValueFlags(['--data', 'a', 'b', '--weak', 'w', 'x'], ['--data'])).toEqual([
    '--data',
    'a',
    '--data',
    'b',
    '--weak',
    'w',
    'x',
  ]);
});

describe('argument errors', () => {
  test.each([
    [['train', '--data', 'x.csv', '--strong', 's', '--out', 'm.json'], /needs --weak/],
    [['eval', '--data', 'x.csv', '--weak', 'w', '--strong', 's'], /needs --model/],
    [
      ['train', '--data', 'x.csv', '--weak', 'w', '--strong', 's', '--out', 'm', '--label', 'best'],
      /--label must be one of/,
    ],
    [
      ['train', '--data', 'x.csv', '--weak', 'w', '--strong', 's', '--out', 'm', '--seed', 'one'],
      /--seed must be an integer/,
    ],
    [
      [
        'train',
        '--data',
        'x.csv',
        '--weak',
        'w',
        '--strong',
        's',
        '--out',
        'm',
        '--features',
        'v3',
      ],
      /--features must be v2 or v1/,
    ],
    [['eval', '--bogus'], /Unknown option '--bogus'/],
    [['tune'], /unknown router command "tune"/],
  ])('%j', (argv, message) => {
    const t = io();
    expect(runRouter(argv, t.io)).toBe(2);
    expect(t.err.join('\n')).toMatch(message);
  });

  test('a missing data file or column is an error, not a crash', () => {
    const dir = mkdtempSync(join(tmpdir(), 'router-cli-'));
    const [file] = writeData(dir);
    const t = io();
    expect(
      runRouter(
        [
          'eval',
          '--model',
          'm.json',
          '--data',
          file as string,
          '--weak',
          'nope',
          '--strong',
          'big',
        ],
        t.io,
      ),
    ).toBe(1);
    expect(t.err.join('\n')).toMatch(/no column "nope"/);
  });
});

test('train, then eval prints one JSON object with the metrics and the random baseline', () => {
  const dir = mkdtempSync(join(tmpdir(), 'router-cli-'));
  const files = writeData(dir);
  const model = join(dir, 'model.json');
  writeFileSync(
    join(dir, 'exclude.jsonl'),
    `${JSON.stringify({ eval_prompt: 'Hello, question 0, with a comma' })}\n`,
  );
  const trained = io();
  expect(
    runRouter(
      [
        'train',
        '--data',
        ...files,
        '--weak',
        'small',
        '--strong',
        'big',
        '--out',
        model,
        '--name',
        'cli-test',
      ],
      trained.io,
    ),
  ).toBe(0);
  expect(JSON.parse(readFileSync(model, 'utf8'))).toMatchObject({
    name: 'cli-test',
    formatVersion: 2,
    featureSet: { version: 2 },
  });

  const t = io();
  expect(
    runRouter(
      [
        'eval',
        '--model',
        model,
        '--data',
        dir,
        '--weak',
        'small',
        '--strong',
        'big',
        '--exclude',
        join(dir, 'exclude.jsonl'),
        '--json',
      ],
      t.io,
    ),
  ).toBe(0);
  expect(t.out).toHaveLength(1);
  const report = JSON.parse(t.out[0] as string);
  expect(report).toMatchObject({ model: 'cli-test', excluded: expect.any(Number) });
  expect(report.n + report.excluded).toBe(800);
  for (const key of ['apgr', 'cpt50', 'cpt80', 'strong_share_for_95'])
    expect(report).toHaveProperty(key);
  expect(report.apgr).toBeGreaterThan(0.7); // a perfect cue reaches 1 − 0.3/2 = 0.85 with 30% "hard" prompts
  expect(Math.abs(report.random.apgr - 0.5)).toBeLessThan(0.05);
});

test('train --features v1 still makes a v1 file, and it loads for eval', () => {
  const dir = mkdtempSync(join(tmpdir(), 'router-cli-'));
  const files = writeData(dir);
  const model = join(dir, 'v1.json');
  const common = ['--data', ...files, '--weak', 'small', '--strong', 'big'];
  expect(runRouter(['train', ...common, '--out', model, '--features', 'v1'], io().io)).toBe(0);
  expect(JSON.parse(readFileSync(model, 'utf8'))).toMatchObject({
    formatVersion: 1,
    featureSet: { version: 1 },
  });
  const t = io();
  expect(runRouter(['eval', ...common, '--model', model, '--json'], t.io)).toBe(0);
  expect(JSON.parse(t.out[0] as string).apgr).toBeGreaterThan(0.7);
});
