import { RouteUsageWindow } from './route-usage-window.js';

test('sums the deltas of every pod over the last hour', () => {
  let now = 10 * 60_000;
  const usage = new RouteUsageWindow(() => now);
  // First reports are baselines: they may hold days of traffic.
  expect(usage.observe('team/a', 'team/chat', { requests: 1000, costUsd: 1 })).toBe(false);
  expect(usage.observe('team/b', 'team/chat', { requests: 0, costUsd: 0 })).toBe(false);
  expect(usage.summary('team/chat')).toBeUndefined();
  expect(usage.observe('team/a', 'team/chat', { requests: 1010, costUsd: 1.01 })).toBe(true);
  expect(usage.observe('team/b', 'team/chat', { requests: 5, costUsd: 0.005 })).toBe(true);
  now += 5_000;
  expect(usage.observe('team/a', 'team/chat', { requests: 1010, costUsd: 1.01 })).toBe(false);
  expect(usage.observe('team/a', 'team/chat', { requests: 1012, costUsd: 1.012 })).toBe(true);
  expect(usage.summary('team/chat')).toEqual({ window: '1h', requests: 17, costUSD: 0.017 });
  expect(usage.summary('team/other')).toBeUndefined();
});

test('a proxy that restarted counts from its new total; an hour later it is all gone', () => {
  let now = 0;
  const usage = new RouteUsageWindow(() => now);
  usage.observe('team/a', 'team/chat', { requests: 0, costUsd: 0 });
  usage.observe('team/a', 'team/chat', { requests: 100, costUsd: 1 });
  now += 60_000;
  usage.observe('team/a', 'team/chat', { requests: 3, costUsd: 0.03 });
  expect(usage.summary('team/chat')).toEqual({ window: '1h', requests: 103, costUSD: 1.03 });
  now += 60 * 60_000;
  expect(usage.summary('team/chat')?.requests).toBe(3);
  now += 60_000;
  expect(usage.summary('team/chat')).toBeUndefined();
});

test('pods that are gone are forgotten: a new pod with the same name starts a new baseline', () => {
  const usage = new RouteUsageWindow(() => 0);
  usage.observe('team/a', 'team/chat', { requests: 0, costUsd: 0 });
  usage.observe('team/a', 'team/chat', { requests: 10, costUsd: 0 });
  usage.forgetPodsExcept(new Set(['team/b']));
  expect(usage.observe('team/a', 'team/chat', { requests: 4, costUsd: 0 })).toBe(false);
  usage.observe('team/a', 'team/chat', { requests: 6, costUsd: 0 });
  expect(usage.summary('team/chat')?.requests).toBe(12);
});
