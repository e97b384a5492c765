// `modelroute bench proxy`: the data plane's overhead benchmark (prints figures; never a pass/fail test).
import { BENCH_USAGE, parseBenchArgs } from '../bench/args.js';
import { ChildGroup } from '../bench/children.js';
import { runProxyOverhead } from '../bench/proxy-overhead.js';
import { formatReport } from '../bench/report.js';

export async function runBench(
  argv: string[],
  io: { out: (l: string) => void; err: (l: string) => void },
): Promise<number> {
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

  // Every child dies with us: on a normal end, an error, Ctrl-C, SIGTERM or process.exit.
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
    const result = await runProxyOverhead({
      options,
      group,
      log: (line) => io.err(`bench: ${line}`),
    });
    if (!options.json) for (const line of formatReport(result)) io.out(line);
    io.out(JSON.stringify(result, null, 2));
    return 0;
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
