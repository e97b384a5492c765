// Backends a proxy cannot get the key of, from its stats to route status:
// remembered per pod, a reconcile only when that changes, and the route's
// status naming the backend, how many proxies lack the key and the fix.
import { route } from '../routing/__fixtures__/objects.js';
import type { BackendHealth } from './backend-health.js';
import { ProxyCredentialGaps } from './proxy-credential-gaps.js';
import type { ProxyStats } from './proxy-fleet.js';
import { proxyKeyGap } from './reconcile-namespace.js';
import { seededRandom } from '../routing/random.js';
import { StatsCollector } from './stats-collector.js';
import { computeRouteStatus, type BackendView } from './status/route-status.js';

const REASON =
  'Secret "provider" key "apiKey" is not mounted in this pod (it was admitted before a backend referenced it, or the Secret lacks the key): restart the pod so the sidecar injector mounts it (kubectl rollout restart deployment/<its deployment> -n team)';

function stats(unavailable?: { backendId: string; reason: string }[]): ProxyStats {
  return {
    tableVersion: 'v1',
    backends: [],
    routes: [],
    calibration: [],
    ...(unavailable ? { credentials: { unavailable } } : {}),
  };
}

describe('ProxyCredentialGaps', () => {
  test('changed namespaces only when what a pod says changes; silent and older pods keep or claim nothing', () => {
    const gaps = new ProxyCredentialGaps();
    const pods = new Set(['team/p1', 'team/p2', 'other/p3']);
    const lacking = [{ backendId: 'team/keyed', reason: REASON }];
    const first = new Map([
      ['team/p1', stats(lacking)],
      ['team/p2', stats([])],
      ['other/p3', stats()], // older than the field
    ]);
    expect([...gaps.update(first, pods)]).toEqual(['team']);
    expect([...gaps.update(first, pods)]).toEqual([]); // same again: no reconcile
    // p1 did not answer this time: what it said stands.
    expect([...gaps.update(new Map([['team/p2', stats([])]]), pods)]).toEqual([]);
    expect(gaps.lacking('team/keyed', ['team/p1', 'team/p2'])).toEqual([
      { pod: 'team/p1', reason: REASON },
    ]);
    // The key appeared.
    expect([...gaps.update(new Map([['team/p1', stats([])]]), pods)]).toEqual(['team']);
    expect(gaps.lacking('team/keyed', ['team/p1', 'team/p2'])).toEqual([]);
    // A pod that goes takes its gaps with it.
    gaps.update(new Map([['team/p1', stats(lacking)]]), pods);
    expect([...gaps.update(new Map(), new Set(['team/p2']))]).toEqual(['team']);
    expect(gaps.lacking('team/keyed', ['team/p1'])).toEqual([]);
  });
});

test('property: after any sequence of collections, lacking() is what each present pod last said, and a namespace is reported changed exactly when its answer changed', () => {
  const rng = seededRandom(13);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const allPods = ['a/p1', 'a/p2', 'b/p1', 'b/p2', 'c/p1'];
  const backendIds = ['a/x', 'b/y', 'p/z'];
  const reasons = ['not mounted', 'being fetched', 'refused: no grant'];
  const gaps = new ProxyCredentialGaps();
  const model = new Map<string, Map<string, string>>();
  const answer = () =>
    new Map(
      allPods.flatMap((pod) =>
        backendIds.map((b) => [`${pod} ${b}`, gaps.lacking(b, [pod])[0]?.reason]),
      ),
    );
  for (let step = 0; step < 2_000; step += 1) {
    const pods = new Set(allPods.filter(() => rng() < 0.8));
    const reports = new Map<string, ProxyStats>();
    for (const pod of pods) {
      if (rng() < 0.3) continue; // did not answer this time
      if (rng() < 0.1) {
        reports.set(pod, stats()); // an older proxy: claims nothing
        model.delete(pod);
        continue;
      }
      const said = new Map(backendIds.filter(() => rng() < 0.3).map((b) => [b, pick(reasons)]));
      reports.set(pod, stats([...said].map(([backendId, reason]) => ({ backendId, reason }))));
      model.set(pod, said);
    }
    for (const pod of [...model.keys()]) if (!pods.has(pod)) model.delete(pod);
    const before = answer();
    const changed = gaps.update(reports, pods);
    const after = answer();
    for (const pod of allPods)
      for (const b of backendIds) expect(after.get(`${pod} ${b}`)).toBe(model.get(pod)?.get(b));
    const differing = new Set(
      [...after].filter(([k, v]) => before.get(k) !== v).map(([k]) => k.slice(0, k.indexOf('/'))),
    );
    expect([...changed].sort()).toEqual([...differing].sort());
  }
});

test('the stats collector enqueues the namespace when a proxy starts or stops lacking a key, not on every collection', async () => {
  let reports = new Map<string, ProxyStats>();
  const enqueued: string[] = [];
  const collector = new StatsCollector({
    collect: () => Promise.resolve({ stats: reports, pods: ['team/p1'] }),
    observeRunningVersion: () => {},
    routes: () => [],
    health: { observePassive: () => {} } as unknown as BackendHealth,
    now: () => 0,
    enqueue: (ns) => enqueued.push(ns),
    usageIntervalMs: 0,
  });
  collector.start();
  reports = new Map([['team/p1', stats([{ backendId: 'team/keyed', reason: REASON }])]]);
  await collector.collect();
  await collector.collect();
  expect(enqueued).toEqual(['team']);
  expect(collector.keyLacking('team/keyed', ['team/p1'])).toEqual([
    { pod: 'team/p1', reason: REASON },
  ]);
  reports = new Map([['team/p1', stats([])]]);
  await collector.collect();
  expect(enqueued).toEqual(['team', 'team']);
  expect(collector.keyLacking('team/keyed', ['team/p1'])).toEqual([]);
});

describe('proxyKeyGap', () => {
  const lackingOn =
    (pods: string[]) =>
    (_id: string, selected: readonly string[]): { pod: string; reason: string }[] =>
      selected.filter((p) => pods.includes(p)).map((pod) => ({ pod, reason: REASON }));
  const selected = ['team/p1', 'team/p2', 'team/p3'];

  test('some proxies: counted, with the first reason and pod; still usable', () => {
    expect(proxyKeyGap('team/keyed', selected, lackingOn(['team/p1', 'team/p3']))).toEqual({
      message: `backend team/keyed: 2 of 3 proxies cannot get its key (team/p1: ${REASON})`,
      everywhere: false,
    });
  });

  test('every selected proxy: everywhere; none, or pods the route does not select: nothing', () => {
    expect(proxyKeyGap('team/keyed', selected, lackingOn(selected))?.everywhere).toBe(true);
    expect(proxyKeyGap('team/keyed', selected, lackingOn(['team/other']))).toBeUndefined();
    expect(proxyKeyGap('team/keyed', selected, undefined)).toBeUndefined();
  });
});

describe('route status with a backend whose key proxies lack', () => {
  const chat = route(
    'chat',
    { rules: [{ name: 'r', backendRefs: [{ name: 'keyed' }, { name: 'open' }] }] },
    { namespace: 'team' },
  );
  const healthy: BackendView = { exists: true, health: 'Healthy' };
  const status = (keyed: BackendView, open: BackendView = healthy) =>
    computeRouteStatus({
      route: chat,
      problems: [],
      backends: new Map([
        ['keyed', keyed],
        ['open', open],
      ]),
      proxies: { desired: 3, programmed: 3 },
      nowMs: 0,
    });
  const condition = (s: ReturnType<typeof status>, type: string) =>
    s.conditions?.find((c) => c.type === type);
  const partial = `backend team/keyed: 2 of 3 proxies cannot get its key (team/p1: ${REASON})`;
  const all = `backend team/keyed: 3 of 3 proxies cannot get its key (team/p1: ${REASON})`;

  test('some proxies lack it: marked in backends[], ResolvedRefs False with the fix, Ready True naming it, still usable', () => {
    const s = status({
      ...healthy,
      reason: 'CredentialsUnavailable',
      keyMissingOnSome: partial,
    });
    expect(s.backends?.[0]).toEqual({
      name: 'keyed',
      health: 'Healthy',
      reason: 'CredentialsUnavailable',
    });
    expect(condition(s, 'ResolvedRefs')).toMatchObject({
      status: 'False',
      reason: 'CredentialsUnavailable',
      message: partial,
    });
    expect(condition(s, 'Ready')).toMatchObject({
      status: 'True',
      message: expect.stringContaining(`with 2/2 usable backends; ${partial}`) as string,
    });
  });

  test('no proxy has it: not usable; Ready stays True only while another backend serves, saying so', () => {
    const keyed: BackendView = { ...healthy, reason: 'CredentialsUnavailable', unavailable: all };
    expect(condition(status(keyed), 'Ready')).toMatchObject({
      status: 'True',
      message: expect.stringContaining(`with 1/2 usable backends; ${all}`) as string,
    });
    const down: BackendView = { exists: true, health: 'Unhealthy' };
    expect(condition(status(keyed, down), 'Ready')).toMatchObject({
      status: 'False',
      reason: 'CredentialsUnavailable',
      message: expect.stringContaining('kubectl rollout restart') as string,
    });
  });
});
