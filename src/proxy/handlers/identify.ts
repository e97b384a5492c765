// The identity step every data-plane endpoint takes first: who is calling,
// which tenant it is served as, and what it may use. Refusals are OpenAI
// errors (401 invalid_api_key, 403 tenant_not_found / model_not_allowed).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Span } from '@opentelemetry/api';
import { tenantMayUse } from '../../identity/header-trust.js';
import type { RequestIdentity } from '../../identity/request-identity.js';
import type { PreparedTable } from '../../routing/prepared-table.js';
import type { RoutingTable } from '../../routing/table.js';
import { ProxyError } from '../errors.js';
import type { ProxyRuntime } from '../runtime.js';

export const IDENTITY_HEADERS = {
  tenant: 'x-modelroute-tenant',
  ignored: 'x-modelroute-ignored-headers',
} as const;

export type IdentifiedRequest = Extract<RequestIdentity, { ok: true }>;

/** Header values by lower-case name (repeated headers joined with commas). */
export function headerMap(req: IncomingMessage): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(req.headers))
    out[name] = Array.isArray(value) ? value.join(',') : value;
  return out;
}

/**
 * The request's identity, or a ProxyError to answer with. On success the
 * response (whatever it turns out to be) names the tenant and the headers
 * that were ignored, and the span records tenant and caller.
 */
export async function identifyOrRefuse(
  runtime: ProxyRuntime,
  headers: Readonly<Record<string, string | undefined>>,
  table: RoutingTable,
  res: ServerResponse,
  span: Span,
): Promise<IdentifiedRequest> {
  const who = await runtime.identity.identify(headers, table);
  if (!who.ok) {
    // The message is the one the caller gets: it never holds the credential.
    runtime.logger.debug('request refused', {
      status: who.status,
      code: who.code,
      reason: who.message,
    });
    throw new ProxyError(
      who.status,
      who.message,
      who.status === 503 ? 'service_unavailable' : 'invalid_request_error',
      who.code,
    );
  }
  res.setHeader(IDENTITY_HEADERS.tenant, who.tenant.name);
  if (who.ignored.length > 0) res.setHeader(IDENTITY_HEADERS.ignored, who.ignored.join(','));
  span.setAttribute('modelroute.tenant', who.tenant.name);
  span.setAttribute('modelroute.caller', who.callerDescription);
  return who;
}

/** 403 unless the tenant may use `model` and the route serving it; unknown models are left to routing (404). */
export function refuseUnlessAllowed(
  who: IdentifiedRequest,
  prepared: PreparedTable,
  model: string,
): void {
  const route = prepared.routeByModel.get(model);
  const allowed = route
    ? tenantMayUse(who.tenant, route.source.id, model)
    : who.tenant.models === undefined || who.tenant.models.includes(model);
  if (allowed) return;
  throw new ProxyError(
    403,
    `tenant ${who.tenant.name} may not use model "${model}"; ask the platform team to add it to the tenant's routes or models`,
    'invalid_request_error',
    'model_not_allowed',
    'model',
  );
}

/** The model names `tenant` may call, for GET /v1/models. */
export function modelsFor(who: IdentifiedRequest, table: RoutingTable): string[] {
  const names = table.routes.flatMap((r) =>
    [r.model, ...r.aliases].filter((name) => tenantMayUse(who.tenant, r.id, name)),
  );
  return [...new Set(names)].sort();
}
