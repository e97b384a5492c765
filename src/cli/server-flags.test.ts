import { resolveIdentitySettings } from './server-flags.js';

const workload = JSON.stringify({
  namespace: 'team-a',
  serviceAccount: 'app',
  labels: { app: 'assistant' },
});

test('local is the default; --tenant or MODELROUTE_TENANT names the caller, the flag first', () => {
  expect(resolveIdentitySettings({}, {}, '127.0.0.1')).toEqual({
    ok: true,
    identity: { mode: 'local', tenant: undefined },
  });
  expect(
    resolveIdentitySettings({ tenant: 'acme' }, { MODELROUTE_TENANT: 'globex' }, '0.0.0.0'),
  ).toEqual({ ok: true, identity: { mode: 'local', tenant: 'acme' } });
  expect(resolveIdentitySettings({}, { MODELROUTE_TENANT: 'globex' }, '0.0.0.0')).toMatchObject({
    identity: { tenant: 'globex' },
  });
});

test('gateway: audience and cache TTL from flags or env, with defaults', () => {
  expect(resolveIdentitySettings({ identity: 'gateway' }, {}, '0.0.0.0')).toEqual({
    ok: true,
    identity: { mode: 'gateway', audience: 'modelroute', tokenCacheTtlMs: 60_000 },
  });
  expect(
    resolveIdentitySettings(
      {},
      {
        MODELROUTE_IDENTITY: 'gateway',
        MODELROUTE_TOKEN_AUDIENCE: 'llm',
        MODELROUTE_TOKEN_CACHE_TTL: '2m',
      },
      '0.0.0.0',
    ),
  ).toEqual({
    ok: true,
    identity: { mode: 'gateway', audience: 'llm', tokenCacheTtlMs: 120_000 },
  });
});

test('sidecar: the pod from MODELROUTE_WORKLOAD and POD_NAME, on a loopback host', () => {
  expect(
    resolveIdentitySettings(
      { identity: 'sidecar' },
      { MODELROUTE_WORKLOAD: workload, POD_NAME: 'assistant-1' },
      '127.0.0.1',
    ),
  ).toEqual({
    ok: true,
    identity: {
      mode: 'sidecar',
      workload: {
        kind: 'workload',
        namespace: 'team-a',
        serviceAccount: 'app',
        labels: { app: 'assistant' },
        pod: 'assistant-1',
      },
    },
  });
});

test('every problem is reported at once', () => {
  const r = resolveIdentitySettings({ identity: 'sidecar', tenant: 'acme' }, {}, '0.0.0.0');
  expect(r.ok).toBe(false);
  if (r.ok) return;
  expect(r.message.split('\n')).toEqual([
    expect.stringMatching(/^--tenant names the caller in local mode only/),
    expect.stringMatching(/must listen only inside the pod/),
    expect.stringMatching(/the sidecar injector sets it/),
  ]);
});
