// Verifies Kubernetes ServiceAccount tokens presented to a gateway proxy with
// the API server's TokenReview, audience-bound, and caches the answers so a
// busy caller costs one review per TTL rather than one per request.
//
// The cache is keyed by sha256 of the token: the token itself is never kept,
// logged or put in an error. Positive answers live min(ttl, the token's own
// `exp`); negative ones NEGATIVE_TTL_MS, so a forged token cannot make the
// proxy call the API server per request, yet a token minted a moment too late
// works within seconds. The cache holds at most `maxEntries` (oldest evicted).
import { createHash } from 'node:crypto';
import { z } from 'zod';

/** What the API server said about one token (`TokenReview.status`), reduced to what we use. */
export interface TokenReviewStatus {
  authenticated: boolean;
  /** `system:serviceaccount:NS:NAME` for ServiceAccount tokens. */
  username?: string | undefined;
  /** The audiences the token was found valid for (intersection with the requested ones). */
  audiences?: readonly string[] | undefined;
}

/** The one call to the API server; faked in tests, `createKubeTokenReviewer` in production. */
export interface TokenReviewer {
  review(token: string, audiences: readonly string[]): Promise<TokenReviewStatus>;
}

export type TokenVerdict =
  | { ok: true; namespace: string; name: string }
  | {
      ok: false;
      /** `invalid`: the token is not good (401); `unavailable`: it could not be checked (503). */
      reason: 'invalid' | 'unavailable';
      /** Safe to show the caller: never the token, never another identity. */
      message: string;
    };

export const DEFAULT_TOKEN_AUDIENCE = 'modelroute';
export const DEFAULT_TOKEN_CACHE_TTL_MS = 60_000;
export const MAX_TOKEN_CACHE_TTL_MS = 10 * 60_000;
export const NEGATIVE_TTL_MS = 10_000;
const DEFAULT_MAX_ENTRIES = 10_000;

const SERVICE_ACCOUNT_USER = /^system:serviceaccount:([a-z0-9.-]+):([a-z0-9.-]+)$/;

/** `system:serviceaccount:NS:NAME` → {namespace, name}; anything else (a user, a node) → undefined. */
export function serviceAccountOfUsername(
  username: string | undefined,
): { namespace: string; name: string } | undefined {
  const m = username === undefined ? null : SERVICE_ACCOUNT_USER.exec(username);
  return m ? { namespace: m[1] as string, name: m[2] as string } : undefined;
}

const jwtClaims = z.looseObject({ exp: z.number().optional() });

/**
 * The token's `exp` in epoch ms, read without verifying the signature: it only
 * ever shortens how long a verdict the API server gave is kept.
 */
export function tokenExpiryMs(token: string): number | undefined {
  const payload = token.split('.')[1];
  if (payload === undefined) return undefined;
  try {
    const parsed = jwtClaims.safeParse(JSON.parse(Buffer.from(payload, 'base64url').toString()));
    return parsed.success && parsed.data.exp !== undefined ? parsed.data.exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

export interface TokenVerifierOptions {
  reviewer: TokenReviewer;
  audience?: string;
  /** How long a positive verdict is kept at most (capped at 10 minutes). */
  ttlMs?: number;
  now: () => number;
  maxEntries?: number;
  /**
   * Told why a review could not be made (API server unreachable, RBAC), with
   * the token cut out, so an operator sees why callers get 503.
   */
  onReviewFailed?: (reason: string) => void;
}

function invalidToken(audience: string): TokenVerdict {
  return {
    ok: false,
    reason: 'invalid',
    message: `the bearer token is not a valid ServiceAccount token for this gateway (unknown, expired, revoked or for another audience); request one with audience "${audience}" (kubectl create token SA --audience ${audience}, or a projected token volume)`,
  };
}

export class TokenVerifier {
  private readonly cache = new Map<string, { verdict: TokenVerdict; until: number }>();
  private readonly inFlight = new Map<string, Promise<TokenVerdict>>();
  private readonly audience: string;
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  /** Reviews actually sent to the API server (tests bound work by it). */
  reviews = 0;
  private lastFailureReportMs = -Infinity;

  constructor(private readonly options: TokenVerifierOptions) {
    this.audience = options.audience ?? DEFAULT_TOKEN_AUDIENCE;
    this.ttlMs = Math.min(options.ttlMs ?? DEFAULT_TOKEN_CACHE_TTL_MS, MAX_TOKEN_CACHE_TTL_MS);
    this.maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  }

  get size(): number {
    return this.cache.size;
  }

  async verify(token: string): Promise<TokenVerdict> {
    const key = createHash('sha256').update(token).digest('base64url');
    const now = this.options.now();
    const cached = this.cache.get(key);
    if (cached && cached.until > now) return cached.verdict;
    if (cached) this.cache.delete(key);
    // Concurrent requests with one new token share one review.
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const review = this.review(token, key, now).finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, review);
    return review;
  }

  private async review(token: string, key: string, now: number): Promise<TokenVerdict> {
    const expiresAt = tokenExpiryMs(token);
    if (expiresAt !== undefined && expiresAt <= now)
      return this.remember(key, invalidToken(this.audience), now + NEGATIVE_TTL_MS);
    let status: TokenReviewStatus;
    this.reviews++;
    try {
      status = await this.options.reviewer.review(token, [this.audience]);
    } catch (err) {
      // Not cached: the next request asks again. The caller is not told why (it may quote the request).
      // Once per NEGATIVE_TTL_MS at most: an API server that is down must not flood the log.
      if (now - this.lastFailureReportMs >= NEGATIVE_TTL_MS) {
        this.lastFailureReportMs = now;
        const reason = err instanceof Error ? err.message : String(err);
        this.options.onReviewFailed?.(reason.split(token).join('[REDACTED]'));
      }
      return {
        ok: false,
        reason: 'unavailable',
        message:
          'the gateway cannot verify ServiceAccount tokens right now (TokenReview failed); retry shortly',
      };
    }
    const account = serviceAccountOfUsername(status.username);
    // An audience-unaware authenticator answers with no audiences: not good enough here.
    const forUs = status.audiences?.includes(this.audience) === true;
    if (!status.authenticated || account === undefined || !forUs)
      return this.remember(key, invalidToken(this.audience), now + NEGATIVE_TTL_MS);
    const until = Math.min(now + this.ttlMs, expiresAt ?? Infinity);
    return this.remember(key, { ok: true, ...account }, until);
  }

  private remember(key: string, verdict: TokenVerdict, until: number): TokenVerdict {
    this.cache.set(key, { verdict, until });
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
    return verdict;
  }
}
