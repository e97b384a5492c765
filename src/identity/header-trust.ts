// Turns a verified tenant into what routing may believe about a request. The
// tenant's own attributes (priority, task, compliance, capabilities) decide;
// an `x-modelroute-*` header counts only when the tenant trusts that header
// (spec.trustedHeaders), and every other one is ignored and reported back.
import { DEFAULT_TENANT, PRIORITY_CLASSES, type TrustableHeader } from '../api/v1alpha1/index.js';
import { ROUTING_HEADERS, headerList, type RequestClaims } from '../routing/facts.js';
import type { CompiledTenant } from '../routing/table.js';
import { implicitDefaultTenant } from './resolve-tenant.js';

const ROUTING_HEADER_NAMES: ReadonlySet<string> = new Set(Object.values(ROUTING_HEADERS));
const TRUSTABLE = Object.keys(ROUTING_HEADERS) as TrustableHeader[];
const PRIORITIES: ReadonlySet<string> = new Set(PRIORITY_CLASSES);

export type TrustedRequest =
  | {
      ok: true;
      /** The tenant the request is served as: the verified one, or another it is trusted to act for. */
      tenant: CompiledTenant;
      claims: RequestClaims;
      /** Routing headers the request carried that were not believed, in a fixed order. */
      ignored: string[];
      /** Whether rules' header matches may see this header (untrusted routing headers are hidden). */
      visible: (name: string) => boolean;
    }
  | { ok: false; message: string };

/** A tenant's claims for requests that carry no routing header (most of them), built once per tenant object. */
const plainRequests = new WeakMap<CompiledTenant, TrustedRequest>();
const plainVisible = (name: string) => !ROUTING_HEADER_NAMES.has(name);

function plainRequest(tenant: CompiledTenant): TrustedRequest {
  let found = plainRequests.get(tenant);
  if (!found) {
    found = {
      ok: true,
      tenant,
      claims: {
        tenant: tenant.name,
        priority: tenant.priority,
        task: tenant.task,
        compliance: tenant.compliance,
        capabilities: tenant.capabilities,
      },
      ignored: [],
      visible: plainVisible,
    };
    plainRequests.set(tenant, found);
  }
  return found;
}

/**
 * Claims for a request of `verified`. `tenants` are the proxy namespace's; a
 * trusted `x-modelroute-tenant` must name one of them (or `default`).
 */
export function applyHeaderTrust(
  verified: CompiledTenant,
  headers: Readonly<Record<string, string | undefined>>,
  tenants: readonly CompiledTenant[],
): TrustedRequest {
  if (TRUSTABLE.every((h) => headers[ROUTING_HEADERS[h]] === undefined))
    return plainRequest(verified);
  const trusted: readonly TrustableHeader[] = verified.trustedHeaders;
  const ignored: string[] = [];
  const value = (header: TrustableHeader): string | undefined => {
    const raw = headers[ROUTING_HEADERS[header]];
    if (raw === undefined) return undefined;
    if (trusted.includes(header)) return raw;
    ignored.push(ROUTING_HEADERS[header]);
    return undefined;
  };
  const [tenantHeader, priorityHeader, taskHeader, complianceHeader, capabilitiesHeader] =
    TRUSTABLE.map(value);

  let tenant = verified;
  const asTenant = tenantHeader?.trim();
  if (asTenant !== undefined && asTenant !== '' && asTenant !== verified.name) {
    const other =
      tenants.find((t) => t.name === asTenant) ??
      (asTenant === DEFAULT_TENANT ? implicitDefaultTenant(verified.namespace) : undefined);
    if (!other)
      return {
        ok: false,
        message: `x-modelroute-tenant names tenant "${asTenant}", which does not exist here; send the name of a ModelTenant of this namespace`,
      };
    tenant = other;
  }
  const priority = priorityHeader?.trim().toLowerCase();
  if (priority !== undefined && !PRIORITIES.has(priority)) ignored.push(ROUTING_HEADERS.priority);
  const task = taskHeader?.trim().toLowerCase();
  return {
    ok: true,
    tenant,
    claims: {
      tenant: tenant.name,
      priority: priority !== undefined && PRIORITIES.has(priority) ? priority : tenant.priority,
      task: task !== undefined && task !== '' ? task : tenant.task,
      compliance: union(tenant.compliance, headerList(complianceHeader)),
      capabilities: union(tenant.capabilities, headerList(capabilitiesHeader)),
    },
    ignored,
    visible: (name) =>
      !ROUTING_HEADER_NAMES.has(name) ||
      TRUSTABLE.some((h) => ROUTING_HEADERS[h] === name && trusted.includes(h)),
  };
}

function union(own: readonly string[], added: readonly string[]): readonly string[] {
  return added.length === 0 ? own : [...new Set([...own, ...added])];
}

/** Whether `tenant` may call `model`, served by route `routeId`. */
export function tenantMayUse(tenant: CompiledTenant, routeId: string, model: string): boolean {
  if (tenant.routeIds !== undefined && !tenant.routeIds.includes(routeId)) return false;
  return tenant.models === undefined || tenant.models.includes(model);
}
