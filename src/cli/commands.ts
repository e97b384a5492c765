// Dispatches `modelroute <command>` to the command's module.
// Each command's module is imported only when that command runs: the proxy
// must not carry the Kubernetes client (tens of MB of heap, longer GC pauses).
import { readFileSync } from 'node:fs';
import type { CommandIO } from './validate.js';

const USAGE = `modelroute: Kubernetes-native LLM router

usage: modelroute <command> [options]

commands:
  bench proxy [--json]     measure the proxy's overhead against a direct call and a minimal proxy
  bench controller [--json]  apply-to-programmed latency and scale against a test API server
  bench quotas [--json]    fleet-wide limits, budgets and priority under scarcity on a test API server
  controller               the control plane (watches the API, programs proxies, writes status)
  dev                      local mode: the samples served with simulated backends
  keys create|list|revoke  virtual API keys for gateways (only a hash is stored; shown once)
  proxy                    the routing proxy (sidecar or gateway)
  report [--since 7d] [--by tenant]  spend, tokens and savings from the usage ledger (table, FOCUS CSV, JSON)
  router train|eval|replay train the learned difficulty model; measure one (APGR, CPT);
                           replay prompts through the live strongShare calibration
  simulate-backend         one simulated OpenAI-compatible model server
  validate -f <file|dir>   check ModelRoute/ModelBackend manifests offline
  version                  print the version
  help                     show this help

Run 'modelroute <command> --help' for a command's options.`;

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export async function run(argv: string[], io: CommandIO): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'validate':
      return (await import('./validate.js')).runValidate(rest, io);
    case 'bench': {
      // The production image leaves the benchmarks out (Dockerfile).
      const bench = await import('./bench.js').catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return undefined;
        throw err;
      });
      if (bench) return bench.runBench(rest, io);
      io.err(
        'modelroute bench: the benchmarks are not in the production image; run them from a source checkout (npm ci && npm run build && node dist/cli/main.js bench ...)',
      );
      return 2;
    }
    case 'controller':
      // As for the proxy: bench controller at 300 routes peaked at 124-126 MB RSS
      // with it against 147-153 MB without, 108-110 against 141-144 MB settled
      // (3 clean runs each, /work/wt/notes/rss-kubelite.md).
      (await import('./proxy-heap.js')).keepYoungGenerationSmall();
      return (await import('./controller.js')).runController(rest, io);
    case 'keys':
      return (await import('./keys.js')).runKeys(rest, io);
    case 'dev':
      return (await import('./dev.js')).runDev(rest, io);
    case 'proxy':
      // Before the proxy's modules load: loading them is what grows the young generation.
      (await import('./proxy-heap.js')).keepYoungGenerationSmall();
      return (await import('./proxy.js')).runProxy(rest, io);
    case 'report':
      return (await import('./report.js')).runReport(rest, io);
    case 'router':
      return (await import('./router.js')).runRouter(rest, io);
    case 'simulate-backend':
      return (await import('./simulate-backend.js')).runSimulateBackend(rest, io);
    case 'version':
    case '--version':
      io.out(version());
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return 0;
    default:
      io.err(`unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
}
