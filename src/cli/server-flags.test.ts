import { resolveIdentitySettings, resolveServerSettings } from './server-flags.js';

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

describe('--access-log-sample-rate and OpenTelemetry (issue 16)', () => {
  const defaults = { port: '8080', adminPort: '9901', adminHost: '127.0.0.1' };
  const resolve = (values: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
    resolveServerSettings(values, env, defaults);

  test('from the flag or MODELROUTE_ACCESS_LOG_SAMPLE_RATE, the flag first; absent: the command decides', () => {
    expect(resolve({})).toMatchObject({ ok: true, settings: { accessLogSampleRate: undefined } });
    expect(resolve({ 'access-log-sample-rate': '0.25' })).toMatchObject({
      settings: { accessLogSampleRate: 0.25 },
    });
    expect(
      resolve({ 'access-log-sample-rate': '1' }, { MODELROUTE_ACCESS_LOG_SAMPLE_RATE: '0' }),
    ).toMatchObject({ settings: { accessLogSampleRate: 1 } });
    expect(resolve({}, { MODELROUTE_ACCESS_LOG_SAMPLE_RATE: '0' })).toMatchObject({
      settings: { accessLogSampleRate: 0 },
    });
  });

  test('outside 0..1, or not a number: refused, saying the range', () => {
    for (const bad of ['1.5', '-0.1', 'often'])
      expect(resolve({ 'access-log-sample-rate': bad })).toEqual({
        ok: false,
        message: expect.stringContaining('--access-log-sample-rate must be') as string,
      });
  });

  test('OTEL_EXPORTER_OTLP_ENDPOINT is left to the SDK: --otlp-endpoint is the flag only', () => {
    expect(resolve({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toMatchObject({
      settings: { otlpEndpoint: undefined },
    });
  });
});
