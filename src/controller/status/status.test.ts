import { modelBackend, modelRoute } from '../../api/v1alpha1/index.js';
import { computeBackendStatus } from './backend-status.js';
import { kubeTime, mergeConditions } from './conditions.js';
import { computeRouteStatus, referencedBackends, type BackendView } from './route-status.js';
import { statusChanged, statusMergePatch } from './status-diff.js';

const route = modelRoute.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelRoute',
  metadata: { name: 'chat', namespace: 'team', generation: 3 },
  spec: {
    model: 'chat',
    rules: [{ name: 'r', backendRefs: [{ name: 'a' }, { name: 'b' }] }],
    fallback: { backendRefs: [{ name: 'c' }, { name: 'a' }] },
  },
});
const backend = modelBackend.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelBackend',
  metadata: { name: 'a', namespace: 'team', generation: 2 },
  spec: {
    provider: 'openai',
    endpoint: 'https://api.openai.com/v1',
    model: 'gpt-4o',
    secretRef: { name: 'openai' },
  },
});
const views = (entries: [string, BackendView][]) => new Map(entries);
const healthy: BackendView = { exists: true, health: 'Healthy' };

describe('conditions', () => {
  test('lastTransitionTime moves only when the status changes', () => {
    const first = mergeConditions(
      undefined,
      [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'a' }],
      1,
      1_000,
    );
    const same = mergeConditions(
      first,
      [{ type: 'Ready', status: 'True', reason: 'Ready', message: 'b' }],
      2,
      9_000,
    );
    expect(same[0]).toMatchObject({
      lastTransitionTime: kubeTime(1_000),
      message: 'b',
      observedGeneration: 2,
    });
    const flipped = mergeConditions(
      same,
      [{ type: 'Ready', status: 'False', reason: 'X', message: 'c' }],
      2,
      20_000,
    );
    expect(flipped[0]?.lastTransitionTime).toBe(kubeTime(20_000));
    expect(kubeTime(20_000)).toBe('1970-01-01T00:00:20Z');
  });
});

describe('computeRouteStatus', () => {
  test('references are listed once each, rules first', () => {
    expect(referencedBackends(route)).toEqual(['a', 'b', 'c']);
  });

  test('all good: Accepted, ResolvedRefs, Programmed and Ready with n/m columns', () => {
    const status = computeRouteStatus({
      route,
      problems: [],
      backends: views([
        ['a', healthy],
        ['b', healthy],
        ['c', { exists: true, health: 'Unhealthy', reason: 'ProbeFailed' }],
      ]),
      proxies: { desired: 3, programmed: 3, routeVersion: 'sha256:abc' },
      nowMs: 0,
    });
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Accepted', 'True', 'Accepted'],
      ['ResolvedRefs', 'True', 'ResolvedRefs'],
      ['Programmed', 'True', 'Programmed'],
      ['Ready', 'True', 'Ready'],
    ]);
    expect(status).toMatchObject({
      programmed: '3/3',
      healthyBackends: '2/3',
      observedGeneration: 3,
      routeVersion: 'sha256:abc',
    });
    expect(status.backends).toEqual([
      { name: 'a', health: 'Healthy' },
      { name: 'b', health: 'Healthy' },
      { name: 'c', health: 'Unhealthy', reason: 'ProbeFailed' },
    ]);
  });

  test('a missing backend: ResolvedRefs False naming it, still Ready while others serve', () => {
    const status = computeRouteStatus({
      route,
      problems: [
        {
          code: 'BackendNotFound',
          object: { kind: 'ModelRoute', namespace: 'team', name: 'chat' },
          path: 'spec.rules[0].backendRefs[1].name',
          message: 'ModelBackend "b" not found in namespace team',
        },
      ],
      backends: views([
        ['a', healthy],
        ['b', { exists: false, health: 'Unknown' }],
        ['c', healthy],
      ]),
      proxies: { desired: 1, programmed: 1 },
      nowMs: 0,
    });
    const resolved = status.conditions?.find((c) => c.type === 'ResolvedRefs');
    expect(resolved).toMatchObject({
      status: 'False',
      reason: 'BackendNotFound',
      message: expect.stringContaining('"b"'),
    });
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
    expect(status.backends?.[1]).toEqual({ name: 'b', health: 'Unknown', reason: 'NotFound' });
  });

  test('not programmed on every proxy yet: Programmed and Ready False, Pending', () => {
    const status = computeRouteStatus({
      route,
      problems: [],
      backends: views([['a', healthy]]),
      proxies: { desired: 3, programmed: 1, routeVersion: 'v' },
      nowMs: 0,
    });
    expect(status.conditions?.find((c) => c.type === 'Programmed')).toMatchObject({
      status: 'False',
      reason: 'Pending',
      message: '1/3 proxies run route version v',
    });
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Pending',
    });
    expect(status.programmed).toBe('1/3');
  });

  test('no proxies: NoProxies; a model conflict: Accepted False', () => {
    const status = computeRouteStatus({
      route,
      problems: [
        {
          code: 'ModelConflict',
          object: { kind: 'ModelRoute', namespace: 'team', name: 'chat' },
          path: 'spec.model',
          message: 'already served',
        },
      ],
      backends: views([['a', healthy]]),
      proxies: { desired: 0, programmed: 0 },
      nowMs: 0,
    });
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Accepted', 'False', 'ModelConflict'],
      ['ResolvedRefs', 'True', 'ResolvedRefs'],
      ['Programmed', 'False', 'NoProxies'],
      ['Ready', 'False', 'ModelConflict'],
    ]);
  });

  test('a failover in effect is named in the Ready message until the backend recovers', () => {
    const failover = {
      time: '2026-11-28T10:00:00Z',
      from: 'a',
      to: 'b',
      reason: 'ModelBackend a became Unhealthy: probe failed: ECONNREFUSED',
    };
    const input = {
      route,
      problems: [],
      backends: views([
        ['a', { exists: true, health: 'Unhealthy' }],
        ['b', healthy],
        ['c', healthy],
      ]),
      proxies: { desired: 2, programmed: 2 },
      nowMs: 0,
    } as const;
    const readyMessage = (lastFailover: typeof failover & { recoveredTime?: string }) =>
      computeRouteStatus({ ...input, lastFailover }).conditions?.find((c) => c.type === 'Ready')
        ?.message;
    expect(readyMessage(failover)).toBe(
      'serving on 2 proxies with 2/3 usable backends; failed over from a to b at 2026-11-28T10:00:00Z',
    );
    expect(readyMessage({ ...failover, recoveredTime: '2026-11-28T10:05:00Z' })).toBe(
      'serving on 2 proxies with 2/3 usable backends',
    );
  });

  test('every backend unhealthy: Ready False, Unhealthy', () => {
    const down: BackendView = { exists: true, health: 'Unhealthy' };
    const status = computeRouteStatus({
      route,
      problems: [],
      backends: views([
        ['a', down],
        ['b', down],
        ['c', down],
      ]),
      proxies: { desired: 1, programmed: 1 },
      nowMs: 0,
    });
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'Unhealthy',
    });
  });
});

describe('computeBackendStatus', () => {
  const record = {
    state: 'Healthy' as const,
    consecutiveFailures: 0,
    consecutiveSuccesses: 4,
    lastProbeTime: 5_000,
    lastTransitionTime: 1_000,
    message: 'probe answered HTTP 401',
  };

  test('healthy and resolved', () => {
    const status = computeBackendStatus({
      backend,
      endpoint: { ok: true, url: 'https://api.openai.com/v1' },
      secretExists: true,
      health: record,
      nowMs: 6_000,
    });
    expect(status.conditions?.map((c) => [c.type, c.status, c.reason])).toEqual([
      ['Ready', 'True', 'Ready'],
      ['Healthy', 'True', 'Healthy'],
    ]);
    expect(status).toMatchObject({
      resolvedEndpoint: 'https://api.openai.com/v1',
      observedGeneration: 2,
      health: {
        state: 'Healthy',
        lastProbeTime: kubeTime(5_000),
        lastTransitionTime: kubeTime(1_000),
      },
    });
  });

  test('a missing Secret is a clear condition naming it, never its value', () => {
    const status = computeBackendStatus({
      backend,
      endpoint: { ok: true, url: 'u' },
      secretExists: false,
      health: record,
      nowMs: 0,
    });
    expect(status.conditions?.[0]).toMatchObject({
      status: 'False',
      reason: 'SecretNotFound',
      message: expect.stringContaining(
        'Secret "openai" (key "apiKey") not found in namespace team',
      ),
    });
  });

  test('a Secret without the referenced key: Ready False SecretKeyMissing, naming Secret and key', () => {
    const status = computeBackendStatus({
      backend,
      endpoint: { ok: true, url: 'https://api.openai.com/v1' },
      secretExists: true,
      secretHasKey: false,
      health: record,
      nowMs: 0,
    });
    expect(status.conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'False',
      reason: 'SecretKeyMissing',
      message: expect.stringContaining('Secret "openai" in namespace team has no key "apiKey"'),
    });
  });

  test('a Secret the controller may not read: Ready Unknown SecretNotReadable, saying how to fix', () => {
    const status = computeBackendStatus({
      backend,
      endpoint: { ok: true, url: 'https://api.openai.com/v1' },
      secretExists: undefined,
      secretNotReadable: true,
      health: record,
      nowMs: 0,
    });
    expect(status.conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'Unknown',
      reason: 'SecretNotReadable',
      message: expect.stringContaining('platform namespace (chart value platformNamespaces)'),
    });
  });

  test('endpoints reach status without userinfo or query, whatever was stored', () => {
    const status = computeBackendStatus({
      backend,
      endpoint: { ok: true, url: 'https://u:sk-live-123@api.example.com/v1?api-key=sk-live-123' },
      secretExists: true,
      health: record,
      nowMs: 0,
    });
    expect(JSON.stringify(status)).not.toContain('sk-live-123');
    expect(status.resolvedEndpoint).toBe('https://api.example.com/v1');
  });

  test('a Service with no ready endpoints makes the backend not Ready, naming the Service', () => {
    const viaService = modelBackend.parse({
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelBackend',
      metadata: { name: 'llama', namespace: 'team' },
      spec: { provider: 'openai-compatible', serviceRef: { name: 'vllm', port: 8000 }, model: 'm' },
    });
    const status = computeBackendStatus({
      backend: viaService,
      endpoint: { ok: true, url: 'http://vllm.team.svc.cluster.local:8000/v1' },
      secretExists: undefined,
      readyEndpoints: 0,
      health: record,
      nowMs: 0,
    });
    expect(status.conditions?.[0]).toMatchObject({
      type: 'Ready',
      status: 'False',
      reason: 'NoReadyEndpoints',
      message: expect.stringContaining('Service "vllm" has no ready endpoints'),
    });
    expect(
      computeBackendStatus({
        backend: viaService,
        endpoint: { ok: true, url: 'u' },
        secretExists: undefined,
        readyEndpoints: 2,
        health: record,
        nowMs: 0,
      }).conditions?.[0],
    ).toMatchObject({ status: 'True' });
  });

  test('unresolved endpoint and unhealthy states', () => {
    expect(
      computeBackendStatus({
        backend,
        endpoint: { ok: false, message: 'Service vllm not found' },
        secretExists: undefined,
        health: record,
        nowMs: 0,
      }).conditions?.[0],
    ).toMatchObject({ reason: 'EndpointUnresolved' });
    const down = computeBackendStatus({
      backend,
      endpoint: { ok: true, url: 'u' },
      secretExists: true,
      health: {
        ...record,
        state: 'Unhealthy',
        consecutiveFailures: 3,
        message: 'probe failed: ECONNREFUSED',
      },
      nowMs: 0,
    });
    expect(down.conditions?.map((c) => c.reason)).toEqual(['Unhealthy', 'ProbeFailed']);
    expect(down.health?.message).toBe('3 failed checks in a row; last: probe failed: ECONNREFUSED');
  });
});

describe('status diff', () => {
  test('equal content in any key order is unchanged; a merge patch nulls removed fields', () => {
    expect(statusChanged({ a: 1, b: { c: 2 } }, { b: { c: 2 }, a: 1, d: undefined })).toBe(false);
    expect(statusChanged({ a: 1 }, { a: 2 })).toBe(true);
    expect(statusMergePatch({ a: 1, b: 2, gone: 3 }, { a: 1, b: 5 })).toEqual({
      status: { b: 5, gone: null },
    });
  });

  test('a changed nested object is written whole: its dropped keys are nulled', () => {
    const older = {
      lastFailover: { time: 't1', from: 'a', to: 'b', reason: 'r1', recoveredTime: 't2' },
    };
    const newer = { lastFailover: { time: 't3', from: 'c', reason: 'r3' } };
    expect(statusMergePatch(older, newer)).toEqual({
      status: {
        lastFailover: { time: 't3', from: 'c', reason: 'r3', to: null, recoveredTime: null },
      },
    });
  });
});
