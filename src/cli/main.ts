#!/usr/bin/env node
// The `modelroute` command: one binary for every role.
import { run } from './commands.js';
import type { CommandIO } from './validate.js';

const io: CommandIO = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};
process.exitCode = await run(process.argv.slice(2), io);
