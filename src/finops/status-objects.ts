// Routes and tenants as the FinOps source reads them: ids, spend and failover status.
import type { ModelRoute, ModelTenant } from '../api/v1alpha1/index.js';
import type { StatusObject } from './ledger-source.js';

export function statusObjects(
  routes: readonly ModelRoute[],
  tenants: readonly ModelTenant[],
): StatusObject[] {
  return [
    ...routes.map((r) => ({
      kind: 'route' as const,
      namespace: r.metadata.namespace ?? '',
      name: r.metadata.name,
      spend: r.status?.spend,
      lastFailover: r.status?.lastFailover,
    })),
    ...tenants.map((t) => ({
      kind: 'tenant' as const,
      namespace: t.metadata.namespace ?? '',
      name: t.metadata.name,
      spend: t.status?.spend,
    })),
  ];
}
