// simulate:// query knobs → simulator options, including issue 17's quality and judge modes.
import { simulatorOptions } from '../../simulator/index.js';
import { simulatorKnobs } from './dev-mode.js';

test('timing knobs convert their units', () => {
  expect(simulatorKnobs('simulate://a?latency=50ms&tps=40&seed=3', 'default/a')).toEqual({
    latencyMs: 50,
    tokensPerSecond: 40,
    seed: 3,
  });
  expect(simulatorKnobs('https://api.example.com/v1', 'default/a')).toEqual({});
});

test('dataset quality and judge knobs become valid simulator options', () => {
  const weak = simulatorKnobs(
    'simulate://weak?qualityData=data/results.csv&qualityColumn=small&qualityDefault=0',
    'default/weak',
  );
  expect(weak).toEqual({
    qualityData: 'data/results.csv',
    qualityColumn: 'small',
    qualityDefault: 0,
  });
  expect(simulatorOptions.safeParse(weak).success).toBe(true);
  const judge = simulatorKnobs('simulate://judge?judge=1&judgeBias=0.2', 'default/judge');
  expect(judge).toEqual({ judge: true, judgePositionBias: 0.2 });
  expect(simulatorOptions.safeParse(judge).success).toBe(true);
  expect(simulatorKnobs('simulate://judge?judge=false', 'default/judge')).toEqual({ judge: false });
});

test('bad knobs say which backend and what is accepted', () => {
  expect(() => simulatorKnobs('simulate://j?judge=yes', 'default/j')).toThrow(
    'ModelBackend default/j: simulator knob "judge" takes 1/true or 0/false, not "yes"',
  );
  expect(() => simulatorKnobs('simulate://j?quality=1', 'default/j')).toThrow(
    /unknown simulator knob "quality".*known: .*qualityData, qualityColumn/,
  );
});
