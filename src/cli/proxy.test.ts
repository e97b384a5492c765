import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runProxy } from './proxy.js';

// Only refusals: an accepted command line would serve until a signal.
async function refused(
  argv: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await runProxy(
    ['--port=0', '--admin-port=0', '--log-level=error', ...argv],
    { out: () => {}, err: (l) => err.push(l) },
    env,
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

describe('identity flags are checked before anything listens', () => {
  async function refusedWith(argv: string[], env: NodeJS.ProcessEnv = {}) {
    const err: string[] = [];
    const code = await runProxy(
      ['--port=0', '--admin-port=0', '--log-level=error', ...argv],
      { out: () => {}, err: (l) => err.push(l) },
      env,
    );
    return { code, err: err.join('\n') };
  }
  const workload = JSON.stringify({ namespace: 'team-a', serviceAccount: 'app', labels: {} });

  test('--tenant belongs to local mode', async () => {
    expect(await refusedWith(['--identity=gateway', '--tenant=acme'])).toEqual({
      code: 2,
      err: expect.stringMatching(
        /^--tenant names the caller in local mode only; with --identity gateway/,
      ) as string,
    });
  });

  test('a sidecar on a non-loopback host refuses to start and says why', async () => {
    expect(
      await refusedWith(['--identity=sidecar', '--host=0.0.0.0'], {
        MODELROUTE_WORKLOAD: workload,
      }),
    ).toEqual({
      code: 2,
      err: '--identity sidecar serves every request as this pod, so its data port must listen only inside the pod: use --host 127.0.0.1, not 0.0.0.0',
    });
  });

  test('a sidecar without MODELROUTE_WORKLOAD says the injector sets it', async () => {
    expect((await refusedWith(['--identity=sidecar'])).err).toMatch(
      /--identity sidecar needs MODELROUTE_WORKLOAD .* the sidecar injector sets it/,
    );
    expect(
      (await refusedWith(['--identity=sidecar'], { MODELROUTE_WORKLOAD: '{"namespace":1}' })).err,
    ).toMatch(/^MODELROUTE_WORKLOAD must be \{"namespace","serviceAccount","labels"\}/);
  });

  test('unknown modes, bad tenant names and cache TTLs over 10m are refused', async () => {
    expect((await refusedWith(['--identity=pod'])).err).toBe(
      '--identity must be one of local, sidecar, gateway',
    );
    expect((await refusedWith(['--tenant=Acme Corp'])).err).toMatch(
      /^--tenant must be a ModelTenant name/,
    );
    expect((await refusedWith(['--identity=gateway', '--token-cache-ttl=1h'])).err).toBe(
      '--token-cache-ttl must be at most 10m',
    );
    expect(
      (await refusedWith([], { MODELROUTE_IDENTITY: 'gateway', MODELROUTE_TENANT: 'acme' })).code,
    ).toBe(2);
  });
});

describe('--quota-store (exact-mode limits) is checked before anything listens', () => {
  test('only redis:// or rediss:// URLs, naming the flag, the env and what to write', async () => {
    expect(await refused(['--quota-store=http://redis:6379'])).toEqual({
      code: 2,
      err: '--quota-store (or MODELROUTE_QUOTA_STORE): the quota store URL must start with redis:// or rediss:// (TLS), not http://',
    });
    expect(await refused([], { MODELROUTE_QUOTA_STORE: 'redis.quota.svc:6379' })).toEqual({
      code: 2,
      err: '--quota-store (or MODELROUTE_QUOTA_STORE): the quota store URL must start with redis:// or rediss:// (TLS), not redis.quota.svc://',
    });
  });

  test('a refused URL never repeats its password', async () => {
    const { code, err } = await refused([
      '--quota-store=redis://:pw-do-not-print@redis:6379/quotas',
    ]);
    expect(code).toBe(2);
    expect(err).toContain("the quota store URL's path is the database number (such as /0)");
    expect(err).not.toContain('pw-do-not-print');
  });
});
