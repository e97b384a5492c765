// `modelroute bench proxy|controller`: benchmarks of the data plane and the control plane (print figures; never pass/fail tests).
import { BENCH_USAGE, parseBenchArgs } from '../bench/args.js';
import { ChildGroup } from '../bench/children.js';
import { CONTROLLER_BENCH_USAGE, parseControllerBenchArgs } from '../bench/controller-args.js';
import { formatControllerReport, runControllerBench } from '../bench/controller-bench.js';
import { runProxyOverhead } from '../bench/proxy-overhead.js';
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

async function runControllerBenchCommand(argv: string[], io: CommandIO): Promise<number> {
  const parsed = parseControllerBenchArgs(argv);
  if (parsed.kind === 'help') {
    io.out(CONTROLLER_BENCH_USAGE);
    return 0;
  }
  if (parsed.kind === 'error') {
    io.err(`${parsed.message}\n\n${CONTROLLER_BENCH_USAGE}`);
    return 2;
  }
  const { options } = parsed;
  return withChildren(io, async (group) => {
    const result = await runControllerBench({
      options,
      group,
      log: (line) => io.err(`bench: ${line}`),
    });
    if (!options.json) for (const line of formatControllerReport(result)) io.out(line);
    io.out(JSON.stringify(result, null, 2));
    return 0;
  });
}

export async function runBench(argv: string[], io: CommandIO): Promise<number> {
  // The target comes first: `modelroute bench controller [options]`.
  if (argv[0] === 'controller') return runControllerBenchCommand(argv.slice(1), io);
  const parsed = parseBenchArgs(argv);
  if (parsed.kind === 'help') {
    io.out(BENCH_USAGE);
    return 0;
  }
  if (parsed.kind === 'error') {
    io.err(`${parsed.message}\n\n${BENCH_USAGE}`);
    return 2;
  }
  const { options } = parsed;
  return withChildren(io, async (group) => {
    const result = await runProxyOverhead({
      options,
      group,
      log: (line) => io.err(`bench: ${line}`),
    });
    if (!options.json) for (const line of formatReport(result)) io.out(line);
    io.out(JSON.stringify(result, null, 2));
    return 0;
  });
}
