// Issue 14 deliverable 2, controller side, on the real API server: spend per
// route and tenant over the UTC day, counted from the proxies' cumulative
// cost counters into status.spend, shown by `kubectl get mr` / `mtn` in
// Spend/Day, kept across a leader change and a controller restart (not reset,
// not counted twice), with one BudgetWarning Event and condition at 80% and
// one BudgetExceeded at 100%. The proxies are fake admin ports
// (test/support/fake-proxy-admin.ts) reporting cumulative costs the test
// decides, so every figure is known exactly; the proxy's own cost reporting
// and its 429 on an exceeded budget are tested with the proxy.
import type { RunningController } from '../../src/controller/controller.js';
import { startSimulatedBackend, type SimulatedBackend } from '../../src/simulator/index.js';
import { createNamespace, installCRDs } from '../support/cluster.js';
import {
  backendObject,
  ClusterHandle,
  routeObject,
  startFastReplica,
} from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import { startFakeProxyAdmin, type FakeProxyAdmin } from '../support/fake-proxy-admin.js';

const CASE_TIMEOUT_MS = 180_000;
/** Each wait below is bounded; this is generous for a busy 2-core machine. */
const CONVERGE_MS = 30_000;

let cluster: ClusterHandle;
let sim: SimulatedBackend;
const fakes: FakeProxyAdmin[] = [];
const controllers: RunningController[] = [];

interface SpendWindow {
  start: string;
  resetAt: string;
  spentUSD: number;
  budgetUSD?: number;
  display: string;
}
interface BudgetedObject {
  status?: {
    spend?: { day?: SpendWindow; month?: SpendWindow; updatedAt?: string };
    conditions?: { type: string; status: string; reason: string; message: string }[];
  };
}
interface EventList {
  items: { reason: string; message: string; count?: number; type: string }[];
}

async function replica(identity: string): Promise<RunningController> {
  // A leader that steps down releases the Lease, so hand-overs here are quick
  // anyway; a long lease keeps a busy machine from moving leadership unasked
  // (each change may lose what was spent since the last write, by design).
  const c = await startFastReplica(cluster, identity, { leaseDurationMs: 15_000 });
  controllers.push(c);
  return c;
}

async function proxy(name: string, ip: string): Promise<FakeProxyAdmin> {
  const fake = await startFakeProxyAdmin(ip, { takesQuotas: true });
  fakes.push(fake);
  cluster.registerProxy(name, fake);
  return fake;
}

/** The proxy's cumulative cost so far, for the route chat and the tenant batch alike. */
function spent(fake: FakeProxyAdmin, usd: number): void {
  fake.routes = [
    { routeId: `${cluster.namespace}/chat`, requests: Math.round(usd * 10), costUsd: usd },
  ];
  fake.quotas = {
    assignment: null,
    limits: [],
    tenants: [
      { tenantId: `${cluster.namespace}/batch`, requests: Math.round(usd * 10), costUsd: usd },
    ],
  };
}

const tenantNow = () => cluster.json<BudgetedObject>(['get', 'mtn', 'batch']);
const routeNow = () => cluster.json<BudgetedObject>(['get', 'mr', 'chat']);
const condition = (o: BudgetedObject, type: string) =>
  o.status?.conditions?.find((c) => c.type === type);
const events = (reason: string) =>
  cluster.json<EventList>([
    'get',
    'events',
    '--field-selector',
    `involvedObject.kind=ModelTenant,involvedObject.name=batch,reason=${reason}`,
  ]).items;

/** Both objects show `usd` spent today, and kubectl's Spend/Day column says so. */
async function expectSpent(usd: number): Promise<void> {
  await eventually(() => {
    expect(tenantNow().status?.spend?.day?.spentUSD).toBeCloseTo(usd, 6);
    expect(routeNow().status?.spend?.day?.spentUSD).toBeCloseTo(usd, 6);
  }, CONVERGE_MS);
  expect(cluster.row('mtn', 'batch')).toMatchObject({ 'SPEND/DAY': `${usd.toFixed(2)}/10.00` });
  expect(cluster.row('mr', 'chat')).toMatchObject({ 'SPEND/DAY': `${usd.toFixed(2)}/100.00` });
}

/**
 * Waits until the leader of the moment has read the proxy: what a proxy
 * spends between the last status write and the new leader's first read of
 * it is the documented loss at a leader change, so the test spends after.
 */
async function readByNewLeader(fake: FakeProxyAdmin): Promise<void> {
  const reads = fake.statsReads;
  await eventually(() => expect(fake.statsReads).toBeGreaterThanOrEqual(reads + 2), CONVERGE_MS);
}

/** The tenant's condition `type` turned True (reason the same) and exactly one Event of that reason was recorded. */
async function expectCrossed(type: 'BudgetWarning' | 'BudgetExceeded'): Promise<void> {
  await eventually(() => {
    expect(condition(tenantNow(), type)).toMatchObject({ status: 'True', reason: type });
    expect(events(type)).toHaveLength(1);
  }, CONVERGE_MS);
}

/** The modelroute_budget_used_ratio samples a replica exports, by label set. */
async function budgetRatios(c: RunningController): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const m of (await c.metrics.render()).matchAll(
    /^modelroute_budget_used_ratio(\{.*\}) (\S+)$/gm,
  ))
    out[m[1]!] = Number(m[2]);
  return out;
}

async function closeLeader(): Promise<void> {
  const leader = controllers.find((c) => c.isLeader);
  if (!leader) throw new Error('no leader to stop');
  await leader.close();
  controllers.splice(controllers.indexOf(leader), 1);
}

beforeAll(async () => {
  installCRDs();
  cluster = new ClusterHandle(createNamespace('budgets'));
  sim = await startSimulatedBackend({ models: ['a-upstream'], recordRequests: false });
  cluster.apply([
    backendObject('a', sim),
    routeObject('chat', ['a'], { budget: { dailyUSD: 100 } }),
    {
      apiVersion: 'modelroute.io/v1alpha1',
      kind: 'ModelTenant',
      metadata: { name: 'batch' },
      spec: {
        identities: { namespaces: [cluster.namespace] },
        budget: { dailyUSD: 10, onExceeded: 'refuse' },
      },
    },
  ]);
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  for (const c of controllers) await c.close();
  for (const f of fakes) await f.close();
  await sim?.close();
});

test(
  'spend reaches status.spend and Spend/Day, survives a leader change and a restart exactly, and warns and exceeds once',
  async () => {
    await replica('replica-a');
    await eventually(() => expect(controllers[0]!.isLeader).toBe(true), CONVERGE_MS);
    // Budgets show before any spend: 0 against the budget, conditions False.
    await expectSpent(0);
    expect(condition(tenantNow(), 'BudgetWarning')).toMatchObject({
      status: 'False',
      reason: 'WithinBudget',
    });

    // A proxy born in this term: all it reports is new spend.
    const p1 = await proxy('proxy-1', '127.0.0.41');
    spent(p1, 2);
    await expectSpent(2);
    expect(tenantNow().status?.spend?.day).toMatchObject({
      start: `${new Date().toISOString().slice(0, 10)}T00:00:00Z`,
      budgetUSD: 10,
    });

    // 85% of the tenant's daily budget: one Event, the condition True.
    spent(p1, 8.5);
    await expectSpent(8.5);
    await expectCrossed('BudgetWarning');
    expect(condition(tenantNow(), 'BudgetWarning')?.message).toContain(
      'daily budget of $10.00 (spent $8.50)',
    );
    expect(condition(tenantNow(), 'BudgetExceeded')?.status).toBe('False');
    // The leader's modelroute_budget_used_ratio (what ModelRouteBudgetNearlySpent reads).
    const ns = cluster.namespace;
    expect(await budgetRatios(controllers[0]!)).toEqual({
      [`{scope="route",namespace="${ns}",name="chat",window="day"}`]: 0.085,
      [`{scope="tenant",namespace="${ns}",name="batch",window="day"}`]: 0.85,
    });

    // Leader change: a standby takes over when the leader steps down.
    const standby = await replica('replica-b');
    // A standby counts nothing, so it exports no budget figures.
    expect(await budgetRatios(standby)).toEqual({});
    await closeLeader();
    await eventually(() => expect(standby.isLeader).toBe(true), CONVERGE_MS);
    // Kept (not reset to 0), and p1's 8.5 is a baseline now, not counted again.
    await readByNewLeader(p1);
    await expectSpent(8.5);
    spent(p1, 9);
    await expectSpent(9);

    // Controller restart: no replica runs for a while. A proxy born after
    // the last status write counts in full when the new leader first reads it.
    const writtenAt = Date.parse(tenantNow().status?.spend?.updatedAt ?? '');
    expect(Number.isNaN(writtenAt)).toBe(false);
    await closeLeader();
    // updatedAt has whole seconds and the ledger allows 5 s of clock skew: born well after it.
    while (Date.now() < writtenAt + 7_000) await new Promise((r) => setTimeout(r, 250));
    const p2 = await proxy('proxy-2', '127.0.0.42');
    p2.startedAt = Date.now();
    spent(p2, 0.5);
    const restarted = await replica('replica-c');
    await eventually(() => expect(restarted.isLeader).toBe(true), CONVERGE_MS);
    await expectSpent(9.5);

    // Past the budget: one BudgetExceeded Event and condition, naming budget, spend and reset.
    await readByNewLeader(p1);
    spent(p1, 10.6);
    await expectSpent(11.1);
    await expectCrossed('BudgetExceeded');
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    expect(condition(tenantNow(), 'BudgetExceeded')?.message).toBe(
      `tenant ${cluster.namespace}/batch has spent its daily budget of $10.00 (spent $11.10); it resets at ${tomorrow}T00:00:00Z; requests are refused with 429 until then`,
    );
    // The proxies are told: the leader's assignments carry the exceeded window.
    await eventually(() => {
      const budget = p1.assignments
        .at(-1)
        ?.budgets.find((b) => b.key === `tenant:${cluster.namespace}/batch` && b.window === 'day');
      expect(budget).toMatchObject({
        budgetUSD: 10,
        spentUSD: 11.1,
        state: 'exceeded',
        onExceeded: 'refuse',
        resetAtMs: Date.parse(`${tomorrow}T00:00:00Z`),
      });
    }, CONVERGE_MS);
    // More collections and more spend: no further Events, none repeated by the leader changes.
    spent(p1, 10.8);
    await expectSpent(11.3);
    const reads = p1.statsReads;
    await eventually(() => expect(p1.statsReads).toBeGreaterThanOrEqual(reads + 5), CONVERGE_MS);
    expect(events('BudgetWarning')).toEqual([expect.objectContaining({ count: 1 })]);
    expect(events('BudgetExceeded')).toEqual([expect.objectContaining({ count: 1 })]);
    expect(restarted.leaderTerms).toBe(1);
    // The route (budget 100) is well within its budget: no Events about it.
    expect(condition(routeNow(), 'BudgetWarning')?.status).toBe('False');
  },
  CASE_TIMEOUT_MS,
);
