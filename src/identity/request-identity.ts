// One request's identity, from credential to routing claims: authenticate the
// caller, resolve its tenant in the table serving the request, then apply the
// tenant's header trust. Failures come with the HTTP status and OpenAI error
// code to answer with, and a message that names nothing but the caller's own.
import type { RoutingTable } from '../routing/table.js';
import type { Authentication, Authenticator } from './authenticate.js';
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
  private last:
    | { table: RoutingTable; caller: Caller; resolution: TenantResolution; description: string }
    | undefined;

  /** `namespace`: the proxy's; its tenants are the table's. */
  constructor(
    readonly authenticator: Authenticator,
    readonly namespace: string,
  ) {}

  /** Synchronous unless the credential needs a TokenReview: a sidecar's requests never wait for a tick. */
  identify(
    headers: Readonly<Record<string, string | undefined>>,
    table: RoutingTable,
  ): RequestIdentity | Promise<RequestIdentity> {
    const auth = this.authenticator.authenticate(headers.authorization, table);
    return auth instanceof Promise
      ? auth.then((done) => this.identified(done, headers, table))
      : this.identified(auth, headers, table);
  }

  private identified(
    auth: Authentication,
    headers: Readonly<Record<string, string | undefined>>,
    table: RoutingTable,
  ): RequestIdentity {
    if (!auth.ok)
      return {
        ok: false,
        status: auth.status,
        code: auth.status === 401 ? 'invalid_api_key' : 'identity_unavailable',
        message: auth.message,
      };
    const { caller } = auth;
    const { resolution, description } = this.resolve(caller, table);
    if (!resolution.ok)
      return caller.kind === 'api-key'
        ? { ok: false, status: 401, code: 'invalid_api_key', message: resolution.message }
        : { ok: false, status: 403, code: 'tenant_not_found', message: resolution.message };
    const trusted = applyHeaderTrust(resolution.tenant, headers, table.tenants ?? []);
    if (!trusted.ok)
      return { ok: false, status: 403, code: 'tenant_not_found', message: trusted.message };
    // Field by field: an object spread here cost ~2 µs per request (measured under tsx, node 20).
    return {
      ok: true,
      tenant: trusted.tenant,
      claims: trusted.claims,
      ignored: trusted.ignored,
      visible: trusted.visible,
      caller,
      callerDescription: description,
    };
  }

  private resolve(
    caller: Caller,
    table: RoutingTable,
  ): { resolution: TenantResolution; description: string } {
    const last = this.last;
    if (last && last.table === table && last.caller === caller) return last;
    const resolution = resolveTenant(caller, table.tenants ?? [], table.identity, this.namespace);
    const next = { table, caller, resolution, description: describeCaller(caller) };
    this.last = next;
    return next;
  }
}
