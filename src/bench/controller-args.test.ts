// Flags of `modelroute bench controller`: defaults and the messages for bad values.
import { DEFAULT_KUBECONFIG, parseControllerBenchArgs } from './controller-args.js';

describe('parseControllerBenchArgs', () => {
  it('has the documented defaults', () => {
    expect(parseControllerBenchArgs([])).toEqual({
      kind: 'run',
      options: {
        json: false,
        kubeconfig: DEFAULT_KUBECONFIG,
        proxies: 10,
        changes: 30,
        routes: 1000,
        backends: 200,
        ackProxies: 50,
        syncTimeoutMs: 300_000,
        latency: true,
        scale: true,
        keep: false,
        cpuProfDir: undefined,
        settleMs: 5_000,
        quick: false,
      },
    });
  });

  it('--quick picks small sizes, and explicit flags still win', () => {
    expect(parseControllerBenchArgs(['--quick', '--changes', '4'])).toMatchObject({
      kind: 'run',
      options: {
        quick: true,
        proxies: 3,
        changes: 4,
        routes: 20,
        backends: 5,
        ackProxies: 3,
        syncTimeoutMs: 120_000,
        settleMs: 1_000,
      },
    });
  });

  it('takes every flag', () => {
    const parsed = parseControllerBenchArgs([
      '--json',
      '--kubeconfig',
      '/tmp/kc',
      '--proxies',
      '3',
      '--changes',
      '5',
      '--routes',
      '20',
      '--backends',
      '4',
      '--ack-proxies',
      '2',
      '--sync-timeout',
      '30s',
      '--skip-latency',
      '--keep',
      '--cpu-prof',
      '/tmp/prof',
    ]);
    expect(parsed).toEqual({
      kind: 'run',
      options: {
        json: true,
        kubeconfig: '/tmp/kc',
        proxies: 3,
        changes: 5,
        routes: 20,
        backends: 4,
        ackProxies: 2,
        syncTimeoutMs: 30_000,
        latency: false,
        scale: true,
        keep: true,
        cpuProfDir: '/tmp/prof',
        settleMs: 5_000,
        quick: false,
      },
    });
  });

  it('asks for help', () => {
    expect(parseControllerBenchArgs(['-h'])).toEqual({ kind: 'help' });
  });

  it.each([
    [['--proxies', '0'], '--proxies must be an integer from 1 to 253'],
    [['--ack-proxies', '300'], '--ack-proxies must be an integer from 1 to 253'],
    [['--backends', '1'], '--backends must be an integer from 2'],
    [['--routes', 'many'], '--routes must be an integer'],
    [['--sync-timeout', '10'], '--sync-timeout must be a duration'],
    [['--skip-latency', '--skip-scale'], 'leave nothing to run'],
    [['--kubeconfig', ''], '--kubeconfig must name a file'],
    [['extra'], 'Unexpected argument'],
    [['--bogus'], "Unknown option '--bogus'"],
  ])('rejects %j', (argv, message) => {
    const parsed = parseControllerBenchArgs(argv);
    expect(parsed.kind).toBe('error');
    if (parsed.kind === 'error') expect(parsed.message).toContain(message);
  });
});
