// Preload (node --import) that writes, at exit, every package the process
// loaded to stderr as one line: `loaded-packages ["express","undici",...]`.
// CommonJS modules are read from the require cache; ES modules are seen by a
// load hook (they never enter that cache).
import Module, { register } from 'node:module';
import { MessageChannel } from 'node:worker_threads';

const packages = new Set();
const packageOf = (path) => {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path);
  return m ? m[1] : undefined;
};
const { port1, port2 } = new MessageChannel();
port1.on('message', (url) => {
  const name = packageOf(url);
  if (name) packages.add(name);
});
port1.unref();
register('./loaded-packages-hooks.js', import.meta.url, {
  data: { port: port2 },
  transferList: [port2],
});

process.on('exit', () => {
  for (const path of Object.keys(Module._cache)) {
    const name = packageOf(path);
    if (name) packages.add(name);
  }
  process.stderr.write(`loaded-packages ${JSON.stringify([...packages].sort())}\n`);
});
