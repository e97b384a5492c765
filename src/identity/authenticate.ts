// Who is calling, decided by the proxy for each request and never by a header
// the client wrote. One authenticator per proxy, chosen by `--identity`:
//   sidecar: the pod the proxy runs in; `Authorization` is ignored (apps send dummy keys);
//   gateway: `Authorization: Bearer` with a virtual key (`mr-…`) or a ServiceAccount token;
//   local:   whoever started the proxy (`--tenant`), or a virtual key that is in the table.
// Failures carry a message safe to show the caller: it never quotes the
// credential and never names another tenant, key or namespace.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { CompiledApiKey, RoutingTable } from '../routing/table.js';
import { looksLikeApiKey } from './api-key.js';
import type { Caller } from './caller.js';
import type { TokenReviewer, TokenVerifier } from './token-review.js';

export const IDENTITY_MODES = ['local', 'sidecar', 'gateway'] as const;
export type IdentityMode = (typeof IDENTITY_MODES)[number];

export type Authentication =
  { ok: true; caller: Caller } | { ok: false; status: 401 | 503; message: string };

export interface Authenticator {
  readonly mode: IdentityMode;
  /** `table` is the one serving this request: keys are valid only while it lists them. */
  authenticate(
    authorization: string | undefined,
    table: RoutingTable,
  ): Authentication | Promise<Authentication>;
}

const NO_CREDENTIAL: Authentication = {
  ok: false,
  status: 401,
  message:
    'this gateway needs a credential: send "Authorization: Bearer <key>" with a virtual API key (modelroute keys create) or a ServiceAccount token',
};
const BAD_KEY: Authentication = {
  ok: false,
  status: 401,
  message: 'the API key is not valid here (unknown, revoked or expired); ask for a new one',
};

/** The bearer credential, or undefined when there is none. */
export function bearerCredential(authorization: string | undefined): string | undefined {
  if (authorization === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization);
  return m ? m[1] : undefined;
}

/** The valid keys of one table by hash, built once per table. */
const keyIndexes = new WeakMap<RoutingTable, Map<string, CompiledApiKey>>();
function keyIndex(table: RoutingTable): Map<string, CompiledApiKey> {
  let index = keyIndexes.get(table);
  if (!index) {
    index = new Map((table.apiKeys ?? []).map((k) => [k.hash.slice('sha256:'.length), k]));
    keyIndexes.set(table, index);
  }
  return index;
}

/**
 * The key's record, if `key` is valid in `table` at `nowMs`. The lookup is by
 * sha256 of what was presented, so its timing tells an attacker nothing about
 * the stored hashes that they could steer; the hash is then compared in
 * constant time all the same. Expiry is checked here too, not only when the
 * table was compiled: a key expires at its instant, not at the next push.
 */
export function findApiKey(
  key: string,
  table: RoutingTable,
  nowMs: number,
): CompiledApiKey | undefined {
  const digest = createHash('sha256').update(key).digest();
  const found = keyIndex(table).get(digest.toString('hex'));
  if (!found) return undefined;
  const stored = Buffer.from(found.hash.slice('sha256:'.length), 'hex');
  if (stored.length !== digest.length || !timingSafeEqual(stored, digest)) return undefined;
  if (found.expiresAtMs !== undefined && found.expiresAtMs <= nowMs) return undefined;
  return found;
}

function apiKeyCaller(key: CompiledApiKey): Caller {
  return { kind: 'api-key', keyId: key.id, tenantId: key.tenantId };
}

/** The pod is the caller: the same one for every request. */
export function sidecarAuthenticator(
  workload: Extract<Caller, { kind: 'workload' }>,
): Authenticator {
  const result: Authentication = { ok: true, caller: workload };
  return { mode: 'sidecar', authenticate: () => result };
}

/** `--tenant` (or none), unless a virtual key in the table says otherwise; other bearers are ignored. */
export function localAuthenticator(tenant: string | undefined, now: () => number): Authenticator {
  const result: Authentication = { ok: true, caller: { kind: 'local', tenant } };
  return {
    mode: 'local',
    authenticate(authorization, table) {
      const credential = bearerCredential(authorization);
      if (credential === undefined || !looksLikeApiKey(credential)) return result;
      const key = findApiKey(credential, table, now());
      return key ? { ok: true, caller: apiKeyCaller(key) } : result;
    },
  };
}

/** A credential is required: a virtual key, or a ServiceAccount token checked with TokenReview. */
export function gatewayAuthenticator(tokens: TokenVerifier, now: () => number): Authenticator {
  return {
    mode: 'gateway',
    async authenticate(authorization, table) {
      const credential = bearerCredential(authorization);
      if (credential === undefined) return NO_CREDENTIAL;
      if (looksLikeApiKey(credential)) {
        const key = findApiKey(credential, table, now());
        return key ? { ok: true, caller: apiKeyCaller(key) } : BAD_KEY;
      }
      const verdict = await tokens.verify(credential);
      if (verdict.ok)
        return {
          ok: true,
          caller: { kind: 'service-account', namespace: verdict.namespace, name: verdict.name },
        };
      return {
        ok: false,
        status: verdict.reason === 'unavailable' ? 503 : 401,
        message: verdict.message,
      };
    },
  };
}

/** How a proxy learns who calls it, as `startProxy` takes it. */
export type ProxyIdentity =
  | { mode: 'local'; tenant?: string | undefined }
  | { mode: 'sidecar'; workload: Extract<Caller, { kind: 'workload' }> }
  | {
      mode: 'gateway';
      /** Absent: TokenReview through the kubeconfig (in-cluster when run in a pod). */
      tokenReviewer?: TokenReviewer | undefined;
      audience?: string | undefined;
      tokenCacheTtlMs?: number | undefined;
    };

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

/**
 * Why a sidecar must not listen on `host`, or undefined when it may: a
 * sidecar serves every request as its pod, so anyone who could reach its data
 * port from outside the pod would call as that pod.
 */
export function sidecarHostProblem(host: string): string | undefined {
  if (LOOPBACK.test(host)) return undefined;
  return `--identity sidecar serves every request as this pod, so its data port must listen only inside the pod: use --host 127.0.0.1, not ${host}`;
}
