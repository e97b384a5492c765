import type { TrustableHeader } from '../api/v1alpha1/index.js';
import type { CompiledTenant } from '../routing/table.js';
import { applyHeaderTrust, tenantMayUse } from './header-trust.js';
import { implicitDefaultTenant } from './resolve-tenant.js';

function tenant(name: string, over: Partial<CompiledTenant> = {}): CompiledTenant {
  return { ...implicitDefaultTenant('team-a', name), ...over };
}

const acme = (trustedHeaders: TrustableHeader[] = []) =>
  tenant('acme', {
    priority: 'low',
    task: 'chat',
    compliance: ['gdpr'],
    capabilities: ['tools'],
    trustedHeaders,
  });
const premium = tenant('premium', { priority: 'high', compliance: ['hipaa'] });

const ALL = {
  'x-modelroute-tenant': 'premium',
  'x-modelroute-priority': 'HIGH',
  'x-modelroute-task': 'Code',
  'x-modelroute-compliance': 'pci',
  'x-modelroute-capabilities': 'vision',
  'x-team': 'blue',
};

test("untrusted headers are ignored and listed; the tenant's own attributes decide", () => {
  const r = applyHeaderTrust(acme(), ALL, [acme(), premium]);
  expect(r).toMatchObject({
    ok: true,
    tenant: { name: 'acme' },
    claims: {
      tenant: 'acme',
      priority: 'low',
      task: 'chat',
      compliance: ['gdpr'],
      capabilities: ['tools'],
    },
    ignored: [
      'x-modelroute-tenant',
      'x-modelroute-priority',
      'x-modelroute-task',
      'x-modelroute-compliance',
      'x-modelroute-capabilities',
    ],
  });
  // Rules' header matches cannot see an untrusted routing header either.
  if (!r.ok) throw new Error('refused');
  expect(r.visible('x-modelroute-tenant')).toBe(false);
  expect(r.visible('x-team')).toBe(true);
});

test('trusted headers count: tenant acts as another tenant of the namespace, compliance and capabilities add', () => {
  const r = applyHeaderTrust(
    acme(['tenant', 'priority', 'task', 'compliance', 'capabilities']),
    ALL,
    [acme(), premium],
  );
  expect(r).toMatchObject({
    ok: true,
    tenant: { name: 'premium' },
    claims: {
      tenant: 'premium',
      priority: 'high',
      task: 'code',
      compliance: ['hipaa', 'pci'],
      capabilities: ['vision'],
    },
    ignored: [],
  });
  if (!r.ok) throw new Error('refused');
  expect(r.visible('x-modelroute-tenant')).toBe(true);
});

test('only the trusted header counts, the others stay ignored', () => {
  expect(applyHeaderTrust(acme(['task']), ALL, [acme(), premium])).toMatchObject({
    claims: { tenant: 'acme', priority: 'low', task: 'code' },
    ignored: [
      'x-modelroute-tenant',
      'x-modelroute-priority',
      'x-modelroute-compliance',
      'x-modelroute-capabilities',
    ],
  });
});

test('a trusted tenant header naming no tenant of this namespace is refused; a bad priority is ignored', () => {
  expect(applyHeaderTrust(acme(['tenant']), { 'x-modelroute-tenant': 'nobody' }, [acme()])).toEqual(
    { ok: false, message: expect.stringContaining('"nobody"') as string },
  );
  expect(
    applyHeaderTrust(acme(['tenant']), { 'x-modelroute-tenant': 'default' }, [acme()]),
  ).toMatchObject({ ok: true, tenant: { name: 'default' } });
  expect(
    applyHeaderTrust(acme(['priority']), { 'x-modelroute-priority': 'urgent' }, [acme()]),
  ).toMatchObject({ claims: { priority: 'low' }, ignored: ['x-modelroute-priority'] });
});

test('a tenant may use only the routes and models it lists; absent lists allow all', () => {
  expect(tenantMayUse(acme(), 'team-a/chat', 'chat')).toBe(true);
  const limited = tenant('l', { routeIds: ['team-a/chat'], models: ['chat'] });
  expect(tenantMayUse(limited, 'team-a/chat', 'chat')).toBe(true);
  expect(tenantMayUse(limited, 'team-a/chat', 'chat-alias')).toBe(false);
  expect(tenantMayUse(limited, 'team-a/premium', 'chat')).toBe(false);
});
