// `modelroute bench proxy|controller|quotas`: benchmarks of the data plane, the control plane and fleet-wide limits (print figures; never pass/fail tests).
import { BENCH_USAGE, parseBenchArgs, type BenchOptions } from '../bench/args.js';
import { ChildGroup } from '../bench/children.js';
import {
  CONTROLLER_BENCH_USAGE,
  parseControllerBenchArgs,
  type ControllerBenchOptions,
} from '../bench/controller-args.js';
import {
  formatControllerReport,
  runControllerBench,
  type ControllerBenchResult,
} from '../bench/controller-bench.js';
import { runProxyOverhead } from '../bench/proxy-overhead.js';
import {
  QUOTAS_BENCH_USAGE,
  parseQuotasBenchArgs,
  type QuotasBenchOptions,
} from '../bench/quotas-args.js';
import {
  formatQuotasReport,
  runQuotasBench,
  runQuotasOverheadAlone,
  type QuotasBenchResult,
  type QuotasOverheadResult,
} from '../bench/quotas-bench.js';
import { formatReport } from '../bench/report.js';
import type { CommandIO } from './validate.js';

/**
 * Runs `body` with a ChildGroup whose children all die with us: on a normal
 * end, an error, Ctrl-C, SIGTERM or process.exit.
 */
async function withChildren(
  io: CommandIO,
  body: (group: ChildGroup) => Promise<number>,
): Promise<number> {
  const group = new ChildGroup();
  const onExit = (): void => group.killAll();
  const onSignal = (signal: NodeJS.Signals): void => {
    group.killAll();
    io.err(`bench interrupted by ${signal}; child processes killed`);
    process.exit(130);
  };
  process.on('exit', onExit);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    return await body(group);
  } catch (err) {
    io.err(`bench failed: ${(err as Error).message}`);
    return 1;
  } finally {
    await group.stopAll();
    process.off('exit', onExit);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One bench target: how its flags parse, how it runs, and its human summary. */
interface BenchTarget<O extends { json: boolean }, R> {
  usage: string;
  parse(
    argv: string[],
  ): { kind: 'help' } | { kind: 'error'; message: string } | { kind: 'run'; options: O };
  run(options: O, group: ChildGroup, log: (line: string) => void, argv: string[]): Promise<R>;
  format(result: R): string[];
}

/** Parses, runs with children that die with us, prints the summary (unless --json) and the JSON. */
async function runTarget<O extends { json: boolean }, R>(
  target: BenchTarget<O, R>,
  argv: string[],
  io: CommandIO,
): Promise<number> {
  const parsed = target.parse(argv);
  if (parsed.kind === 'help') {
    io.out(target.usage);
    return 0;
  }
  if (parsed.kind === 'error') {
    io.err(`${parsed.message}\n\n${target.usage}`);
    return 2;
  }
  const { options } = parsed;
  return withChildren(io, async (group) => {
    const result = await target.run(options, group, (line) => io.err(`bench: ${line}`), argv);
    if (!options.json) for (const line of target.format(result)) io.out(line);
    io.out(JSON.stringify(result, null, 2));
    return 0;
  });
}

const TARGETS = {
  controller: {
    usage: CONTROLLER_BENCH_USAGE,
    parse: parseControllerBenchArgs,
    run: (options, group, log) => runControllerBench({ options, group, log }),
    format: formatControllerReport,
  } satisfies BenchTarget<ControllerBenchOptions, ControllerBenchResult>,
  quotas: {
    usage: QUOTAS_BENCH_USAGE,
    parse: parseQuotasBenchArgs,
    run: (options, group, log, argv) => {
      const context = {
        options,
        group,
        log,
        command: ['modelroute', 'bench', 'quotas', ...argv].join(' '),
      };
      return options.only === 'overhead'
        ? runQuotasOverheadAlone(context)
        : runQuotasBench(context);
    },
    format: formatQuotasReport,
  } satisfies BenchTarget<QuotasBenchOptions, QuotasBenchResult | QuotasOverheadResult>,
  proxy: {
    usage: BENCH_USAGE,
    parse: parseBenchArgs,
    run: (options, group, log) => runProxyOverhead({ options, group, log }),
    format: formatReport,
  } satisfies BenchTarget<BenchOptions, Awaited<ReturnType<typeof runProxyOverhead>>>,
};

export async function runBench(argv: string[], io: CommandIO): Promise<number> {
  // The target comes first: `modelroute bench controller [options]`; the proxy bench is the default.
  if (argv[0] === 'controller') return runTarget(TARGETS.controller, argv.slice(1), io);
  if (argv[0] === 'quotas') return runTarget(TARGETS.quotas, argv.slice(1), io);
  return runTarget(TARGETS.proxy, argv, io);
}
