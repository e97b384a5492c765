import type { Pod as PodObject } from '../k8s/kinds.js';
import { proxyPodOf } from './controller.js';
import { workloadOf } from './proxy-pod.js';

function pod(status: PodObject['status'], extra: Partial<PodObject['metadata']> = {}): PodObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-1',
      namespace: 'team',
      uid: 'u1',
      labels: { 'modelroute.io/proxy': 'true' },
      annotations: { 'modelroute.io/admin-port': '9911' },
      ...extra,
    },
    status,
  } as PodObject;
}

describe('proxyPodOf', () => {
  test('a running proxy pod with an address gets tables even before it is Ready', () => {
    // Its readiness waits for the first table: requiring Ready would never push one.
    expect(
      proxyPodOf(
        pod({
          phase: 'Running',
          podIP: '10.0.0.7',
          conditions: [{ type: 'Ready', status: 'False' }],
        }),
      ),
    ).toEqual({
      key: 'team/web-1',
      namespace: 'team',
      name: 'web-1',
      uid: 'u1',
      labels: { 'modelroute.io/proxy': 'true' },
      adminUrl: 'http://10.0.0.7:9911',
    });
  });

  test.each([
    ['no address yet', pod({ phase: 'Pending' })],
    ['not running', pod({ phase: 'Pending', podIP: '10.0.0.7' })],
    ['finished', pod({ phase: 'Succeeded', podIP: '10.0.0.7' })],
    [
      'being deleted',
      pod({ phase: 'Running', podIP: '10.0.0.7' }, { deletionTimestamp: '2026-01-01T00:00:00Z' }),
    ],
    ['not a proxy', pod({ phase: 'Running', podIP: '10.0.0.7' }, { labels: {} })],
  ])('%s: no table', (_why, p) => {
    expect(proxyPodOf(p)).toBeUndefined();
  });

  test('an IPv6 address is bracketed in the admin URL', () => {
    expect(proxyPodOf(pod({ phase: 'Running', podIP: 'fd00::7' }))?.adminUrl).toBe(
      'http://[fd00::7]:9911',
    );
  });

  test('a pod marked for a delivered admin token is pushed with its own; others are not marked', () => {
    const running = { phase: 'Running', podIP: '10.0.0.7' } as const;
    const marked = pod(running, {
      annotations: { 'modelroute.io/admin-token': 'delivered' },
    });
    expect(proxyPodOf(marked)?.adminTokenDelivered).toBe(true);
    expect(proxyPodOf(pod(running))).not.toHaveProperty('adminTokenDelivered');
  });
});

describe('workloadOf', () => {
  const recorded = JSON.stringify({
    namespace: 'team',
    serviceAccount: 'billing',
    labels: { app: 'web' },
  });
  const withProxy = (where: 'containers' | 'initContainers', value: string) =>
    ({
      ...pod({ phase: 'Running' }),
      spec: {
        containers: [{ name: 'app' }],
        [where]: [{ name: 'modelroute-proxy', env: [{ name: 'MODELROUTE_WORKLOAD', value }] }],
      },
    }) as PodObject;

  test('reads the workload the injector recorded, as a native sidecar or a plain container', () => {
    for (const where of ['initContainers', 'containers'] as const) {
      expect(workloadOf(withProxy(where, recorded))).toEqual({
        kind: 'workload',
        namespace: 'team',
        serviceAccount: 'billing',
        labels: { app: 'web' },
        pod: 'web-1',
      });
    }
  });

  test('a pod without the record, or with one that does not parse, has no workload', () => {
    expect(workloadOf({ ...pod({ phase: 'Running' }), spec: { containers: [] } })).toBeUndefined();
    expect(workloadOf(withProxy('containers', '{not json'))).toBeUndefined();
    expect(workloadOf(withProxy('containers', '{"namespace":"team"}'))).toBeUndefined();
  });
});
