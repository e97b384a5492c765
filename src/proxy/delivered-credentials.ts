// API keys of backends in another namespace (a platform namespace), delivered
// by the controller over TLS (POST /v1/credentials) and kept in memory only:
// they are never written to disk, mounted or copied into the app's namespace.
//
// When a table arrives that uses credentialed backends of another namespace
// whose keys are not held (or are held for another origin), they are fetched
// at once, in the background: the table push is acknowledged without waiting.
// Until the keys arrive a request that lands on such a backend fails over,
// and if no other backend serves it the client gets a 503 naming the backend
// and saying its credentials are being fetched (rather than a request held for
// an unknown time). Everything held is asked for again every
// `refreshAfterSeconds` (the controller's answer), so a rotated Secret is in
// use within that, and a failed fetch is retried with backoff from 1 s to 60 s.
//
// The same answer carries the pod's own admin token when the injector marked
// the pod for it (no admin-token Secret in its namespace): with `onAdminToken`
// the first request goes out at start, even with no backend to ask for, so the
// controller's first push is accepted, and the token is renewed on every refresh.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import type { RoutingTable } from '../routing/table.js';
import type { CompiledBackend } from '../routing/table.js';
import type { Logger } from '../telemetry/logger.js';
import {
  credentialsResponse,
  type CredentialsResponse,
  type DeliveredCredential,
} from './credential-protocol.js';
import { backendOrigin } from './credentials.js';

/** What the store knows about one backend's delivered key. */
export type DeliveredLookup =
  | { state: 'delivered'; apiKey: string }
  | { state: 'pending'; detail: string }
  | { state: 'refused'; reason: string };

/** One call to the controller; throws with a message naming nothing secret. */
export type CredentialsFetch = (backendIds: readonly string[]) => Promise<CredentialsResponse>;

export interface CredentialDeliverySettings {
  /** https://<webhook service>.<ns>.svc:<port>/v1/credentials */
  url: string;
  /** PEM of the CA that signed the controller's serving certificate. */
  ca: string;
  /** The projected ServiceAccount token (re-read on every call: the kubelet rotates it). */
  tokenFile: string;
  /** The proxy's namespace: keys of its own backends come from mounted Secrets, as before. */
  namespace?: string | undefined;
}

const FETCH_TIMEOUT_MS = 10_000;

/** The real client: undici over TLS verified against the given CA only. */
export function createCredentialsFetch(
  settings: Pick<CredentialDeliverySettings, 'url' | 'ca' | 'tokenFile'>,
): { fetch: CredentialsFetch; close(): Promise<void> } {
  const dispatcher = new Agent({ connect: { ca: settings.ca } });
  const fetch: CredentialsFetch = async (backendIds) => {
    let token: string;
    try {
      token = readFileSync(settings.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new Error(
        `cannot read the ServiceAccount token ${settings.tokenFile} (${(err as NodeJS.ErrnoException).code ?? 'error'}); the injector mounts it as a projected volume`,
      );
    }
    let status: number;
    let text: string;
    try {
      const res = await request(settings.url, {
        method: 'POST',
        dispatcher,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ backendIds }),
        headersTimeout: FETCH_TIMEOUT_MS,
        bodyTimeout: FETCH_TIMEOUT_MS,
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      throw new Error(`cannot reach the controller at ${settings.url}: ${(err as Error).message}`);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(`the controller answered ${status} with a body that is not JSON`);
    }
    if (status !== 200) {
      const error = (json as { error?: unknown } | null)?.error;
      throw new Error(
        `the controller refused the credentials request (${status}): ${typeof error === 'string' ? error : 'no reason given'}`,
      );
    }
    const parsed = credentialsResponse.safeParse(json);
    if (!parsed.success)
      throw new Error(
        `the controller's answer is not a credentials response: ${parsed.error.issues[0]?.message ?? ''}`,
      );
    return parsed.data;
  };
  return { fetch, close: () => dispatcher.close() };
}

export interface CredentialDeliveryOptions {
  fetch: CredentialsFetch;
  /** The proxy's namespace; undefined: every credentialed backend is fetched. */
  namespace?: string | undefined;
  logger: Logger;
  /**
   * Receives the admin token of every answer (undefined: the controller gave
   * none). Set: ask at start() and on every refresh even with no backend to fetch.
   */
  onAdminToken?: ((token: string | undefined) => void) | undefined;
  /** Told after each fetch, answered or failed (what is held or refused may have changed). */
  onUpdate?: () => void;
  /** Tests replace the timer; default setTimeout (unref'd). */
  schedule?: (fn: () => void, ms: number) => { cancel(): void };
}

const MIN_RETRY_MS = 1_000;
const MAX_RETRY_MS = 60_000;

const defaultSchedule = (fn: () => void, ms: number) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return { cancel: () => clearTimeout(t) };
};

/** The in-memory store and the loop that fills it. */
export class CredentialDelivery {
  private readonly held = new Map<string, DeliveredCredential>();
  private readonly refused = new Map<string, string>();
  /** backendId → the origin the current table sends it to. */
  private wanted = new Map<string, string | undefined>();
  private inFlight: Promise<void> | undefined;
  private again = false;
  private timer: { cancel(): void } | undefined;
  private retryMs = MIN_RETRY_MS;
  private lastError: string | undefined;
  private closed = false;
  private readonly schedule: NonNullable<CredentialDeliveryOptions['schedule']>;

  constructor(private readonly options: CredentialDeliveryOptions) {
    this.schedule = options.schedule ?? defaultSchedule;
  }

  /** Whether this store answers for a backend: a credentialed backend of another namespace. */
  private manages(backend: CompiledBackend): boolean {
    return (
      backend.credentials !== undefined &&
      (this.options.namespace === undefined || backend.namespace !== this.options.namespace)
    );
  }

  /** A new table: forget what it no longer uses, fetch at once what it uses and is not held. */
  onTable(table: RoutingTable): void {
    this.wanted = new Map(
      table.backends.filter((b) => this.manages(b)).map((b) => [b.id, backendOrigin(b.baseUrl)]),
    );
    for (const id of [...this.held.keys()]) if (!this.wanted.has(id)) this.held.delete(id);
    for (const id of [...this.refused.keys()]) if (!this.wanted.has(id)) this.refused.delete(id);
    const missing = [...this.wanted].some(([id, origin]) => this.held.get(id)?.origin !== origin);
    if (missing) void this.refresh();
  }

  /** The first request, before any table: the admin token (when onAdminToken is set). */
  start(): void {
    if (this.options.onAdminToken) void this.refresh();
  }

  /** undefined: not a delivered backend (its key is mounted or in the env). */
  lookup(backend: CompiledBackend): DeliveredLookup | undefined {
    if (!this.manages(backend)) return undefined;
    const held = this.held.get(backend.id);
    if (held && held.origin === backendOrigin(backend.baseUrl))
      return { state: 'delivered', apiKey: held.apiKey };
    const reason = this.refused.get(backend.id);
    if (reason !== undefined) return { state: 'refused', reason };
    return {
      state: 'pending',
      detail:
        this.lastError === undefined
          ? 'its API key is being fetched from the modelroute controller; retry in a moment'
          : `its API key has not been delivered by the modelroute controller yet (last attempt: ${this.lastError}); retrying`,
    };
  }

  /** Asks for every wanted backend now; concurrent calls share one request, then one more. */
  refresh(): Promise<void> {
    if (this.inFlight) {
      this.again = true;
      return this.inFlight;
    }
    this.timer?.cancel();
    this.inFlight = this.fetchOnce().finally(() => {
      this.inFlight = undefined;
      if (this.again && !this.closed) {
        this.again = false;
        void this.refresh();
      }
    });
    return this.inFlight;
  }

  private async fetchOnce(): Promise<void> {
    const ids = [...this.wanted.keys()].sort();
    if ((ids.length === 0 && !this.options.onAdminToken) || this.closed) return;
    let next: number;
    try {
      const answer = await this.options.fetch(ids);
      for (const c of answer.credentials) {
        if (!this.wanted.has(c.backendId)) continue;
        this.held.set(c.backendId, c);
        this.refused.delete(c.backendId);
      }
      for (const r of answer.refused) {
        if (!this.wanted.has(r.backendId)) continue;
        this.refused.set(r.backendId, r.reason);
        this.held.delete(r.backendId);
      }
      this.options.onAdminToken?.(answer.adminToken);
      this.lastError = undefined;
      this.retryMs = MIN_RETRY_MS;
      next = answer.refreshAfterSeconds * 1000;
      this.options.logger.info('backend credentials delivered', {
        delivered: answer.credentials.map((c) => c.backendId),
        refused: answer.refused,
        // Whether, never what: the token moves this pod's proxy.
        adminAccessDelivered: answer.adminToken !== undefined,
        refreshInSeconds: answer.refreshAfterSeconds,
      });
    } catch (err) {
      this.lastError = (err as Error).message;
      next = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      this.options.logger.warn('fetching backend credentials failed; retrying', {
        backends: ids,
        error: this.lastError,
        retryInMs: next,
      });
    }
    this.options.onUpdate?.();
    if (!this.closed) this.timer = this.schedule(() => void this.refresh(), next);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.timer?.cancel();
    await this.inFlight;
  }
}
