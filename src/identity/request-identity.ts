// One request's identity, from credential to routing claims: authenticate the
// caller, resolve its tenant in the table serving the request, then apply the
// tenant's header trust. Failures come with the HTTP status and OpenAI error
// code to answer with, and a message that names nothing but the caller's own.
import type { RoutingTable } from '../routing/table.js';
import type { Authenticator } from './authenticate.js';
import { describeCaller, type Caller } from './caller.js';
import { applyHeaderTrust, type TrustedRequest } from './header-trust.js';
import { resolveTenant, type TenantResolution } from './resolve-tenant.js';

export type RequestIdentity =
  | (Extract<TrustedRequest, { ok: true }> & { caller: Caller; callerDescription: string })
  | {
      ok: false;
      status: 401 | 403 | 503;
      code: 'invalid_api_key' | 'tenant_not_found' | 'identity_unavailable';
      message: string;
    };

export class RequestIdentifier {
  /** The last resolution, reused while the table and caller stay the same (a sidecar's caller never changes). */
  private last: { table: RoutingTable; caller: Caller; resolution: TenantResolution } | undefined;

  /** `namespace`: the proxy's; its tenants are the table's. */
  constructor(
    readonly authenticator: Authenticator,
    readonly namespace: string,
  ) {}

  async identify(
    headers: Readonly<Record<string, string | undefined>>,
    table: RoutingTable,
  ): Promise<RequestIdentity> {
    const auth = await this.authenticator.authenticate(headers.authorization, table);
    if (!auth.ok)
      return {
        ok: false,
        status: auth.status,
        code: auth.status === 401 ? 'invalid_api_key' : 'identity_unavailable',
        message: auth.message,
      };
    const { caller } = auth;
    const resolution = this.resolve(caller, table);
    if (!resolution.ok)
      return caller.kind === 'api-key'
        ? { ok: false, status: 401, code: 'invalid_api_key', message: resolution.message }
        : { ok: false, status: 403, code: 'tenant_not_found', message: resolution.message };
    const trusted = applyHeaderTrust(resolution.tenant, headers, table.tenants ?? []);
    if (!trusted.ok)
      return { ok: false, status: 403, code: 'tenant_not_found', message: trusted.message };
    return { ...trusted, caller, callerDescription: describeCaller(caller) };
  }

  private resolve(caller: Caller, table: RoutingTable): TenantResolution {
    const last = this.last;
    if (last && last.table === table && last.caller === caller) return last.resolution;
    const resolution = resolveTenant(caller, table.tenants ?? [], table.identity, this.namespace);
    this.last = { table, caller, resolution };
    return resolution;
  }
}
