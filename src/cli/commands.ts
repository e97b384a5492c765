// Dispatches `modelroute <command>` to the command's module.
import { readFileSync } from 'node:fs';
import { runBench } from './bench.js';
import { runController } from './controller.js';
import { runDev } from './dev.js';
import { runProxy } from './proxy.js';
import { runSimulateBackend } from './simulate-backend.js';
import { runValidate, type CommandIO } from './validate.js';

const USAGE = `modelroute: Kubernetes-native LLM router

usage: modelroute <command> [options]

commands:
  bench proxy [--json]     measure the proxy's overhead against a direct call and a minimal proxy
  controller               the control plane (watches the API, programs proxies, writes status)
  dev                      local mode: the samples served with simulated backends
  proxy                    the routing proxy (sidecar or gateway)
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
      return runValidate(rest, io);
    case 'bench':
      return runBench(rest, io);
    case 'controller':
      return runController(rest, io);
    case 'dev':
      return runDev(rest, io);
    case 'proxy':
      return runProxy(rest, io);
    case 'simulate-backend':
      return runSimulateBackend(rest, io);
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
