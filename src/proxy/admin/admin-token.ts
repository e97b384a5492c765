// The bearer tokens that guard the admin API, compared in constant time: the
// fleet token (or its namespace's derivation) from a Secret, and a per-pod
// token the controller delivers at run time over the credential channel.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export interface AdminTokenSource {
  /** File holding the token (e.g. a mounted Secret); read at start. */
  file?: string | undefined;
  /** The token itself (from the environment). */
  value?: string | undefined;
  /**
   * The proxy's own namespace (POD_NAMESPACE). When set, the token derived
   * for it (namespaceAdminToken) is accepted as well, so a proxy holding the
   * fleet token still takes pushes from a controller that scopes tokens.
   */
  namespace?: string | undefined;
}

/**
 * The admin token for the proxies of one namespace: HMAC-SHA256 of the
 * namespace under the fleet token, hex. A controller run with
 * `--admin-token-scope=namespace` sends each proxy only its namespace's token,
 * so a token copied into (or read from) one namespace moves no other
 * namespace's proxies, and a pod posing as a proxy learns nothing it did not
 * hold. Same as: printf 'modelroute-admin/%s' NS | openssl dgst -sha256 -hmac TOKEN
 */
export function namespaceAdminToken(fleetToken: string, namespace: string): string {
  return createHmac('sha256', fleetToken).update(`modelroute-admin/${namespace}`).digest('hex');
}

/**
 * The admin token of one proxy pod: HMAC-SHA256 of its namespace, name and UID
 * under the fleet token, hex. The controller delivers it to that pod over the
 * credential channel (POST /v1/credentials, after TokenReview of the pod's own
 * bound token) and pushes that pod with it, so no admin-token Secret exists in
 * app namespaces, and a token taken from one pod moves only that pod (its UID
 * changes with every re-creation, so it dies with the pod). The prefix differs
 * from namespaceAdminToken's and no name or UID contains "/", so the two
 * never collide. Same as:
 * printf 'modelroute-admin-pod/%s/%s/%s' NS POD UID | openssl dgst -sha256 -hmac TOKEN
 */
export function podAdminToken(
  fleetToken: string,
  namespace: string,
  podName: string,
  podUid: string,
): string {
  return createHmac('sha256', fleetToken)
    .update(`modelroute-admin-pod/${namespace}/${podName}/${podUid}`)
    .digest('hex');
}

export class AdminToken {
  private readonly digests: Buffer[];
  /** The token the controller delivered at run time (memory only); undefined until then. */
  private delivered: Buffer | undefined;
  /** True when no token was configured and a random one was made (nobody can push). */
  readonly generated: boolean;

  constructor(source: AdminTokenSource) {
    let token = source.value;
    if (source.file) {
      try {
        token = readFileSync(source.file, 'utf8').trim();
      } catch (err) {
        throw new Error(
          `cannot read the admin token file ${source.file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
        );
      }
      if (!token) throw new Error(`the admin token file ${source.file} is empty`);
    }
    this.generated = !token;
    const own = token || randomBytes(32).toString('hex');
    this.digests = [sha256(own)];
    if (source.namespace) this.digests.push(sha256(namespaceAdminToken(own, source.namespace)));
  }

  /**
   * Accepts this token as well, replacing the last delivered one (undefined:
   * none). Only its hash is kept, like the configured tokens'.
   */
  deliver(token: string | undefined): void {
    this.delivered = token ? sha256(token) : undefined;
  }

  /** Checks an Authorization header value ("Bearer <token>"). */
  accepts(authorization: string | undefined): boolean {
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!match?.[1]) return false;
    // Hashing first makes the comparison length-independent as well as constant-time.
    const offered = sha256(match[1].trim());
    let ok = false;
    for (const digest of this.digests) ok = timingSafeEqual(offered, digest) || ok;
    const delivered = this.delivered;
    if (delivered) ok = timingSafeEqual(offered, delivered) || ok;
    return ok;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
