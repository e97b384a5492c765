import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { priorQuantile } from '../routing/difficulty/calibration/prior.js';
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

/** A replay command line that lacks only what each case adds. */
const REPLAY = [
  'replay',
  '--data',
  'x',
  '--weak',
  'w',
  '--strong',
  's',
  '--model',
  'shipped',
  '--seed',
  '1',
];

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
    [
      ['replay', '--data', 'x.csv', '--weak', 'w', '--strong', 's', '--model', 'shipped'],
      /needs --strong-share, --seed/,
    ],
    [
      [...REPLAY, '--strong-share', '20%'],
      /--strong-share must be a share between 0 and 1 \(e.g. 0.2 for 20%\), not "20%"/,
    ],
    [[...REPLAY, '--strong-share', '1.5'], /--strong-share must be a share between 0 and 1/],
    [
      [...REPLAY, '--strong-share', '0.2', '--window', '0'],
      /--window must be a whole number of requests ≥ 1, not "0"/,
    ],
    [[...REPLAY, '--strong-share', '0.2', '--warmup', '1.5'], /--warmup must be a whole number/],
    [
      ['eval', '--data', 'x', '--weak', 'w', '--strong', 's', '--model', 'm', '--warmup', '10'],
      /--warmup is for router replay, not router eval/,
    ],
    [['replay', '--scores-out', 'f'], /--scores-out is for router eval, not router replay/],
    [
      ['train', '--strong-share', '0.2'],
      /--strong-share is for router eval and replay, not router train/,
    ],
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

const ROUTELLM = new URL('../../../shared/data/routellm/', import.meta.url).pathname;

describe('strongShare audit', () => {
  let dir: string;
  let files: string[];
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'router-cli-'));
    files = writeData(dir);
  });
  const columns = ['--weak', 'small', '--strong', 'big'];
  const common = () => ['--model', 'shipped', '--data', ...files, ...columns];

  test('eval --strong-share prints the share the calibration threshold gives, --scores-out one line per prompt', () => {
    const scoresFile = join(dir, 'scores.jsonl');
    const t = io();
    expect(
      runRouter(
        ['eval', ...common(), '--strong-share', '0.3', '--scores-out', scoresFile, '--json'],
        t.io,
      ),
    ).toBe(0);
    const report = JSON.parse(t.out[0] as string);
    const lines = readFileSync(scoresFile, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { score: number; weak: number; strong: number });
    expect(lines).toHaveLength(800);
    expect(lines[0]).toEqual({ score: expect.any(Number), weak: expect.any(Number), strong: 1 });
    const threshold = priorQuantile(0.7);
    const atOrAbove = lines.filter((l) => l.score >= threshold).length / lines.length;
    expect(report).toMatchObject({ strong_share: 0.3, threshold: Number(threshold.toFixed(4)) });
    expect(report.realized_strong_share).toBeCloseTo(atOrAbove, 4);

    const text = io();
    expect(runRouter(['eval', ...common(), '--strong-share', '0.3'], text.io)).toBe(0);
    expect(text.out.join('\n')).toMatch(
      /strongShare 30\.0% → threshold 0\.692 → \d+\.\d% of these prompts go strong/,
    );
  });

  test('eval --scores-out into a missing directory is a clear error', () => {
    const t = io();
    expect(
      runRouter(['eval', ...common(), '--scores-out', join(dir, 'no/such/dir/s.jsonl')], t.io),
    ).toBe(1);
    expect(t.err.join('\n')).toMatch(/cannot write --scores-out .*no\/such\/dir/);
  });

  test('replay holds the share in every window, is the same for the same seed, and says when no window fits', () => {
    const replay = (seed: string, extra: string[] = []) => {
      const t = io();
      const code = runRouter(
        ['replay', ...common(), '--strong-share', '0.2', '--seed', seed, '--json', ...extra],
        t.io,
      );
      return { code, report: JSON.parse(t.out[0] as string), err: t.err.join('\n') };
    };
    const a = replay('7', ['--requests', '4000']);
    expect(a.code).toBe(0);
    expect(a.report).toMatchObject({ n: 4000, warmup: 500, window: 1000, windows: 2501 });
    expect(Math.abs(a.report.realized_strong_share - 0.2)).toBeLessThanOrEqual(0.01);
    expect(a.report.max_window_error).toBeLessThanOrEqual(0.03);
    for (const key of ['apgr', 'quality', 'offline_quality_at_share'])
      expect(a.report[key]).toEqual(expect.any(Number));
    expect(replay('7', ['--requests', '4000']).report).toEqual(a.report);

    const short = replay('7');
    expect(short.report).toMatchObject({ n: 800, windows: 0, max_window_error: null });
    expect(short.err).toMatch(/no full 1000-request window .*\(--requests 1500 or more/);
  });

  test('replay with a model file that is not there: exit 1 and the path', () => {
    const t = io();
    expect(
      runRouter(
        [
          'replay',
          ...common().slice(2),
          '--model',
          join(dir, 'nope.json'),
          '--strong-share',
          '0.2',
          '--seed',
          '1',
        ],
        t.io,
      ),
    ).toBe(1);
    expect(t.err.join('\n')).toMatch(/nope\.json: cannot read the difficulty model/);
  });

  const onData = existsSync(join(ROUTELLM, 'gsm8k')) ? test : test.skip;
  onData(
    existsSync(join(ROUTELLM, 'gsm8k'))
      ? 'replay on GSM8K (the shipped model, contaminated prompts excluded) holds 0.2 within 0.03'
      : `replay on GSM8K: skipped, no RouteLLM data at ${ROUTELLM}`,
    () => {
      const t = io();
      const gsm8k = join(ROUTELLM, 'gsm8k');
      const code = runRouter(
        [
          'replay',
          '--model',
          'shipped',
          '--data',
          gsm8k,
          '--exclude',
          join(gsm8k, 'contaminated_prompts.jsonl'),
          '--weak',
          'mistralai/Mixtral-8x7B-Instruct-v0.1',
          '--strong',
          'gpt-4-1106-preview',
          '--strong-share',
          '0.2',
          '--seed',
          '3',
          '--requests',
          '5000',
          '--json',
        ],
        t.io,
      );
      expect(code).toBe(0);
      const report = JSON.parse(t.out[0] as string);
      expect(report.excluded).toBeGreaterThan(0);
      expect(report.max_window_error).toBeLessThanOrEqual(0.03);
    },
  );
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
