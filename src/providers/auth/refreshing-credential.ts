// A credential with an expiry, fetched once and refreshed before it expires:
// requests use the cached value without waiting while a refresh runs in the
// background, and all callers share one fetch (no stampede on the token
// endpoint when it is slow or down).
import { CredentialUnavailableError } from './types.js';

export interface Expiring<T> {
  value: T;
  /** ms since the epoch; undefined: never expires (long-lived keys). */
  expiresAtMs: number | undefined;
}

export interface RefreshingCredentialOptions {
  now(): number;
  /** Refresh this long before expiry (default 5 minutes, as the clouds' SDKs do). */
  refreshBeforeMs?: number;
  /** After a failed fetch with nothing usable cached, callers get the failure for this long before a new try (default 1 s). */
  retryAfterFailureMs?: number;
  /** A refused credential is dropped at most this often (default 30 s), so a lasting refusal cannot hammer the token endpoint. */
  dropRefusedEveryMs?: number;
}

export class RefreshingCredential<T> {
  private cached: Expiring<T> | undefined;
  private inFlight: Promise<T> | undefined;
  private failure: { error: Error; at: number } | undefined;
  private lastDropMs = Number.NEGATIVE_INFINITY;
  private readonly refreshBeforeMs: number;
  private readonly retryAfterFailureMs: number;

  constructor(
    private readonly fetchCredential: () => Promise<Expiring<T>>,
    private readonly options: RefreshingCredentialOptions,
  ) {
    this.refreshBeforeMs = options.refreshBeforeMs ?? 5 * 60_000;
    this.retryAfterFailureMs = options.retryAfterFailureMs ?? 1_000;
  }

  /** The value, synchronously while it is fresh; else a Promise of a fresh one. */
  get(): T | Promise<T> {
    const now = this.options.now();
    const cached = this.cached;
    if (cached && (cached.expiresAtMs === undefined || now < cached.expiresAtMs)) {
      // Usable: refresh early in the background, keep serving this one meanwhile.
      if (cached.expiresAtMs !== undefined && now >= cached.expiresAtMs - this.refreshBeforeMs)
        this.refresh().catch(() => undefined);
      return cached.value;
    }
    if (this.failure && now - this.failure.at < this.retryAfterFailureMs && !this.inFlight)
      return Promise.reject(this.failure.error);
    return this.refresh();
  }

  /**
   * The provider refused the credential (401/403): it may have been revoked or
   * rotated before its expiry, so the next caller fetches a fresh one. A
   * refusal for another reason (no permission on the model) recurs; dropping
   * at most every `dropRefusedEveryMs` bounds what that costs.
   */
  refused(): void {
    const now = this.options.now();
    if (
      this.cached === undefined ||
      now - this.lastDropMs < (this.options.dropRefusedEveryMs ?? 30_000)
    )
      return;
    this.lastDropMs = now;
    this.cached = undefined;
  }

  private refresh(): Promise<T> {
    this.inFlight ??= this.fetchCredential().then(
      (fresh) => {
        this.cached = fresh;
        this.failure = undefined;
        this.inFlight = undefined;
        return fresh.value;
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new CredentialUnavailableError(String(err));
        this.failure = { error, at: this.options.now() };
        this.inFlight = undefined;
        throw error;
      },
    );
    return this.inFlight;
  }
}
