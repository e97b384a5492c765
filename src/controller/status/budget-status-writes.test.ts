// Spend in status: amounts alone are written at most once per usage interval,
// a new window or a crossed threshold at once, on routes and tenants alike;
// between terms (no ledger view) what status says is kept.
import type {
  ModelRoute,
  ModelRouteStatus,
  ModelTenant,
  ModelTenantStatus,
} from '../../api/v1alpha1/index.js';
import type { SpendStatus } from '../../api/v1alpha1/quota.js';
import { modelRoutes, modelTenants } from '../../k8s/kinds.js';
import { createControllerMetrics } from '../../telemetry/controller-metrics.js';
import { FakeKubeClient } from '../__fixtures__/fake-kube-client.js';
import { batchTenant, chatRoute } from '../__fixtures__/status-objects.js';
import { budgetConditions, budgetStatusParts, spendStatusOf } from './budget-status.js';
import { StatusWriter } from './status-writer.js';

const INTERVAL = 300_000;
const DAY = Date.UTC(2026, 11, 3);

/** A day and month window with `spent` against a daily budget of 10, as the ledger would show it. */
function spend(spent: number, day = DAY): SpendStatus {
  const month = Date.UTC(new Date(day).getUTCFullYear(), new Date(day).getUTCMonth(), 1);
  return spendStatusOf(
    {
      day: { window: 'day', start: day, resetAt: day + 86_400_000, spentUSD: spent, budgetUSD: 10 },
      month: { window: 'month', start: month, resetAt: Date.UTC(2027, 0, 1), spentUSD: spent },
    },
    day + 3_600_000,
  );
}
const conditions = (spent: number) =>
  budgetConditions(
    'tenant team/batch',
    [{ window: 'day', start: DAY, resetAt: DAY + 86_400_000, spentUSD: spent, budgetUSD: 10 }],
    'refuse',
  ).map((c) => ({ ...c, lastTransitionTime: '2026-12-03T01:00:00Z' }));

function setup() {
  let now = DAY + 3_600_000;
  const client = new FakeKubeClient();
  client.put(modelRoutes, chatRoute());
  client.put(modelTenants, batchTenant());
  const writer = new StatusWriter({
    client,
    metrics: createControllerMetrics(),
    now: () => now,
    usageIntervalMs: INTERVAL,
  });
  const route = () => client.peek(modelRoutes, { namespace: 'team', name: 'chat' }) as ModelRoute;
  const tenant = () =>
    client.peek(modelTenants, { namespace: 'team', name: 'batch' }) as ModelTenant;
  return {
    writeRoute: (s: ModelRouteStatus) => writer.writeRouteStatus(route(), s),
    writeTenant: (s: ModelTenantStatus) => writer.writeTenantStatus(tenant(), s),
    writes: () => client.callsOf('patchStatus').length,
    route,
    tenant,
    advance: (ms: number) => (now += ms),
  };
}

test.each(['route', 'tenant'] as const)(
  "a %s's new spend alone waits for the usage interval; spend appearing, a crossing or a new day is written at once",
  async (kind) => {
    const s = setup();
    const write = (spent: number, day = DAY) =>
      kind === 'route'
        ? s.writeRoute({
            observedGeneration: 1,
            spend: spend(spent, day),
            conditions: conditions(spent),
          })
        : s.writeTenant({
            observedGeneration: 1,
            spend: spend(spent, day),
            conditions: conditions(spent),
          });
    const shown = () => (kind === 'route' ? s.route() : s.tenant()).status?.spend?.day?.display;
    await write(1);
    expect(s.writes()).toBe(1);
    for (const spent of [2, 3, 4]) {
      s.advance(10_000);
      await write(spent);
    }
    expect(s.writes()).toBe(1);
    expect(shown()).toBe('1.00/10.00');
    s.advance(INTERVAL);
    await write(5);
    expect(shown()).toBe('5.00/10.00');
    expect(s.writes()).toBe(2);
    // 80%: the BudgetWarning condition turns True, written at once.
    s.advance(10_000);
    await write(8);
    expect(s.writes()).toBe(3);
    expect(shown()).toBe('8.00/10.00');
    // A new day: a new window, written at once.
    s.advance(10_000);
    await write(0, DAY + 86_400_000);
    expect(s.writes()).toBe(4);
    expect(shown()).toBe('0.00/10.00');
  },
);

test('between terms a status write keeps status.spend and the budget conditions as they are', () => {
  const previous = { spend: spend(8.5), conditions: conditions(8.5) };
  const kept = budgetStatusParts(undefined, previous);
  expect(kept.spend).toEqual(previous.spend);
  expect(kept.conditions.map((c) => [c.type, c.status])).toEqual([
    ['BudgetWarning', 'True'],
    ['BudgetExceeded', 'False'],
  ]);
  // With a view, the view wins; null spend (no budget, nothing spent) drops the field.
  expect(budgetStatusParts({ spend: null, conditions: [] }, previous)).toEqual({
    spend: undefined,
    conditions: [],
  });
});

test('a True budget condition keeps the message of its crossing, so more spend alone does not rewrite it', () => {
  const crossed = budgetStatusParts(
    { spend: spend(10.12), conditions: conditions(10.12) },
    { spend: spend(9), conditions: conditions(9) },
  );
  const exceeded = crossed.conditions.find((c) => c.type === 'BudgetExceeded');
  expect(exceeded?.message).toContain('(spent $10.12)');
  const later = budgetStatusParts(
    { spend: spend(10.5), conditions: conditions(10.5) },
    { spend: crossed.spend, conditions: crossed.conditions },
  );
  expect(later.conditions).toEqual(crossed.conditions);
  expect(later.spend?.day?.spentUSD).toBe(10.5);
});
