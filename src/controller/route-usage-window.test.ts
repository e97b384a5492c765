import { RouteUsageWindow } from './route-usage-window.js';

const T0 = 10 * 60_000;
const report = (startedAt: number | undefined, requests: number, costUsd = requests / 1000) => ({
  startedAt,
  routes: [{ routeId: 'team/chat', requests, costUsd }],
});

test('a proxy that started before this term is a baseline on first sight; then deltas count', () => {
  let now = T0;
  const usage = new RouteUsageWindow(() => now, T0);
  // Its totals may hold days of traffic, already in the status this window was seeded from.
  expect(usage.observe('team/a', report(T0 - 86_400_000, 1000))).toEqual(new Set());
  expect(usage.summary('team/chat')).toBeUndefined();
  now += 5_000;
  expect(usage.observe('team/a', report(T0 - 86_400_000, 1010))).toEqual(new Set(['team/chat']));
  now += 5_000;
  expect(usage.observe('team/a', report(T0 - 86_400_000, 1010))).toEqual(new Set());
  expect(usage.observe('team/a', report(T0 - 86_400_000, 1012))).toEqual(new Set(['team/chat']));
  expect(usage.summary('team/chat')).toEqual({ window: '1h', requests: 12, costUSD: 0.012 });
});

test('issue 11 class 11: a proxy started while we count counts its first report in full', () => {
  let now = T0;
  const usage = new RouteUsageWindow(() => now, T0);
  now += 60_000;
  // Started 30 s ago, after the term began: all 30 requests were served while we watched.
  usage.observe('team/a', report(now - 30_000, 30));
  expect(usage.summary('team/chat')?.requests).toBe(30);
});

test('a route a known proxy reports for the first time counts in full (it was zero before)', () => {
  const now = T0;
  const usage = new RouteUsageWindow(() => now, T0);
  const started = T0 - 3_600_000;
  usage.observe('team/a', { startedAt: started, routes: [] });
  usage.observe('team/a', report(started, 30));
  expect(usage.summary('team/chat')?.requests).toBe(30);
});

test('a restarted proxy (start moved, or a counter went down) counts its new totals; an hour later it is all gone', () => {
  let now = T0;
  const usage = new RouteUsageWindow(() => now, T0);
  usage.observe('team/a', report(T0 - 1000, 0));
  usage.observe('team/a', report(T0 - 1000, 100, 1));
  now += 60_000;
  // Restarted 10 s ago and already served more than before: only the start tells.
  usage.observe('team/a', report(now - 10_000, 150, 1.5));
  expect(usage.summary('team/chat')).toEqual({ window: '1h', requests: 250, costUSD: 2.5 });
  now += 60_000;
  // An old proxy without uptime: a counter that went down still means a restart.
  usage.observe('team/b', report(undefined, 50));
  usage.observe('team/b', report(undefined, 3));
  expect(usage.summary('team/chat')?.requests).toBe(253);
  now += 3_660_000;
  expect(usage.summary('team/chat')).toBeUndefined();
});

test('the same process reported with a second of uptime jitter is not a restart', () => {
  let now = T0;
  const usage = new RouteUsageWindow(() => now, T0);
  const started = T0 - 100_000;
  usage.observe('team/a', report(started, 10));
  now += 5_000;
  usage.observe('team/a', report(started + 900, 12));
  expect(usage.summary('team/chat')?.requests).toBe(2);
});

test('pods that are gone are forgotten: a new pod with the same name starts again', () => {
  const usage = new RouteUsageWindow(() => T0, T0);
  usage.observe('team/a', report(T0 - 5000, 0));
  usage.observe('team/a', report(T0 - 5000, 10));
  usage.forgetPodsExcept(new Set(['team/b']));
  usage.observe('team/a', report(T0 - 5000, 4));
  usage.observe('team/a', report(T0 - 5000, 6));
  expect(usage.summary('team/chat')?.requests).toBe(12);
});

test('seeded from status on a leader change: the figure carries over, then ages out over the hour', () => {
  let now = T0;
  const usage = new RouteUsageWindow(() => now, T0);
  usage.seed('team/chat', { requests: 130, costUSD: 1.3 });
  expect(usage.summary('team/chat')).toEqual({ window: '1h', requests: 130, costUSD: 1.3 });
  // New traffic adds to it.
  usage.observe('team/a', report(T0 + 1000, 20, 0.2));
  expect(usage.summary('team/chat')).toEqual({ window: '1h', requests: 150, costUSD: 1.5 });
  now += 30 * 60_000;
  const half = usage.summary('team/chat')!;
  // About half the seeded 130 is left (the remainder sits in the newest buckets).
  expect(half.requests).toBeGreaterThanOrEqual(20 + 60);
  expect(half.requests).toBeLessThanOrEqual(20 + 75);
  now += 31 * 60_000;
  expect(usage.summary('team/chat')).toBeUndefined();
});

test('property: over random polls, restarts and leader changes nothing is counted twice or lost from a proxy born in the term', () => {
  // Seeded PRNG (mulberry32): repeatable.
  let seed = 11;
  const random = () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let run = 0; run < 200; run++) {
    let now = T0;
    const usage = new RouteUsageWindow(() => now, T0);
    let served = 0;
    let proxy = { startedAt: T0 + 1000, total: 0 };
    for (let step = 0; step < 30; step++) {
      now += 1000 + Math.floor(random() * 5000);
      if (random() < 0.1) proxy = { startedAt: now - Math.floor(random() * 500), total: 0 };
      const n = Math.floor(random() * 10);
      proxy.total += n;
      served += n;
      if (random() < 0.8) usage.observe('team/a', report(proxy.startedAt, proxy.total, 0));
    }
    usage.observe('team/a', report(proxy.startedAt, proxy.total, 0));
    // Requests served by a process that restarted before it was ever polled are unknowable.
    expect(usage.summary('team/chat')?.requests ?? 0).toBeLessThanOrEqual(served);
    expect(usage.summary('team/chat')?.requests ?? 0).toBeGreaterThanOrEqual(proxy.total);
  }
});

test('a route nobody asks about keeps at most an hour of buckets', () => {
  let now = T0;
  const usage = new RouteUsageWindow(() => now, T0);
  const windowed = usage as unknown as { window: { buckets: Map<string, Map<number, unknown>> } };
  for (let minute = 0; minute < 24 * 60; minute++) {
    usage.observe('team/a', report(T0, minute + 1));
    now += 60_000;
  }
  expect(windowed.window.buckets.get('team/chat')?.size).toBeLessThanOrEqual(61);
  expect(usage.summary('team/chat')?.requests).toBe(60);
});
