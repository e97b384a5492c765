// Property: ModelTenant status agrees with what proxies will do. Every
// workload is counted once, for the tenant resolveTenant gives it, and every
// contested claim is listed on each claimant with resolveTenant's winner.
import { modelTenant, type ModelTenant } from '../../api/v1alpha1/index.js';
import { claimants, resolveTenant } from '../../identity/resolve-tenant.js';
import { compileTenant } from '../../routing/compile-tenants.js';
import { seededRandom } from '../../routing/random.js';
import type { WorkloadCaller } from '../proxy-pod.js';
import { computeTenantStatuses } from './tenant-status.js';

const NS = 'team';
const ACCOUNTS = ['billing', 'web', 'batch'];
const TIERS = ['gold', 'batch'];

test('property: workload counts and conflicts follow resolveTenant', () => {
  const rng = seededRandom(2026);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  for (let round = 0; round < 300; round++) {
    const tenants: ModelTenant[] = ['a', 'b', 'c', 'default']
      .filter(() => rng() < 0.7)
      .map((name) =>
        modelTenant.parse({
          apiVersion: 'modelroute.io/v1alpha1',
          kind: 'ModelTenant',
          metadata: { name, namespace: NS },
          spec: {
            identities: {
              ...(rng() < 0.5 ? { serviceAccounts: [{ name: pick(ACCOUNTS) }] } : {}),
              ...(rng() < 0.3 ? { namespaces: [NS] } : {}),
              ...(rng() < 0.4 ? { workloads: { matchLabels: { tier: pick(TIERS) } } } : {}),
            },
          },
        }),
      );
    const workloads: WorkloadCaller[] = Array.from({ length: Math.floor(rng() * 6) }, (_, i) => ({
      kind: 'workload',
      namespace: NS,
      serviceAccount: pick(ACCOUNTS),
      labels: { tier: pick(TIERS) },
      pod: `pod-${i}`,
    }));
    const policy = { unmatched: rng() < 0.5 ? ('deny' as const) : ('default-tenant' as const) };
    const statuses = computeTenantStatuses({
      namespace: NS,
      tenants,
      apiKeys: [],
      workloads,
      policy,
      nowMs: 0,
    });
    const compiled = tenants.map(compileTenant);
    const expected = new Map<string, number>();
    for (const w of workloads) {
      const r = resolveTenant(w, compiled, policy, NS);
      if (r.ok) expected.set(r.tenant.name, (expected.get(r.tenant.name) ?? 0) + 1);
    }
    for (const t of tenants) {
      const status = statuses.get(t.metadata.name)!;
      expect(status.identities?.workloads).toBe(expected.get(t.metadata.name) ?? 0);
      expect(status.conflictCount).toBe(status.conflicts?.length ?? 0);
      for (const c of status.conflicts ?? []) {
        expect(c.tenants).toContain(t.metadata.name);
        expect(c.tenants.length).toBeGreaterThan(1);
      }
    }
    // A pod claimed through labels and by someone else is a conflict, with resolveTenant's winner.
    for (const w of workloads) {
      const claims = claimants(w, compiled);
      if (claims.length < 2 || !claims.some((c) => c.via === 'workload')) continue;
      for (const { tenant } of claims) {
        const listed = statuses
          .get(tenant.name)
          ?.conflicts?.find((c) => c.identity === `workload ${NS}/${w.pod}`);
        expect(listed?.winner).toBe(claims[0]!.tenant.name);
      }
    }
  }
});

test("status.cost is the ledger's figure, removed when the tenant spent nothing, kept when unknown", () => {
  const tenant = modelTenant.parse({
    apiVersion: 'modelroute.io/v1alpha1',
    kind: 'ModelTenant',
    metadata: { name: 'a', namespace: NS },
    spec: { identities: { namespaces: [NS] } },
    status: { cost: { last24h: { requests: 1, costUSD: 0.5 } } },
  });
  const statusWith = (
    cost: ReturnType<NonNullable<Parameters<typeof computeTenantStatuses>[0]['cost']>>,
  ) =>
    computeTenantStatuses({
      namespace: NS,
      tenants: [tenant],
      apiKeys: [],
      workloads: [],
      policy: { unmatched: 'deny' },
      cost: () => cost,
      nowMs: 0,
    }).get('a')?.cost;
  const fresh = { last24h: { requests: 3, costUSD: 1.25 }, savings: '$0.00 (0%)' };
  expect(statusWith(fresh)).toEqual(fresh);
  expect(statusWith(null)).toBeUndefined();
  expect(statusWith(undefined)).toEqual({ last24h: { requests: 1, costUSD: 0.5 } });
});
