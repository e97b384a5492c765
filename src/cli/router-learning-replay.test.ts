// `modelroute router replay --feedback-rate`: the learning loop over a data
// set as a stream, from the command line.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { syntheticLabels } from '../learning/__fixtures__/labels.js';
import { runRouter } from './router.js';

function io() {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) }, out, err };
}

const dir = mkdtempSync(join(tmpdir(), 'router-learning-'));
const data = join(dir, 'stream.csv');
// The strong model wins exactly where the synthetic labels say the strong tier helps.
writeFileSync(
  data,
  `${[
    'prompt,small,big',
    ...syntheticLabels(1_500, 3).map(
      (l) => `"${l.prompt.replaceAll('"', '""')}",${l.gain === 1 ? 'False' : 'True'},True`,
    ),
  ].join('\n')}\n`,
);
const common = ['--data', data, '--weak', 'small', '--strong', 'big', '--model', 'shipped'];

test('--feedback-rate learns from the labelled part and measures prior and champion on the tail, the same for the same seed', () => {
  const run = (seed: string) => {
    const t = io();
    const code = runRouter(
      [
        'replay',
        ...common,
        '--feedback-rate',
        '0.5',
        '--seed',
        seed,
        '--min-labels',
        '100',
        '--json',
      ],
      t.io,
    );
    return {
      code,
      report: JSON.parse(t.out[0] as string) as Record<string, number>,
      err: t.err.join('\n'),
    };
  };
  const a = run('4');
  expect(a.code).toBe(0);
  expect(a.report).toMatchObject({
    n: 1_500,
    labelled_part: 1_200,
    eval_n: 300,
    feedback_rate: 0.5,
    eval_share: 0.2,
    labels: expect.any(Number),
    promotions: expect.any(Number),
    apgr_prior: expect.any(Number),
    apgr_adapted: expect.any(Number),
  });
  // About half the labelled part, none from the tail.
  expect(a.report.labels).toBeGreaterThan(500);
  expect(a.report.labels).toBeLessThan(700);
  expect(a.report.retrains).toBeGreaterThan(0);
  // These labels contradict the prior: the learner promotes and ranks the tail better.
  expect(a.report.promotions).toBeGreaterThan(0);
  expect(a.report.apgr_adapted).toBeGreaterThan(a.report.apgr_prior as number);
  // Everything but the CPU time is the same for the same seed.
  const cpu = (r: Record<string, number>) => ({ ...r, retrain_cpu_ms_max: 0 });
  expect(cpu(run('4').report)).toEqual(cpu(a.report));

  const text = io();
  expect(
    runRouter(
      ['replay', ...common, '--feedback-rate', '1', '--seed', '4', '--eval-share', '0.5'],
      text.io,
    ),
  ).toBe(0);
  const printed = text.out.join('\n');
  for (const key of ['labels 750', 'promotions', 'apgr_prior', 'apgr_adapted'])
    expect(printed).toContain(key);
  expect(printed).toMatch(/measured on the last 750 \(no labels from them\)/);
});

test.each([
  [
    ['--feedback-rate', '0.5', '--seed', '1', '--warmup', '10'],
    /--warmup is for the strongShare replay/,
  ],
  [
    ['--strong-share', '0.2', '--seed', '1', '--eval-share', '0.3'],
    /--eval-share is for the learning replay: add --feedback-rate/,
  ],
  [['--feedback-rate', '2', '--seed', '1'], /--feedback-rate must be a share between 0 and 1/],
  [
    ['--feedback-rate', '0.5', '--seed', '1', '--eval-share', '1'],
    /--eval-share must be above 0 and below 1/,
  ],
  [
    ['--feedback-rate', '0.5', '--seed', '1', '--min-labels', '2'],
    /--min-labels must be a whole number of requests ≥ 3/,
  ],
])('replay %j is refused', (flags, message) => {
  const t = io();
  expect(runRouter(['replay', ...common, ...flags], t.io)).toBe(2);
  expect(t.err.join('\n')).toMatch(message);
});

test('--feedback-rate needs a format-2 model', () => {
  const v1 = join(dir, 'v1.json');
  expect(
    runRouter(
      [
        'train',
        '--data',
        data,
        '--weak',
        'small',
        '--strong',
        'big',
        '--out',
        v1,
        '--features',
        'v1',
      ],
      io().io,
    ),
  ).toBe(0);
  const t = io();
  expect(
    runRouter(
      ['replay', ...common.slice(0, -2), '--model', v1, '--feedback-rate', '0.5', '--seed', '1'],
      t.io,
    ),
  ).toBe(1);
  expect(t.err.join('\n')).toMatch(/learns from a format-2 model/);
});
