import { describe, expect, test } from '@jest/globals';
import type { LimitUsage, QuotaAssignment } from '../quota/protocol.js';
import { compileRoutingTable } from '../routing/compile.js';
import { backend, route } from '../routing/__fixtures__/objects.js';
import type { CompiledTenant, RoutingTable } from '../routing/table.js';
import { createLogger } from '../telemetry/logger.js';
import type { BudgetWindow } from './budget-window.js';
import type { ProxyStats, QuotaPushView } from './proxy-fleet.js';
import { QuotaCoordinator, type QuotaFleet } from './quota-coordinator.js';
import { implicitDefaultTenant } from '../identity/resolve-tenant.js';

const tenant = (name: string, rpm: number): CompiledTenant => ({
  ...implicitDefaultTenant('default', name),
  limits: { rpm },
});

const table = (): RoutingTable => ({
  ...compileRoutingTable(
    [
      route('chat', {
        rules: [{ name: 'main', backendRefs: [{ name: 'gpt' }, { name: 'free' }] }],
      }),
    ],
    [backend('gpt', { limits: { rpm: 600, tpm: 100_000 } }), backend('free')],
  ),
  tenants: [tenant('batch', 120)],
});

/** A ProxyFleet stand-in: records pushes; each push is acknowledged unless the pod is failing. */
class FakeFleet implements QuotaFleet {
  readonly pushed = new Map<string, QuotaAssignment[]>();
  readonly failing = new Set<string>();
  readonly unsupported = new Set<string>();
  private readonly acked = new Map<string, { assignment: QuotaAssignment; atMs: number }>();
  constructor(
    private readonly tables: Map<string, RoutingTable>,
    private readonly now: () => number,
  ) {}
  desiredTable(podKey: string) {
    return this.tables.get(podKey);
  }
  pushQuotas(podKey: string, assignment: QuotaAssignment) {
    this.pushed.set(podKey, [...(this.pushed.get(podKey) ?? []), assignment]);
    if (!this.failing.has(podKey)) this.acked.set(podKey, { assignment, atMs: this.now() });
  }
  quotaPush(podKey: string): QuotaPushView {
    return {
      acked: this.acked.get(podKey),
      failing: this.failing.has(podKey),
      unsupported: this.unsupported.has(podKey),
    };
  }
  last(podKey: string) {
    return this.pushed.get(podKey)?.at(-1);
  }
}

const stats = (limits: LimitUsage[], extra: Partial<ProxyStats> = {}): ProxyStats => ({
  tableVersion: null,
  backends: [],
  routes: [],
  calibration: [],
  quotas: { assignment: null, limits, tenants: [] },
  ...extra,
});

const usage = (key: LimitUsage['key'], over: Partial<LimitUsage>): LimitUsage => ({
  key,
  admitted: 0,
  refused: 0,
  tokens: 0,
  windowRequests: 0,
  windowTokens: 0,
  inFlight: 0,
  ...over,
});

function setup(pods = ['default/a', 'default/b']) {
  let nowMs = 1_000_000;
  const clock = { now: () => nowMs, advance: (ms: number) => (nowMs += ms) };
  const fleet = new FakeFleet(new Map(pods.map((p) => [p, table()])), clock.now);
  const windows: BudgetWindow[] = [];
  const coordinator = new QuotaCoordinator({
    identity: 'controller-0',
    now: clock.now,
    fleet: () => fleet,
    budgetWindows: () => windows,
    logger: createLogger({ level: 'error', write: () => {} }),
  });
  coordinator.start();
  return { clock, fleet, coordinator, windows, pods };
}

const share = (a: QuotaAssignment | undefined, key: string) => a?.limits.find((l) => l.key === key);

describe('QuotaCoordinator', () => {
  test('divides a backend limit by demand: the busy proxy gets most, Σ ≤ limit + the over-commit, nobody below its count', () => {
    const { clock, fleet, coordinator } = setup();
    const report = (busy: number, quiet: number) =>
      coordinator.onStats({
        pods: ['default/a', 'default/b'],
        stats: new Map([
          [
            'default/a',
            stats([
              usage('backend:default/gpt', { admitted: busy, refused: busy, windowRequests: 25 }),
            ]),
          ],
          [
            'default/b',
            stats([usage('backend:default/gpt', { admitted: quiet, windowRequests: 5 })]),
          ],
        ]),
      });
    report(0, 0);
    clock.advance(2_000);
    report(50, 2); // a: 100 requests in 2 s (half refused), b: 2
    const a = fleet.last('default/a')!;
    const b = fleet.last('default/b')!;
    expect(a.sequence).toBe(2);
    expect(a.term).toMatch(/^controller-0@/);
    expect(a.validForMs).toBe(30_000);
    const sa = share(a, 'backend:default/gpt')!;
    const sb = share(b, 'backend:default/gpt')!;
    expect(sa.limit).toEqual({ rpm: 600, tpm: 100_000 });
    // a refuses half its demand: one request over its part (the over-commit).
    expect(sa.share.rpm! + sb.share.rpm!).toBe(601);
    expect(sa.share.rpm!).toBeGreaterThan(500);
    expect(sb.share.rpm!).toBeGreaterThanOrEqual(5);
    expect(sa.safe.rpm).toBe(300);
    expect(sb.safe.rpm).toBe(Math.min(sb.share.rpm!, 300));
    // A backend without limits gets no share; the tenant limit is divided too.
    expect(share(a, 'backend:default/free')).toBeUndefined();
    expect(share(a, 'tenant:default/batch')!.limit).toEqual({ rpm: 120 });
    expect(coordinator.limitStatus('backend:default/gpt')).toEqual({
      proxies: 2,
      requestsLastMinute: 30,
      tokensLastMinute: 0,
      refusedLastMinute: 50,
    });
  });

  test('an unreachable proxy keeps its accepted share reserved; one that refuses quotas (404) is left alone', () => {
    const { clock, fleet, coordinator } = setup(['default/a', 'default/b', 'default/old']);
    fleet.unsupported.add('default/old');
    const both = new Map([
      ['default/a', stats([usage('backend:default/gpt', { windowRequests: 10 })])],
      ['default/b', stats([usage('backend:default/gpt', { windowRequests: 200 })])],
    ]);
    coordinator.onStats({ pods: ['default/a', 'default/b', 'default/old'], stats: both });
    expect(fleet.last('default/old')).toBeUndefined();
    const bHeld = share(fleet.last('default/b'), 'backend:default/gpt')!.share.rpm!;
    expect(bHeld).toBeGreaterThanOrEqual(200);
    clock.advance(2_000);
    coordinator.onStats({
      pods: ['default/a', 'default/b', 'default/old'],
      stats: new Map([['default/a', both.get('default/a')!]]),
    });
    const a = share(fleet.last('default/a'), 'backend:default/gpt')!.share.rpm!;
    expect(share(fleet.last('default/b'), 'backend:default/gpt')!.share.rpm).toBe(bHeld);
    expect(a).toBe(600 - bHeld);
    // Past validForMs the unreachable proxy is on its safe share, which stays reserved.
    clock.advance(30_000);
    coordinator.onStats({
      pods: ['default/a', 'default/b'],
      stats: new Map([['default/a', both.get('default/a')!]]),
    });
    expect(share(fleet.last('default/a'), 'backend:default/gpt')!.share.rpm).toBe(600 - 300);
  });

  test('a new term starts from the proxies’ reported window counts (nothing given twice)', () => {
    const { fleet, coordinator } = setup();
    coordinator.stop();
    coordinator.start();
    coordinator.onStats({
      pods: ['default/a', 'default/b'],
      stats: new Map([
        ['default/a', stats([usage('backend:default/gpt', { windowRequests: 450 })])],
        ['default/b', stats([usage('backend:default/gpt', { windowRequests: 140 })])],
      ]),
    });
    const a = share(fleet.last('default/a'), 'backend:default/gpt')!.share.rpm!;
    const b = share(fleet.last('default/b'), 'backend:default/gpt')!.share.rpm!;
    expect(a).toBeGreaterThanOrEqual(450);
    expect(b).toBeGreaterThanOrEqual(140);
    expect(a + b).toBeLessThanOrEqual(600);
    expect(fleet.last('default/a')!.sequence).toBe(1);
  });

  test('budget windows become each proxy’s BudgetShare; near the end allowances by spend, Σ bounded', () => {
    const { clock, fleet, coordinator, windows } = setup();
    windows.push({
      key: 'route:default/chat',
      window: 'day',
      budgetUSD: 50,
      spentUSD: 49,
      resetAtMs: 2_000_000,
      onExceeded: 'refuse',
      state: 'warning',
    });
    const spent = (a: number, b: number) =>
      new Map([
        [
          'default/a',
          stats([], { routes: [{ routeId: 'default/chat', requests: 1, costUsd: a }] }),
        ],
        [
          'default/b',
          stats([], { routes: [{ routeId: 'default/chat', requests: 1, costUsd: b }] }),
        ],
      ]);
    coordinator.onStats({ pods: ['default/a', 'default/b'], stats: spent(0, 0) });
    clock.advance(2_000);
    coordinator.onStats({ pods: ['default/a', 'default/b'], stats: spent(0.9, 0.1) });
    const a = fleet.last('default/a')!.budgets[0]!;
    const b = fleet.last('default/b')!.budgets[0]!;
    expect(a).toMatchObject({
      key: 'route:default/chat',
      window: 'day',
      budgetUSD: 50,
      spentUSD: 49,
    });
    // $1 left while the fleet spends $30 a minute: divided by spend, plus half
    // the allowed overspend (one minute of spend, $30) in equal parts.
    expect(a.allowanceUSD + b.allowanceUSD).toBeLessThanOrEqual(1 + 30 / 2);
    expect(a.allowanceUSD).toBeGreaterThan(b.allowanceUSD);
    expect(a.safeAllowanceUSD).toBeCloseTo(0.5, 6);
  });
});
