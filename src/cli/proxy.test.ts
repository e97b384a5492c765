import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProxy } from './proxy.js';

// Only refusals: an accepted command line would serve until a signal.
async function refused(argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await runProxy(
    ['--port=0', '--admin-port=0', '--log-level=error', ...argv],
    { out: () => {}, err: (l) => err.push(l) },
    {},
  );
  return { code, err: err.join('\n') };
}

test('a --difficulty-model file that cannot be used stops the start, saying why', async () => {
  const missing = join(tmpdir(), 'no-such-model.json');
  expect(await refused([`--difficulty-model=${missing}`])).toEqual({
    code: 1,
    err: expect.stringMatching(
      /^cannot start the proxy: .*no-such-model\.json: cannot read the difficulty model/,
    ) as string,
  });
  const corrupt = join(mkdtempSync(join(tmpdir(), 'modelroute-model-')), 'model.json');
  writeFileSync(corrupt, '{"format":"modelroute.io/difficulty-model"}');
  expect((await refused([`--difficulty-model=${corrupt}`])).err).toMatch(
    /model\.json: not a difficulty model: formatVersion/,
  );
});

test('bad flag values are refused before anything listens', async () => {
  expect(await refused(['--port=99999'])).toEqual({
    code: 2,
    err: '--port must be a port number 0-65535',
  });
});
