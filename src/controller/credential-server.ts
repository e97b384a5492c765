// `POST /v1/credentials`: the controller hands a proxy the API keys of the
// platform-namespace backends in its routing table, so provider keys never
// have to be copied into application namespaces. Served by every replica on
// the webhook's HTTPS listener (same serving certificate and CA).
//
// Who asks is decided by the API server, not by the request: the bearer is the
// proxy pod's projected ServiceAccount token (audience modelroute-controller),
// checked with TokenReview; a token bound to a Pod carries the pod's name in
// `authentication.kubernetes.io/pod-name`, the pod must exist in the token's
// namespace and carry `modelroute.io/proxy=true`. It then gets keys only for
// backends that are in the table that pod gets AND live in a namespace listed
// in --credential-namespaces (the only namespaces whose Secrets the controller
// may read). A pod the injector marked `modelroute.io/admin-token: delivered`
// also gets its own admin token (podAdminToken of the namespace, name and UID
// the API server vouched for), so no admin-token Secret is needed in its
// namespace. Nothing here logs or echoes a token or a key.
import { createHash } from 'node:crypto';
import type { CompiledBackend } from '../routing/table.js';
import type { TokenReviewer, TokenReviewResult } from '../k8s/token-review.js';
import type { Logger } from '../telemetry/logger.js';
import {
  CREDENTIALS_TOKEN_AUDIENCE,
  credentialsRequest,
  DEFAULT_REFRESH_AFTER_SECONDS,
  type CredentialsResponse,
  type DeliveredCredential,
  type RefusedCredential,
} from '../proxy/credential-protocol.js';
import { podAdminToken } from '../proxy/admin/admin-token.js';
import { backendOrigin } from '../proxy/credentials.js';
import {
  ADMIN_TOKEN_ANNOTATION,
  ADMIN_TOKEN_DELIVERED,
  PROXY_LABEL,
} from '../webhook/sidecar-patch.js';

export const POD_NAME_EXTRA = 'authentication.kubernetes.io/pod-name';
export const POD_UID_EXTRA = 'authentication.kubernetes.io/pod-uid';
const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([^:]+):([^:]+)$/;

/** A proxy pod as the credential endpoint needs it. */
export interface ProxyPodFacts {
  namespace: string;
  name: string;
  uid?: string | undefined;
  labels: Readonly<Record<string, string>>;
  annotations?: Readonly<Record<string, string>> | undefined;
}

/** A Secret read: its values, or why there are none. */
export type SecretRead =
  | { ok: true; values: ReadonlyMap<string, string> }
  | { ok: false; reason: 'not-found' | 'forbidden' };

export interface CredentialServerDeps {
  reviewer: TokenReviewer;
  /** undefined when the pod does not exist. */
  getPod(namespace: string, name: string): Promise<ProxyPodFacts | undefined>;
  readSecret(namespace: string, name: string): Promise<SecretRead>;
  /**
   * The backends of the routing table this pod gets. One function so the
   * controller's compile (with ModelBackendGrants) can be swapped in whole.
   */
  tableBackends(pod: ProxyPodFacts): Promise<readonly CompiledBackend[]>;
  /** Namespaces whose backends' keys may be delivered (--credential-namespaces). */
  credentialNamespaces: ReadonlySet<string>;
  /** The fleet admin token: per-pod admin tokens are derived from it; absent = none delivered. */
  adminToken?: string | undefined;
  logger: Logger;
  now: () => number;
  /** How long a Secret's values are reused (default 10 s; at most 30 s so rotation is seen). */
  secretCacheMs?: number;
  /** How long a positive TokenReview is reused (default 60 s); negatives 10 s. */
  reviewCacheMs?: number;
  refreshAfterSeconds?: number;
}

/** An answer: the HTTP status and its JSON body. */
export interface CredentialAnswer {
  status: number;
  body: CredentialsResponse | { error: string };
}

const MAX_REVIEW_CACHE = 1_000;
const MAX_SECRET_CACHE = 1_000;
const NEGATIVE_REVIEW_MS = 10_000;
const MAX_SECRET_CACHE_MS = 30_000;

const unauthorized = (error: string): CredentialAnswer => ({ status: 401, body: { error } });
const forbidden = (error: string): CredentialAnswer => ({ status: 403, body: { error } });

/** A map that forgets its oldest entry past `max` and entries older than their TTL. */
class ExpiringCache<V> {
  private readonly entries = new Map<string, { value: V; until: number }>();
  constructor(
    private readonly max: number,
    private readonly now: () => number,
  ) {}
  get(key: string): V | undefined {
    const hit = this.entries.get(key);
    if (!hit) return undefined;
    if (hit.until <= this.now()) {
      this.entries.delete(key);
      return undefined;
    }
    return hit.value;
  }
  set(key: string, value: V, ttlMs: number): void {
    this.entries.delete(key);
    this.entries.set(key, { value, until: this.now() + ttlMs });
    while (this.entries.size > this.max)
      this.entries.delete(this.entries.keys().next().value as string);
  }
}

export interface CredentialRequestInput {
  authorization: string | undefined;
  /** The raw body text. */
  body: string;
}

export function createCredentialServer(
  deps: CredentialServerDeps,
): (input: CredentialRequestInput) => Promise<CredentialAnswer> {
  const reviewCacheMs = deps.reviewCacheMs ?? 60_000;
  const secretCacheMs = Math.min(deps.secretCacheMs ?? 10_000, MAX_SECRET_CACHE_MS);
  const reviews = new ExpiringCache<TokenReviewResult>(MAX_REVIEW_CACHE, deps.now);
  const secrets = new ExpiringCache<SecretRead>(MAX_SECRET_CACHE, deps.now);

  /** TokenReview, cached by the token's hash (the token itself is never a key or logged). */
  const review = async (token: string): Promise<TokenReviewResult> => {
    const id = createHash('sha256').update(token).digest('hex');
    const cached = reviews.get(id);
    if (cached) return cached;
    const result = await deps.reviewer.review(token, [CREDENTIALS_TOKEN_AUDIENCE]);
    reviews.set(id, result, result.authenticated ? reviewCacheMs : NEGATIVE_REVIEW_MS);
    return result;
  };

  const readSecret = async (namespace: string, name: string): Promise<SecretRead> => {
    const id = `${namespace}/${name}`;
    const cached = secrets.get(id);
    if (cached) return cached;
    const read = await deps.readSecret(namespace, name);
    secrets.set(id, read, secretCacheMs);
    return read;
  };

  const deliver = async (
    backend: CompiledBackend,
  ): Promise<{ ok: true; value: DeliveredCredential } | { ok: false; reason: string }> => {
    if (!deps.credentialNamespaces.has(backend.namespace))
      return {
        ok: false,
        reason: `namespace ${backend.namespace} is not a credential namespace of the controller, so it may not read its Secrets; add it to the chart value platformNamespaces (controller flag --credential-namespaces), or put the Secret in the proxy's own namespace`,
      };
    const ref = backend.credentials;
    if (!ref)
      return { ok: false, reason: `backend ${backend.id} has no secretRef; it needs no key` };
    const origin = backendOrigin(backend.baseUrl);
    if (origin === undefined)
      return { ok: false, reason: `backend ${backend.id} has an endpoint that is not a plain URL` };
    const read = await readSecret(backend.namespace, ref.secretName);
    if (!read.ok)
      return {
        ok: false,
        reason:
          read.reason === 'not-found'
            ? `Secret "${ref.secretName}" not found in namespace ${backend.namespace}; create it or fix the backend's spec.secretRef`
            : `the controller may not read Secret "${ref.secretName}" in namespace ${backend.namespace}; grant it with the chart value platformNamespaces (a Role with get on secrets there)`,
      };
    const apiKey = read.values.get(ref.key)?.trim();
    if (!apiKey)
      return {
        ok: false,
        reason: `Secret "${ref.secretName}" in namespace ${backend.namespace} has no key "${ref.key}"; add it or fix spec.secretRef.key`,
      };
    return {
      ok: true,
      value: { backendId: backend.id, origin, secretName: ref.secretName, key: ref.key, apiKey },
    };
  };

  return async ({ authorization, body }) => {
    const token = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
    if (!token)
      return unauthorized(
        'send the proxy pod\'s projected ServiceAccount token (audience "modelroute-controller") as "Authorization: Bearer <token>"',
      );
    let raw: unknown;
    try {
      raw = JSON.parse(body);
    } catch {
      return {
        status: 400,
        body: { error: 'the body is not JSON: send {"backendIds": ["<namespace>/<name>", ...]}' },
      };
    }
    const parsed = credentialsRequest.safeParse(raw);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return {
        status: 400,
        body: {
          error:
            `the body must be {"backendIds": ["<namespace>/<name>", ...]} (0-256 ids): ${issue?.path.join('.') ?? ''} ${issue?.message ?? ''}`.trim(),
        },
      };
    }

    const reviewed = await review(token);
    if (!reviewed.authenticated || !reviewed.audiences.includes(CREDENTIALS_TOKEN_AUDIENCE))
      return unauthorized(
        'the token is not valid for audience "modelroute-controller" (expired, forged, or for another audience); mount a projected ServiceAccount token with that audience',
      );
    const sa = SERVICE_ACCOUNT_USER.exec(reviewed.username);
    const podName = reviewed.extra[POD_NAME_EXTRA]?.[0];
    if (!sa || !podName)
      return forbidden(
        "the token is not bound to a pod: only a proxy pod's projected ServiceAccount token may fetch credentials",
      );
    const namespace = sa[1]!;
    const pod = await deps.getPod(namespace, podName);
    const uid = reviewed.extra[POD_UID_EXTRA]?.[0];
    if (!pod || (uid !== undefined && pod.uid !== undefined && uid !== pod.uid))
      return forbidden(`pod ${namespace}/${podName} no longer exists`);
    if (pod.labels[PROXY_LABEL] !== 'true')
      return forbidden(
        `pod ${namespace}/${podName} is not a modelroute proxy (label ${PROXY_LABEL}=true); only proxies receive credentials`,
      );

    const wanted = [...new Set(parsed.data.backendIds)];
    const table = new Map(
      wanted.length === 0 ? [] : (await deps.tableBackends(pod)).map((b) => [b.id, b]),
    );
    const outside = wanted.filter((id) => !table.has(id));
    if (outside.length > 0) {
      deps.logger.warn("credentials refused: backends not in the pod's table", {
        pod: `${namespace}/${podName}`,
        backends: outside,
      });
      return forbidden(
        `backends ${outside.join(', ')} are not in the routing table of pod ${namespace}/${podName}; a proxy receives only the credentials of its own table's backends`,
      );
    }
    const credentials: DeliveredCredential[] = [];
    const refused: RefusedCredential[] = [];
    for (const id of wanted) {
      const result = await deliver(table.get(id)!);
      if (result.ok) credentials.push(result.value);
      else refused.push({ backendId: id, reason: result.reason });
    }
    // The pod as the API server named it (name and UID of the token, UID equal to the Pod's).
    const wantsAdminToken = pod.annotations?.[ADMIN_TOKEN_ANNOTATION] === ADMIN_TOKEN_DELIVERED;
    const adminToken =
      deps.adminToken !== undefined && wantsAdminToken && uid !== undefined && uid === pod.uid
        ? podAdminToken(deps.adminToken, namespace, podName, uid)
        : undefined;
    if (wantsAdminToken && adminToken === undefined)
      deps.logger.warn('no admin token for a proxy that needs one; the controller cannot push it', {
        pod: `${namespace}/${podName}`,
        reason:
          deps.adminToken === undefined
            ? 'this controller has no admin token configured'
            : `its token does not name the pod's UID (${POD_UID_EXTRA}); mount a projected ServiceAccount token, which the API server binds to the pod`,
      });
    deps.logger.info('credentials delivered', {
      pod: `${namespace}/${podName}`,
      delivered: credentials.map((c) => c.backendId),
      refused: refused.map((r) => r.backendId),
      // Whether, never what (and not a "token" key: the logger would blank a boolean too).
      adminAccessDelivered: adminToken !== undefined,
    });
    return {
      status: 200,
      body: {
        credentials,
        refused,
        refreshAfterSeconds: deps.refreshAfterSeconds ?? DEFAULT_REFRESH_AFTER_SECONDS,
        ...(adminToken === undefined ? {} : { adminToken }),
      },
    };
  };
}
