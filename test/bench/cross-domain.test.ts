// The cross-domain evaluation tells a router that learned the kind of task
// from one that memorised its training prompts: on data where proofs are what
// the strong model helps with, in every domain, and prompt length is noise.
import { crossDomainReport, goals, type Scorer } from '../../bench/cross-domain.js';
import { POOLED } from '../../src/routing/difficulty/learned/bootstrap.js';
import type { Example } from '../../src/routing/difficulty/learned/dataset.js';
import { seededRandom } from '../../src/routing/random.js';

const GROUPS = [
  'gsm8k_test',
  'mmlu_abstract_algebra',
  'mmlu_philosophy',
  'mmlu_sociology',
  'mmlu_nutrition',
];

function examples(): { mmlu: Example[]; gsm8k: Example[] } {
  const rng = seededRandom(12);
  const all = GROUPS.flatMap((group) =>
    Array.from({ length: 300 }, (_, i) => {
      const proof = rng() < 0.4;
      const words = Array.from({ length: 2 + Math.floor(rng() * 30) }, () => 'word').join(' ');
      return {
        prompt: `${proof ? 'prove' : 'state'} ${words} ${group} #${i}`,
        weak: rng() < (proof ? 0.2 : 0.8) ? 1 : 0,
        strong: rng() < 0.9 ? 1 : 0,
        group,
      };
    }),
  );
  return {
    mmlu: all.filter((e) => e.group.startsWith('mmlu')),
    gsm8k: all.filter((e) => e.group.startsWith('gsm8k')),
  };
}

/** Knows each training prompt's outcome; has no idea about any other prompt. */
const memoriser = (train: readonly Example[]): Scorer => {
  const seen = new Map(train.map((e) => [e.prompt, e.strong - e.weak]));
  return { score: (p) => seen.get(p) ?? 0 };
};
/** Knows what makes a prompt hard, wherever it comes from. */
const generaliser = (): Scorer => ({
  score: (p) => (p.startsWith('prove') ? 1 : 0) + p.length * 1e-6,
});

const options = { seeds: [1], resamples: 100, rngSeed: 3 };
const data = examples();

test('a memorising router is caught: chance held out, far better in-sample', () => {
  const report = crossDomainReport(data, {
    ...options,
    train: memoriser,
    shipped: memoriser([...data.mmlu, ...data.gsm8k]),
  });
  const pooled = report.leaveOneDomainOut.scopes[POOLED];
  expect(pooled?.learned.point).toBeCloseTo(0.5, 6);
  expect(report.inSample[POOLED]?.gap.lo).toBeGreaterThan(0.3);
  expect(report.inSample[POOLED]?.shipped.point).toBeGreaterThan(0.9);
  expect(goals(report).map((g) => g.apgrMet)).toEqual([false, false, false]);
});

test('a generalising router is credited: above length and random with intervals above 0', () => {
  const report = crossDomainReport(data, {
    ...options,
    train: generaliser,
    shipped: generaliser(),
  });
  const lodo = report.leaveOneDomainOut;
  expect(Object.keys(lodo.scopes)).toEqual([
    'gsm8k',
    'mmlu-stem',
    'mmlu-humanities',
    'mmlu-social-sciences',
    'mmlu-other',
    POOLED,
  ]);
  // Pooled = the mean of the five per-domain figures.
  const perDomain = Object.entries(lodo.scopes)
    .filter(([k]) => k !== POOLED)
    .map(([, s]) => s.learned.point);
  expect(lodo.scopes[POOLED]?.learned.point).toBeCloseTo(
    perDomain.reduce((a, b) => a + b) / perDomain.length,
    12,
  );
  for (const scope of Object.values(lodo.scopes)) {
    expect(scope.vs.length.lo).toBeGreaterThan(0);
    expect(scope.vs.random.lo).toBeGreaterThan(0);
    expect(scope.random.lo).toBeLessThan(0.5);
    expect(scope.random.hi).toBeGreaterThan(0.5);
  }
  // Nothing memorised: in-sample is held-out.
  expect(report.inSample[POOLED]?.gap).toMatchObject({ point: 0, lo: 0, hi: 0 });
  expect(report.directions.map((d) => d.protocol)).toEqual([
    'trained on MMLU, tested on GSM8K',
    'trained on GSM8K, tested on MMLU (mean of its domains)',
  ]);
  expect(goals(report).every((g) => g.apgrMet && g.overLengthMet)).toBe(true);
});
