import {
  modelRoute,
  modelTenant,
  type ModelRoute,
  type ModelTenant,
} from '../api/v1alpha1/index.js';
import type { SpendStatus } from '../api/v1alpha1/quota.js';
import { BudgetLedger, budgetedObjects } from './budget-ledger.js';
import type { EventToRecord } from './event-recorder.js';
import type { ProxyStats } from './proxy-fleet.js';

const NS = 'team';
const T0 = Date.UTC(2026, 11, 3, 10, 0, 0);

function tenant(budget?: object, spend?: SpendStatus): ModelTenant {
  return modelTenant.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelTenant',
    metadata: { name: 'batch', namespace: NS, uid: 'uid-batch' },
    spec: { identities: { namespaces: [NS] }, ...(budget ? { budget } : {}) },
    ...(spend ? { status: { spend } } : {}),
  });
}

function route(budget?: object, spend?: SpendStatus): ModelRoute {
  return modelRoute.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelRoute',
    metadata: { name: 'chat', namespace: NS },
    spec: {
      model: 'chat',
      rules: [{ name: 'main', backendRefs: [{ name: 'a' }] }],
      ...(budget ? { budget } : {}),
    },
    ...(spend ? { status: { spend } } : {}),
  });
}

/** A proxy's stats body: cumulative cost for the route team/chat and the tenant team/batch. */
function report(uptimeSeconds: number, routeCost: number, tenantCost = routeCost): ProxyStats {
  return {
    tableVersion: null,
    uptimeSeconds,
    backends: [],
    routes: [{ routeId: `${NS}/chat`, requests: 1, costUsd: routeCost }],
    calibration: [],
    quotas: {
      assignment: null,
      limits: [],
      tenants: [{ tenantId: `${NS}/batch`, requests: 1, costUsd: tenantCost }],
    },
  };
}

function setup(
  objects: { routes?: ModelRoute[]; tenants?: ModelTenant[] } = {},
  usageIntervalMs = 60_000,
  start = T0,
) {
  let now = start;
  const events: EventToRecord[] = [];
  const enqueued: string[] = [];
  const state = { routes: objects.routes ?? [route()], tenants: objects.tenants ?? [tenant()] };
  const ledger = new BudgetLedger({
    now: () => now,
    objects: () => budgetedObjects(state.routes, state.tenants),
    events: { record: (e) => (events.push(e), Promise.resolve()) },
    enqueue: (ns) => enqueued.push(ns),
    usageIntervalMs,
  });
  const collect = (reports: Record<string, ProxyStats>, pods = Object.keys(reports)) =>
    ledger.observe({ stats: new Map(Object.entries(reports)), pods });
  const objectsNow = () => budgetedObjects(state.routes, state.tenants);
  const view = (kind: 'ModelRoute' | 'ModelTenant') =>
    ledger.view(objectsNow().find((o) => o.kind === kind)!);
  return {
    ledger,
    events,
    enqueued,
    state,
    collect,
    view,
    advance: (ms: number) => (now += ms),
    set: (ms: number) => (now = ms),
    now: () => now,
  };
}

/** Seconds a proxy has been up if it started `ms` after T0 and it is now `at`. */
const upSince = (startedAt: number, at: number) => Math.floor((at - startedAt) / 1000);

test('spend is summed over proxies from their cumulative counters, per route and per tenant', () => {
  const s = setup({ tenants: [tenant({ dailyUSD: 50, monthlyUSD: 1000 })] });
  s.ledger.start();
  s.advance(5_000);
  // Two proxies born in this term: everything they report is new.
  s.collect({ 'team/p1': report(4, 1.5, 1), 'team/p2': report(3, 2, 0.5) });
  s.advance(5_000);
  s.collect({ 'team/p1': report(9, 4, 3), 'team/p2': report(8, 2.25, 0.75) });
  expect(s.view('ModelRoute').spend).toEqual({
    day: {
      start: '2026-12-03T00:00:00Z',
      resetAt: '2026-12-04T00:00:00Z',
      spentUSD: 6.25,
      display: '6.25',
    },
    month: {
      start: '2026-12-01T00:00:00Z',
      resetAt: '2027-01-01T00:00:00Z',
      spentUSD: 6.25,
      display: '6.25',
    },
    updatedAt: '2026-12-03T10:00:10Z',
  });
  const tenantSpend = s.view('ModelTenant').spend;
  expect(tenantSpend?.day).toMatchObject({ spentUSD: 3.75, budgetUSD: 50, display: '3.75/50.00' });
  expect(tenantSpend?.month).toMatchObject({ display: '3.75/1000.00' });
  expect(s.ledger.budgetWindows()).toEqual([
    {
      key: 'tenant:team/batch',
      window: 'day',
      budgetUSD: 50,
      spentUSD: 3.75,
      resetAtMs: Date.UTC(2026, 11, 4),
      onExceeded: 'refuse',
      state: 'ok',
    },
    {
      key: 'tenant:team/batch',
      window: 'month',
      budgetUSD: 1000,
      spentUSD: 3.75,
      resetAtMs: Date.UTC(2027, 0, 1),
      onExceeded: 'refuse',
      state: 'ok',
    },
  ]);
});

test('a restarted proxy (uptime smaller, counters lower) counts its new totals from 0', () => {
  const s = setup();
  s.ledger.start();
  s.advance(10_000);
  s.collect({ 'team/p1': report(10, 3) });
  s.advance(10_000);
  // Restarted 2 s ago: its 0.5 is new spend, not a drop of 2.5.
  s.collect({ 'team/p1': report(2, 0.5) });
  s.advance(10_000);
  s.collect({ 'team/p1': report(12, 1.25) });
  expect(s.view('ModelRoute').spend?.day?.spentUSD).toBe(4.25);
});

test('a proxy older than the term is a baseline; a proxy that leaves and comes back is not counted twice', () => {
  const s = setup();
  s.ledger.start();
  s.advance(10_000);
  // Up for an hour: its 7 dollars were counted by an earlier leader (or another day).
  s.collect({ 'team/old': report(3_600, 7), 'team/new': report(5, 1) });
  s.advance(10_000);
  s.collect({ 'team/old': report(3_610, 7.5), 'team/new': report(15, 1) });
  expect(s.view('ModelRoute').spend?.day?.spentUSD).toBe(1.5);
  // 'new' is not Ready for a while, then reports again: only what it spent meanwhile counts.
  s.advance(10_000);
  s.collect({ 'team/old': report(3_620, 7.5) });
  s.advance(10_000);
  s.collect({ 'team/old': report(3_630, 7.5), 'team/new': report(35, 2) });
  expect(s.view('ModelRoute').spend?.day?.spentUSD).toBe(2.5);
});

test('the day window resets at UTC midnight and the month window on the 1st; conditions go back to False', () => {
  const s = setup(
    { tenants: [tenant({ dailyUSD: 10, monthlyUSD: 100 })] },
    60_000,
    Date.UTC(2026, 11, 31, 23, 59, 0),
  );
  s.ledger.start();
  const born = s.now();
  s.advance(10_000);
  s.collect({ 'team/p1': report(upSince(born, s.now()), 9, 9) });
  expect(s.view('ModelTenant').conditions.map((c) => [c.type, c.status])).toEqual([
    ['BudgetWarning', 'True'],
    ['BudgetExceeded', 'False'],
  ]);
  // 00:00:30 on January 1st: a new day and a new month.
  s.set(Date.UTC(2027, 0, 1, 0, 0, 30));
  s.collect({ 'team/p1': report(upSince(born, s.now()), 10, 10) });
  const v = s.view('ModelTenant');
  expect(v.spend?.day).toEqual({
    start: '2027-01-01T00:00:00Z',
    resetAt: '2027-01-02T00:00:00Z',
    spentUSD: 1,
    budgetUSD: 10,
    display: '1.00/10.00',
  });
  expect(v.spend?.month).toMatchObject({
    start: '2027-01-01T00:00:00Z',
    resetAt: '2027-02-01T00:00:00Z',
    spentUSD: 1,
  });
  expect(v.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
    ['BudgetWarning', 'False', 'WithinBudget'],
    ['BudgetExceeded', 'False', 'WithinBudget'],
  ]);
  // Mid-month midnight: the day starts again, the month keeps counting.
  s.set(Date.UTC(2027, 0, 15, 23, 59, 0));
  s.collect({ 'team/p1': report(upSince(born, s.now()), 14, 14) });
  s.set(Date.UTC(2027, 0, 16, 0, 1, 0));
  s.collect({ 'team/p1': report(upSince(born, s.now()), 15, 15) });
  expect(s.view('ModelTenant').spend?.day?.spentUSD).toBe(1);
  expect(s.view('ModelTenant').spend?.month?.spentUSD).toBe(6);
});

test('a new term continues from status.spend; an older window there is ignored; nothing is counted twice', () => {
  const updatedAt = '2026-12-03T09:59:00Z';
  const spend: SpendStatus = {
    day: {
      start: '2026-12-03T00:00:00Z',
      resetAt: '2026-12-04T00:00:00Z',
      spentUSD: 12.4,
      budgetUSD: 50,
      display: '12.40/50.00',
    },
    month: {
      start: '2026-12-01T00:00:00Z',
      resetAt: '2027-01-01T00:00:00Z',
      spentUSD: 112.4,
      display: '112.40',
    },
    updatedAt,
  };
  const stale: SpendStatus = {
    day: { ...spend.day!, start: '2026-12-02T00:00:00Z', resetAt: '2026-12-03T00:00:00Z' },
    month: { ...spend.month!, start: '2026-11-01T00:00:00Z', resetAt: '2026-12-01T00:00:00Z' },
    updatedAt: '2026-12-02T23:59:00Z',
  };
  const s = setup({
    routes: [route(undefined, stale)],
    tenants: [tenant({ dailyUSD: 50 }, spend)],
  });
  s.ledger.start();
  expect(s.view('ModelTenant').spend).toEqual(spend);
  // The route's status is from yesterday and last month: nothing of it counts today.
  expect(s.view('ModelRoute').spend).toBeNull();
  s.advance(5_000);
  // 'before' started before status was last written (its spend may be in it): a baseline.
  // 'after' started after that write: all of its spend is new.
  const afterStart = Date.parse(updatedAt) + 30_000;
  s.collect({
    'team/before': report(upSince(Date.parse(updatedAt) - 600_000, s.now()), 5, 5),
    'team/after': report(upSince(afterStart, s.now()), 2, 2),
  });
  expect(s.view('ModelTenant').spend?.day?.spentUSD).toBe(14.4);
  expect(s.view('ModelTenant').spend?.month?.spentUSD).toBe(114.4);
  s.advance(5_000);
  s.collect({
    'team/before': report(upSince(Date.parse(updatedAt) - 600_000, s.now()), 6, 6),
    'team/after': report(upSince(afterStart, s.now()), 2, 2),
  });
  expect(s.view('ModelTenant').spend?.day?.spentUSD).toBe(15.4);
});

test('an Event at 80% and one at 100%, once per window; both again in the next window', () => {
  const s = setup({ tenants: [tenant({ dailyUSD: 10, onExceeded: 'refuse' })] });
  s.ledger.start();
  const born = s.now();
  const spend = (usd: number) => {
    s.advance(10_000);
    s.collect({ 'team/p1': report(upSince(born, s.now()), usd, usd) });
  };
  spend(7.9);
  expect(s.events).toEqual([]);
  spend(8);
  spend(8.5);
  spend(9);
  expect(s.events.map((e) => [e.reason, e.type, e.involved.kind, e.involved.name])).toEqual([
    ['BudgetWarning', 'Warning', 'ModelTenant', 'batch'],
  ]);
  expect(s.events[0]!.message).toBe(
    'tenant team/batch has spent 80% of its daily budget of $10.00 (spent $8.00); it resets at 2026-12-04T00:00:00Z',
  );
  spend(10.12);
  spend(11);
  spend(12);
  expect(s.events.map((e) => e.reason)).toEqual(['BudgetWarning', 'BudgetExceeded']);
  expect(s.events[1]!.message).toBe(
    'tenant team/batch has spent its daily budget of $10.00 (spent $10.12); it resets at 2026-12-04T00:00:00Z; requests are refused with 429 until then',
  );
  const exceeded = s.view('ModelTenant').conditions.find((c) => c.type === 'BudgetExceeded');
  expect(exceeded).toMatchObject({ status: 'True', reason: 'BudgetExceeded' });
  expect(exceeded?.message).toContain('daily budget of $10.00 (spent $12.00)');
  expect(s.ledger.budgetWindows()[0]).toMatchObject({ state: 'exceeded', spentUSD: 12 });
  // The next day: spend starts from 0; a jump past both thresholds records both.
  s.set(Date.UTC(2026, 11, 4, 8, 0, 0));
  spend(12);
  expect(s.ledger.budgetWindows()[0]).toMatchObject({ state: 'ok', spentUSD: 0 });
  spend(23);
  expect(s.events.map((e) => e.reason)).toEqual([
    'BudgetWarning',
    'BudgetExceeded',
    'BudgetWarning',
    'BudgetExceeded',
  ]);
});

test('a new leader does not record again the crossings status already shows', () => {
  const spend: SpendStatus = {
    day: {
      start: '2026-12-03T00:00:00Z',
      resetAt: '2026-12-04T00:00:00Z',
      spentUSD: 8.5,
      budgetUSD: 10,
      display: '8.50/10.00',
    },
    month: {
      start: '2026-12-01T00:00:00Z',
      resetAt: '2027-01-01T00:00:00Z',
      spentUSD: 8.5,
      display: '8.50',
    },
    updatedAt: '2026-12-03T09:59:00Z',
  };
  const s = setup({ tenants: [tenant({ dailyUSD: 10 }, spend)] });
  s.ledger.start();
  const born = s.now();
  s.advance(10_000);
  s.collect({ 'team/p1': report(upSince(born, s.now()), 0.2, 0.2) });
  expect(s.events).toEqual([]);
  s.advance(10_000);
  s.collect({ 'team/p1': report(upSince(born, s.now()), 1.6, 1.6) });
  expect(s.events.map((e) => e.reason)).toEqual(['BudgetExceeded']);
});

test('status writes: at once on a crossing or a new window, else at most once per usage interval', () => {
  const s = setup({ routes: [], tenants: [tenant({ dailyUSD: 10 })] }, 60_000);
  s.ledger.start();
  const born = s.now();
  const spend = (usd: number, ms = 10_000) => {
    s.advance(ms);
    const before = s.enqueued.length;
    s.collect({ 'team/p1': report(upSince(born, s.now()), usd, usd) });
    // The reconcile asked for writes status.spend, as the controller's does.
    if (s.enqueued.length > before) {
      const t = s.state.tenants[0]!;
      s.state.tenants = [{ ...t, status: { spend: s.view('ModelTenant').spend ?? undefined } }];
    }
  };
  spend(1);
  expect(s.enqueued).toEqual(['team']); // spend appeared
  spend(2);
  spend(3);
  expect(s.enqueued).toEqual(['team']); // within the interval: the next write carries it
  spend(8.1); // 80%: written now
  expect(s.enqueued).toEqual(['team', 'team']);
  spend(8.2, 60_000);
  expect(s.enqueued).toEqual(['team', 'team', 'team']);
});

test('between terms nothing is counted and no budget windows are offered', () => {
  const s = setup({ tenants: [tenant({ dailyUSD: 10 })] });
  expect(s.ledger.budgetWindows()).toEqual([]);
  s.collect({ 'team/p1': report(1, 5, 5) });
  expect(s.enqueued).toEqual([]);
  s.ledger.start();
  s.ledger.stop();
  expect(s.ledger.budgetWindows()).toEqual([]);
});

test('fuzz: over random reports, restarts and absences, counted spend equals what the proxies spent', () => {
  let seed = 14;
  const rng = () => {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let run = 0; run < 50; run++) {
    const s = setup({}, 60_000, Date.UTC(2026, 11, 3, 1, 0, 0));
    s.ledger.start();
    const pods = Array.from({ length: 1 + Math.floor(rng() * 4) }, (_, i) => ({
      key: `team/p${i}`,
      startedAt: s.now(),
      cumulative: 0,
      /** What this process reported last, and what earlier processes of the pod reported. */
      reported: 0,
      earlierLives: 0,
    }));
    for (let step = 0; step < 40; step++) {
      s.advance(5_000 + Math.floor(rng() * 20_000));
      const reports: Record<string, ProxyStats> = {};
      for (const pod of pods) {
        if (rng() < 0.08) {
          // Restarted: what it spent since its last report dies with it; its new totals count.
          pod.startedAt = s.now() - 1_000;
          pod.cumulative = 0;
          pod.earlierLives += pod.reported;
          pod.reported = 0;
        }
        pod.cumulative = Math.round((pod.cumulative + rng() * 3) * 100) / 100;
        // Sometimes not read this round (unreachable or not Ready): its spend shows up later.
        if (rng() < 0.15) continue;
        reports[pod.key] = report(upSince(pod.startedAt, s.now()), pod.cumulative);
        pod.reported = pod.cumulative;
      }
      s.collect(
        reports,
        pods.map((p) => p.key),
      );
    }
    const expected = pods.reduce((sum, p) => sum + p.earlierLives + p.reported, 0);
    const counted = s.view('ModelRoute').spend?.day?.spentUSD ?? 0;
    expect(counted).toBeCloseTo(expected, 6);
  }
});
