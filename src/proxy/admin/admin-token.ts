// The shared bearer token that guards the admin API, compared in constant time.
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

export class AdminToken {
  private readonly digests: Buffer[];
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

  /** Checks an Authorization header value ("Bearer <token>"). */
  accepts(authorization: string | undefined): boolean {
    const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    if (!match?.[1]) return false;
    // Hashing first makes the comparison length-independent as well as constant-time.
    const offered = sha256(match[1].trim());
    let ok = false;
    for (const digest of this.digests) ok = timingSafeEqual(offered, digest) || ok;
    return ok;
  }
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
