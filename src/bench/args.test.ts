// Flags of `modelroute bench proxy`: defaults, durations and the messages for bad values.
import { parseBenchArgs, parseDurationMs } from './args.js';

describe('parseDurationMs', () => {
  it('reads ms, s and m', () => {
    expect(parseDurationMs('20ms')).toBe(20);
    expect(parseDurationMs('1.5s')).toBe(1500);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(parseDurationMs('10')).toBeUndefined();
    expect(parseDurationMs('ten s')).toBeUndefined();
  });
});

describe('parseBenchArgs', () => {
  it('has the documented defaults', () => {
    const parsed = parseBenchArgs(['proxy']);
    expect(parsed).toEqual({
      kind: 'run',
      options: {
        json: false,
        rps: 1000,
        durationMs: 10_000,
        rounds: 5,
        latencyMs: 20,
        requests: 2000,
        seqLatencyMs: 0,
        streams: 100,
        ttftMs: 50,
        decisions: 200_000,
        peer: undefined,
        seed: 1,
        cpuProfDir: undefined,
        quick: false,
        learning: false,
      },
    });
  });

  it('--learning makes the by-difficulty rule learn', () => {
    expect(parseBenchArgs(['proxy', '--learning'])).toMatchObject({
      kind: 'run',
      options: { learning: true },
    });
  });

  it('--quick picks small sizes, and explicit flags still win', () => {
    const parsed = parseBenchArgs(['proxy', '--quick', '--rps', '300']);
    expect(parsed).toMatchObject({
      kind: 'run',
      options: { quick: true, rps: 300, durationMs: 1000, rounds: 2, requests: 100, streams: 10 },
    });
  });

  it('takes every flag', () => {
    const parsed = parseBenchArgs([
      'proxy',
      '--json',
      '--rps',
      '500',
      '--duration',
      '5s',
      '--rounds',
      '3',
      '--latency',
      '10ms',
      '--peer',
      'portkey',
      '--seed',
      '7',
    ]);
    expect(parsed.kind).toBe('run');
    if (parsed.kind !== 'run') return;
    expect(parsed.options).toMatchObject({
      json: true,
      rps: 500,
      durationMs: 5000,
      rounds: 3,
      latencyMs: 10,
      peer: 'portkey',
      seed: 7,
    });
  });

  it('asks for help', () => {
    expect(parseBenchArgs(['--help'])).toEqual({ kind: 'help' });
  });

  it.each([
    [[], 'bench needs a target'],
    [['gateway'], 'unknown bench target "gateway"'],
    [['proxy', '--rps', '0'], '--rps must be an integer from 1'],
    [['proxy', '--rps', '1.5'], '--rps must be an integer'],
    [['proxy', '--duration', '10'], '--duration must be a duration'],
    [['proxy', '--peer', 'litellm'], '--peer must be "portkey"'],
    [['proxy', '--bogus'], "Unknown option '--bogus'"],
  ])('rejects %j', (argv, message) => {
    const parsed = parseBenchArgs(argv);
    expect(parsed.kind).toBe('error');
    if (parsed.kind === 'error') expect(parsed.message).toContain(message);
  });
});
