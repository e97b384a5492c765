import { modelRoute } from '../api/v1alpha1/index.js';
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

function setup() {
  let now = Date.UTC(2026, 0, 1);
  let reports = new Map<string, ProxyStats>();
  const enqueued: string[] = [];
  const passive: string[] = [];
  const collector = new StatsCollector({
    collect: () => Promise.resolve({ stats: reports, pods: [...reports.keys()] }),
    observeRunningVersion: () => {},
    routes: () => [chat],
    health: { observePassive: (id: string) => passive.push(id) } as unknown as BackendHealth,
    now: () => now,
    enqueue: (ns) => enqueued.push(ns),
    usageIntervalMs: 0,
  });
  const report = (uptimeSeconds: number, requests: number): ProxyStats => ({
    tableVersion: null,
    uptimeSeconds,
    backends: [{ backendId: 'team/a', requests, successes: requests, failures: {} }],
    routes: [{ routeId: 'team/chat', requests, costUsd: requests / 100 }],
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
