import { describe, expect, it } from '@jest/globals';
import { zeroTotals, type Attribution } from './attribution.js';
import { LedgerFeed } from './ledger-feed.js';
import { ProxyAttribution, type RequestOutcome } from './proxy-attribution.js';
import { DAY_MS, HOUR_MS, RETENTION_MS, UsageLedger } from './usage-ledger.js';

const T0 = Date.UTC(2026, 11, 4, 10, 20);
const on = (over: Partial<Attribution> = {}): Attribution => ({
  route: 'team-a/chat',
  rule: 'default',
  backend: 'team-a/cheap',
  model: 'small',
  tier: 'cheap',
  tenant: 'team-a/default',
  namespace: 'team-a',
  workload: 'web',
  ...over,
});
const outcome = (over: Partial<RequestOutcome> = {}): RequestOutcome => ({
  on: on(),
  status: 200,
  fallback: false,
  tiered: true,
  tokens: { input: 1000, output: 100 },
  costUSD: 0.001,
  mostExpensiveCostUSD: 0.01,
  strongestCostUSD: 0.008,
  durationMs: 300,
  ...over,
});

describe('UsageLedger with LedgerFeed', () => {
  it('adds what each pod counted since its last report, by dimension, over whole hours', () => {
    let now = T0;
    const ledger = new UsageLedger(() => now);
    const feed = new LedgerFeed(ledger, () => now, T0 - HOUR_MS);
    const proxy = new ProxyAttribution();
    proxy.record(outcome());
    proxy.record(
      outcome({
        on: on({ tier: 'strong', backend: 'team-a/big', tenant: 'team-b/x' }),
        costUSD: 0.008,
      }),
    );
    // A pod that started within the term counts in full; the same totals again add nothing.
    feed.observe('pod-1', T0 - 60_000, proxy.stats().attribution, proxy.stats().latency);
    feed.observe('pod-1', T0 - 60_000, proxy.stats().attribution, proxy.stats().latency);
    now += HOUR_MS;
    proxy.record(outcome({ status: 502, costUSD: 0, tokens: undefined }));
    feed.observe('pod-1', T0 - 60_000, proxy.stats().attribution, proxy.stats().latency);

    const byTenant = ledger.usage({ sinceMs: 2 * HOUR_MS, by: 'tenant', step: '1h' });
    expect(byTenant.totals).toMatchObject({
      requests: 3,
      errors: 1,
      strongRequests: 1,
      tieredRequests: 3,
      costUSD: 0.009,
      mostExpensiveCostUSD: 0.03,
    });
    expect(byTenant.groups.map((g) => [g.key, g.requests, g.costUSD])).toEqual([
      ['team-b/x', 1, 0.008],
      ['team-a/default', 2, 0.001],
    ]);
    // 09:20 to 11:20 in whole hours: 09:00, 10:00, 11:00 (the first one empty).
    expect(byTenant.series.map((p) => Object.keys(p.groups).length)).toEqual([0, 2, 1]);
    expect(byTenant.series[1]?.groups['team-b/x']).toEqual({ costUSD: 0.008, requests: 1 });
    // The last hour only: the failed request.
    expect(ledger.usage({ sinceMs: 1, by: 'route', step: '1h' }).totals.requests).toBe(1);

    const savings = ledger.savings({ sinceMs: DAY_MS });
    expect(savings.routes[0]).toMatchObject({
      route: 'team-a/chat',
      savedUSD: 0.021,
      savedFraction: 0.7,
      strongShare: 0.3333,
    });
    expect(ledger.errorEntries(DAY_MS)).toEqual([
      expect.objectContaining({ kind: 'errors', route: 'team-a/chat', count: 1 }),
    ]);
    const latency = ledger.latency({ sinceMs: DAY_MS }).routes;
    expect(latency.map((l) => [l.backend, l.requests])).toEqual([
      ['team-a/big', 1],
      ['team-a/cheap', 2],
    ]);
    expect(latency[1]?.p50Ms).toBeGreaterThan(250);
    expect(latency[1]?.p50Ms).toBeLessThanOrEqual(500);
  });

  it("takes an older pod's first report as a baseline, and a restarted pod's totals in full", () => {
    const now = T0;
    const ledger = new UsageLedger(() => now);
    const feed = new LedgerFeed(ledger, () => now, T0);
    const rows = (requests: number) => [{ on: on(), totals: { ...zeroTotals(), requests } }];
    feed.observe('old', T0 - DAY_MS, rows(50)); // counted by the previous leader
    feed.observe('old', T0 - DAY_MS, rows(53));
    feed.observe('old', T0 - 1_000, rows(2)); // restarted
    expect(ledger.totals(HOUR_MS).requests).toBe(5);
  });

  it('drops hours past retention and folds callers past the row limit', () => {
    let now = T0;
    const ledger = new UsageLedger(() => now, 2);
    for (const tenant of ['a', 'b', 'c', 'd'])
      ledger.add(now, on({ tenant }), { ...zeroTotals(), requests: 1 });
    expect(
      ledger.usage({ sinceMs: HOUR_MS, by: 'tenant', step: '1h' }).groups.map((g) => g.key),
    ).toEqual(['(other)', 'a', 'b']);
    now += RETENTION_MS + HOUR_MS;
    expect(ledger.prune()).toHaveLength(1);
    expect(ledger.totals(RETENTION_MS).requests).toBe(0);
  });
});

describe('ProxyAttribution', () => {
  it('folds new callers into (other) past its row limit, so unbounded keys cannot grow memory', () => {
    const proxy = new ProxyAttribution(2);
    for (const workload of ['a', 'b', 'c', 'd']) proxy.record(outcome({ on: on({ workload }) }));
    const rows = proxy.stats().attribution;
    expect(rows.map((r) => r.on.workload)).toEqual(['a', 'b', '(other)']);
    expect(rows[2]?.totals.requests).toBe(2);
  });
});
