// Flags of `modelroute bench quotas`: defaults, --quick, and the messages for bad values.
import { DEFAULT_KUBECONFIG } from './controller-args.js';
import { parseQuotasBenchArgs } from './quotas-args.js';

describe('parseQuotasBenchArgs', () => {
  test('a full run: 20 proxies, demand ramped over 120 s, 4 saturated minutes after a 30 s warm-up, every part', () => {
    expect(parseQuotasBenchArgs([])).toMatchObject({
      kind: 'run',
      options: {
        json: false,
        kubeconfig: DEFAULT_KUBECONFIG,
        proxies: 20,
        seed: 1,
        measureMs: 240_000,
        rampMs: 120_000,
        warmupMs: 30_000,
        keep: false,
        quick: false,
      },
    });
  });

  test('--quick is small, and explicit flags still win', () => {
    const parsed = parseQuotasBenchArgs(['--quick', '--minutes', '2', '--json']);
    expect(parsed).toMatchObject({
      kind: 'run',
      options: { quick: true, json: true, proxies: 3, measureMs: 120_000 },
    });
  });

  test('--ramp-seconds: 0 is a standing start; a bad value is named', () => {
    expect(parseQuotasBenchArgs(['--ramp-seconds', '0'])).toMatchObject({
      kind: 'run',
      options: { rampMs: 0 },
    });
    expect(parseQuotasBenchArgs(['--quick'])).toMatchObject({ options: { rampMs: 0 } });
    expect(parseQuotasBenchArgs(['--only', 'overhead', '--ramp-seconds', '5']).kind).toBe('error');
    const bad = parseQuotasBenchArgs(['--ramp-seconds', 'soon']);
    expect(bad.kind).toBe('error');
    expect(bad.kind === 'error' && bad.message).toMatch(/ramp-seconds/);
  });

  test('--skip-priority and --skip-overhead leave those parts out', () => {
    const parsed = parseQuotasBenchArgs(['--skip-priority', '--skip-overhead']);
    expect(parsed).toMatchObject({
      kind: 'run',
      options: { priority: undefined, overhead: undefined },
    });
  });

  test('--only overhead runs that part alone, at its full or --quick size', () => {
    expect(parseQuotasBenchArgs(['--only', 'overhead'])).toMatchObject({
      kind: 'run',
      options: { only: 'overhead', overhead: { sequential: 2000, loadRps: 300 } },
    });
    expect(parseQuotasBenchArgs(['--only', 'overhead', '--quick', '--seed', '3'])).toMatchObject({
      kind: 'run',
      options: { only: 'overhead', seed: 3, overhead: { sequential: 100 } },
    });
    expect(parseQuotasBenchArgs([])).toMatchObject({ kind: 'run', options: { only: undefined } });
    expect(
      parseQuotasBenchArgs(['--only', 'overhead', '--cpu-prof', 'p', '--requests', '8000']),
    ).toMatchObject({ options: { overhead: { cpuProfDir: 'p', sequential: 8000, warmup: 300 } } });
  });

  test.each([
    [
      ['--only', 'saturation'],
      '--only must be one of overhead (the parts that run alone), not "saturation"',
    ],
    [
      ['--only', 'overhead', '--skip-overhead'],
      '--skip-overhead configures a part that --only overhead does not run; drop one of them',
    ],
    [
      ['--only', 'overhead', '--minutes', '2'],
      '--minutes configures a part that --only overhead does not run; drop one of them',
    ],
    [
      ['--only', 'overhead', '--kubeconfig', 'k'],
      '--kubeconfig configures a part that --only overhead does not run; drop one of them',
    ],
    [['--cpu-prof', ' '], '--cpu-prof must name a directory'],
    [
      ['--cpu-prof', 'p', '--skip-overhead'],
      '--cpu-prof configures the overhead part, which --skip-overhead leaves out; drop one of them',
    ],
    [
      ['--requests', '8000', '--skip-overhead'],
      '--requests configures the overhead part, which --skip-overhead leaves out; drop one of them',
    ],
    [['--requests', '50'], '--requests must be an integer from 100 to 100000, not "50"'],
    [['--minutes', '0'], '--minutes must be an integer from 1 to 120, not "0"'],
    [['--minutes', '1.5'], '--minutes must be an integer from 1 to 120, not "1.5"'],
    [['--proxies', '300'], '--proxies must be an integer from 1 to 253, not "300"'],
    [['--seed', 'x'], '--seed must be an integer from 0 to 2147483647, not "x"'],
    [['--kubeconfig', ' '], '--kubeconfig must name a file'],
  ])('%j is refused: %s', (argv, message) => {
    expect(parseQuotasBenchArgs(argv)).toEqual({ kind: 'error', message });
  });

  test('an unknown flag is refused by name', () => {
    const parsed = parseQuotasBenchArgs(['--rpm', '5']);
    expect(parsed.kind).toBe('error');
    expect(parsed.kind === 'error' && parsed.message).toMatch(/--rpm/);
  });

  test('--help', () => {
    expect(parseQuotasBenchArgs(['-h'])).toEqual({ kind: 'help' });
  });
});
