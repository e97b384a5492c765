// `modelroute proxy` without the rest of the CLI loaded: the fallback entry when cli/main cannot start.
import { keepYoungGenerationSmall } from '../cli/proxy-heap.js';

keepYoungGenerationSmall();
const { runProxy } = await import('../cli/proxy.js');

process.exitCode = await runProxy(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
