import { modelRoute } from '../api/v1alpha1/index.js';
import { ScoreSketch } from '../routing/difficulty/calibration/score-sketch.js';
import { ruleKey } from '../routing/table.js';
import type { BackendHealth } from './backend-health.js';
import type { ProxyStats } from './proxy-fleet.js';
import { StatsCollector } from './stats-collector.js';

const chat = modelRoute.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelRoute',
  metadata: { name: 'chat', namespace: 'team' },
  spec: { model: 'chat', rules: [{ name: 'main', backendRefs: [{ name: 'a' }] }] },
  status: { usage: { window: '1h', requests: 120, costUSD: 1.2 } },
});

function setup(routes = [chat], usageIntervalMs = 0) {
  let now = Date.UTC(2026, 0, 1);
  let reports = new Map<string, ProxyStats>();
  const enqueued: string[] = [];
  const passive: string[] = [];
  const collector = new StatsCollector({
    collect: () => Promise.resolve({ stats: reports, pods: [...reports.keys()] }),
    observeRunningVersion: () => {},
    routes: () => routes,
    health: { observePassive: (id: string) => passive.push(id) } as unknown as BackendHealth,
    now: () => now,
    enqueue: (ns) => enqueued.push(ns),
    usageIntervalMs,
  });
  const report = (uptimeSeconds: number, requests: number): ProxyStats => ({
    tableVersion: null,
    uptimeSeconds,
    backends: [{ backendId: 'team/a', requests, successes: requests, failures: {} }],
    routes: [{ routeId: 'team/chat', requests, costUsd: requests / 100 }],
    calibration: [],
  });
  return {
    collector,
    enqueued,
    advance: (ms: number) => (now += ms),
    set: (r: Record<string, ProxyStats>) => (reports = new Map(Object.entries(r))),
    report,
  };
}

test('a new term continues from status.usage, and a proxy born in the term counts from its first report', async () => {
  const s = setup();
  expect(s.collector.routeUsage('team/chat')).toBeNull(); // between terms: nothing counted
  s.collector.start();
  expect(s.collector.routeUsage('team/chat')).toEqual({
    window: '1h',
    requests: 120,
    costUSD: 1.2,
  });
  s.advance(10_000);
  // A proxy up for 5 s started after the term began: its 7 requests are all new.
  s.set({ 'team/p1': s.report(5, 7) });
  await s.collector.collect();
  expect(s.collector.routeUsage('team/chat')?.requests).toBe(127);
  expect(s.enqueued).toEqual(['team']);
  // A proxy up for a day is a baseline: its history is in the seeded figure.
  s.advance(5_000);
  s.set({ 'team/p1': s.report(10, 7), 'team/p2': s.report(86_400, 5_000) });
  await s.collector.collect();
  expect(s.collector.routeUsage('team/chat')?.requests).toBe(127);
  s.collector.stop();
  expect(s.collector.routeUsage('team/chat')).toBeNull();
});

test('a collection that finishes after its term ended counts nothing', async () => {
  const s = setup();
  s.collector.start();
  s.set({ 'team/p1': s.report(1, 3) });
  const pending = s.collector.collect();
  s.collector.stop();
  s.collector.start();
  await pending;
  expect(s.collector.routeUsage('team/chat')?.requests).toBe(120);
});

const tiered = modelRoute.parse({
  apiVersion: 'modelroute.io/v1alpha1',
  kind: 'ModelRoute',
  metadata: { name: 'tiered', namespace: 'team' },
  spec: {
    model: 'tiered',
    rules: [
      {
        name: 'by-difficulty',
        strategy: 'cost-quality',
        costQuality: { strongShare: 0.2 },
        backendRefs: [{ name: 'weak' }, { name: 'strong' }],
      },
    ],
  },
  status: {
    strongShare: { target: 0.2, realized: 0.25, threshold: 0.7, decisions: 400, window: '1h' },
  },
});

test('strongShare: a new term keeps the threshold in status; a fleet view with weight moves it and asks for a push at once', async () => {
  // A usage interval of an hour: a moved threshold must not wait for it.
  const s = setup([tiered], 3_600_000);
  const key = ruleKey('team/tiered', 'by-difficulty');
  s.collector.start();
  expect(s.collector.liveThresholds()).toEqual(new Map([[key, 0.7]]));
  expect(s.collector.strongShareDecisions(key)).toEqual({ decisions: 400, strong: 100 });

  const calibrated = (uptimeSeconds: number, decisions: number, strong: number) => {
    const sketch = new ScoreSketch();
    for (let i = 0; i < 600; i++) sketch.add(0.1 + (i / 600) * 0.4); // traffic spread over 0.1..0.5
    return {
      ...s.report(uptimeSeconds, 0),
      calibration: [
        {
          routeId: 'team/tiered',
          rule: 'by-difficulty',
          targetStrongShare: 0.2,
          threshold: 0.7,
          decisions,
          strong,
          sketch: sketch.toWire(),
        },
      ],
    };
  };
  s.advance(10_000);
  s.set({ 'team/p1': calibrated(5, 600, 120) });
  await s.collector.collect();
  expect(s.enqueued).toEqual(['team']);
  const live = s.collector.liveThresholds().get(key) as number;
  // 0.8 of 600 observed over 0.1..0.5 (plus the small prior) lies near 0.42.
  expect(live).toBeGreaterThan(0.41);
  expect(live).toBeLessThan(0.44);
  expect(s.collector.strongShareDecisions(key)).toEqual({ decisions: 1000, strong: 220 });

  // The same view again: nothing to push; new decisions wait for the usage interval.
  s.advance(5_000);
  s.set({ 'team/p1': calibrated(10, 700, 140) });
  await s.collector.collect();
  expect(s.enqueued).toEqual(['team']);
  expect(s.collector.strongShareDecisions(key)).toEqual({ decisions: 1100, strong: 240 });

  // The pod leaves the fleet: its sketch no longer speaks, the held threshold stays.
  s.set({});
  await s.collector.collect();
  expect(s.collector.liveThresholds().get(key)).toBe(live);
  s.collector.stop();
  expect(s.collector.liveThresholds()).toEqual(new Map());
});

test('a change that lands within the usage interval is looked at again once the interval passed, until status agrees', async () => {
  const s = setup([chat], 10_000);
  s.collector.start();
  s.advance(1_000);
  s.set({ 'team/p1': s.report(1, 5) });
  await s.collector.collect();
  expect(s.enqueued).toEqual(['team']);
  // Five more requests a second later: too soon for another reconcile.
  s.advance(1_000);
  s.set({ 'team/p1': s.report(2, 10) });
  await s.collector.collect();
  expect(s.enqueued).toEqual(['team']);
  // No new traffic, but status (still 120 here) lags the 130 counted: looked at again.
  s.advance(10_000);
  s.set({ 'team/p1': s.report(12, 10) });
  await s.collector.collect();
  expect(s.enqueued).toEqual(['team', 'team']);
});

test('listeners hear every collection with its stats and pods; one that throws does not stop the next', async () => {
  const heard: string[][] = [];
  const errors: unknown[] = [];
  const collector = new StatsCollector({
    collect: () =>
      Promise.resolve({
        stats: new Map<string, ProxyStats>(),
        pods: ['team/p1', 'team/p2'],
      }),
    observeRunningVersion: () => {},
    routes: () => [],
    health: { observePassive: () => {} } as unknown as BackendHealth,
    now: () => 0,
    enqueue: () => {},
    usageIntervalMs: 0,
    listeners: [
      () => {
        throw new Error('boom');
      },
      (c) => heard.push([...c.pods]),
    ],
    onListenerError: (err) => errors.push(err),
  });
  collector.start();
  await collector.collect();
  await collector.collect();
  expect(heard).toEqual([
    ['team/p1', 'team/p2'],
    ['team/p1', 'team/p2'],
  ]);
  expect(errors).toHaveLength(2);
});

test('calls hanging on a dead backend are not read as calls that succeeded (issue 15, seen on a real node)', async () => {
  const seen: { ok: boolean; message: string }[] = [];
  let reports = new Map<string, ProxyStats>();
  const collector = new StatsCollector({
    collect: () => Promise.resolve({ stats: reports, pods: [...reports.keys()] }),
    observeRunningVersion: () => {},
    routes: () => [chat],
    health: {
      observePassive: (_id: string, s: { ok: boolean; message: string }) => seen.push(s),
    } as unknown as BackendHealth,
    now: () => Date.UTC(2026, 0, 1),
    enqueue: () => {},
    usageIntervalMs: 0,
  });
  const counters = (requests: number, successes: number, timeouts: number): ProxyStats => ({
    tableVersion: null,
    uptimeSeconds: 100,
    backends: [{ backendId: 'team/a', requests, successes, failures: { timeout: timeouts } }],
    routes: [],
    calibration: [],
  });
  collector.start();
  reports = new Map([['team/p1', counters(20, 20, 0)]]);
  await collector.collect();
  expect(seen).toEqual([expect.objectContaining({ ok: true })]);
  seen.length = 0;
  // The backend dies: 12 calls begin, 2 have timed out so far, 10 still hang.
  reports = new Map([['team/p1', counters(32, 20, 2)]]);
  await collector.collect();
  expect(seen).toEqual([]); // two finished calls say nothing yet
  // No new call begins (the proxy stopped sending), the 10 hanging ones fail.
  reports = new Map([['team/p1', counters(32, 20, 12)]]);
  await collector.collect();
  expect(seen).toEqual([
    expect.objectContaining({ ok: false, message: 'proxies saw 12 of 12 calls fail (100%)' }),
  ]);
  collector.stop();
});
