import { RouteUsage } from './route-usage.js';

test('counts requests and cost per route, cumulatively, sorted by route', () => {
  const usage = new RouteUsage();
  usage.request('team/chat');
  usage.request('team/chat');
  usage.cost('team/chat', 0.002);
  usage.request('team/batch');
  usage.cost('team/batch', Number.NaN); // never poisons the sum
  usage.cost('team/batch', -1);
  expect(usage.stats()).toEqual([
    { routeId: 'team/batch', requests: 1, costUsd: 0 },
    { routeId: 'team/chat', requests: 2, costUsd: 0.002 },
  ]);
});
