// The proxy's live knowledge of each backend (circuit, load, limits, recent
// latency), fed by finished attempts and read by the routing core. Limits are
// fleet-wide (issue 14): this proxy enforces its share of each (QuotaState),
// and lower priority classes stop using a backend before it is full.
import type { LimitUsage } from '../quota/protocol.js';
import { backendQuotaKey } from '../quota/protocol.js';
import { QuotaState, type ShareSource } from '../quota/quota-state.js';
import { ShareLimiter, hasAmounts } from '../quota/share-limiter.js';
import type { BackendLiveView } from '../routing/live-state.js';
import type { CompiledBackend } from '../routing/table.js';
import {
  CircuitBreaker,
  DEFAULT_CIRCUIT_BREAKER,
  type CircuitBreakerOptions,
  type CircuitState,
} from './resilience/circuit-breaker.js';
import { Ewma } from './resilience/ewma.js';

export type AttemptOutcome =
  | 'success'
  | 'connect-failure'
  | 'timeout'
  | 'rate-limited'
  | 'server-error'
  | 'client-error'
  | 'stream-broken'
  /**
   * The backend refused a request the proxy formed itself: its URL or model
   * 404s, its key is refused (401/403) or missing from the proxy's mount.
   */
  | 'backend-rejected'
  /** A backend-rejected call answered 401/403: the backend's own key was refused. */
  | 'auth-refused'
  /** A backend-rejected call answered 404/405/410: the backend's URL or model is wrong. */
  | 'endpoint-not-found';

type FailureOutcome = Exclude<AttemptOutcome, 'success'>;

export interface BackendStats {
  backendId: string;
  /** Attempts begun. */
  requests: number;
  successes: number;
  failures: Record<FailureOutcome, number>;
  inFlight: number;
  latencyEwmaMs?: number;
  ttftEwmaMs?: number;
  circuit: CircuitState;
  consecutiveFailures: number;
  lastOutcome?: AttemptOutcome;
  lastOutcomeAt?: number;
}

export interface AttemptTicket {
  /** Reports how the attempt ended. Idempotent: a second call is ignored. */
  finish(
    outcome: AttemptOutcome,
    details: { latencyMs: number; ttftMs?: number; tokens?: number },
  ): void;
}

export interface BackendLiveStateOptions {
  now: () => number;
  breaker?: Partial<CircuitBreakerOptions>;
  onCircuitChange?: (backendId: string, state: CircuitState) => void;
  /** The fleet shares to enforce (default: local mode, every limit in full). */
  quotas?: QuotaState;
  /**
   * Whether an exact-mode store is configured: then an exact backend's limit
   * is checked in the store per attempt (forward/exact-admission.ts), not
   * against this proxy's share, unless the store is unreachable.
   */
  exactStore?: boolean;
}

/** Default priorityCeilings: low-priority tenants leave at 80% of the share, normal at 90%. */
export const DEFAULT_PRIORITY_CEILINGS = { low: 0.8, normal: 0.9 } as const;

/**
 * A class's ceiling holds back headroom only while a higher class has wanted
 * the backend on this proxy within this long (one limit window): headroom
 * nobody above asks for is not kept empty. Before this, a fleet with only
 * normal-priority traffic admitted 90% of its limit (bench quotas: at most 566
 * of 600 in any minute, every refusal "reached the normal-priority ceiling").
 */
export const HIGHER_PRIORITY_MEMORY_MS = 60_000;

type PriorityClass = 'low' | 'normal' | 'high';

/** low and normal by name; any other priority, or none, is served as high. */
function priorityClass(priority: string | undefined): PriorityClass {
  return priority === 'low' ? 'low' : priority === 'normal' ? 'normal' : 'high';
}

/** A backend's limit as the table gives it and how it is enforced. */
interface EntryLimits {
  amounts: { rpm?: number; tpm?: number; maxConcurrency?: number };
  exact: boolean;
  ceilings: { low: number; normal: number };
  latencyObjectiveMs: number | undefined;
}

/** Weight of a new latency sample: about the last 10 requests dominate. */
const LATENCY_ALPHA = 0.2;

/** Outcomes that say the backend (not the request) is in trouble. */
const BREAKER_FAILURES: ReadonlySet<AttemptOutcome> = new Set<AttemptOutcome>([
  'connect-failure',
  'timeout',
  'server-error',
  'stream-broken',
  'backend-rejected',
  'auth-refused',
  'endpoint-not-found',
  // A backend that keeps answering 429 should be rested, not hammered.
  'rate-limited',
]);

const NO_OP_TICKET: AttemptTicket = { finish: () => undefined };

interface Entry {
  readonly id: string;
  readonly breaker: CircuitBreaker;
  /** This proxy's share of the backend's limits, and its in-flight count. */
  readonly share: ShareLimiter;
  readonly latency: Ewma;
  readonly ttft: Ewma;
  /** Undefined: the backend has no limits (no share to read, nothing to refuse). */
  limits: EntryLimits | undefined;
  requests: number;
  successes: number;
  /** When a normal- and a high-priority request last wanted the backend (attempted or refused). */
  readonly wantedAt: { normal: number; high: number };
  readonly failures: Record<FailureOutcome, number>;
  lastOutcome?: AttemptOutcome;
  lastOutcomeAt?: number;
}

export class BackendLiveState implements BackendLiveView {
  private entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly breakerOptions: CircuitBreakerOptions;
  private readonly onCircuitChange: ((backendId: string, state: CircuitState) => void) | undefined;
  readonly quotas: QuotaState;
  private readonly exactStore: boolean;

  constructor(options: BackendLiveStateOptions) {
    this.now = options.now;
    this.quotas = options.quotas ?? new QuotaState({ mode: 'local', now: options.now });
    this.exactStore = options.exactStore ?? false;
    this.breakerOptions = { ...DEFAULT_CIRCUIT_BREAKER, ...definedOnly(options.breaker ?? {}) };
    this.onCircuitChange = options.onCircuitChange;
  }

  /**
   * Applies a new routing table: backends that stay keep everything they
   * learned (a table push must not reset an open circuit), new ones start
   * fresh, removed ones are forgotten. Limits always come from the new table.
   */
  configure(backends: readonly CompiledBackend[]): void {
    const next = new Map<string, Entry>();
    for (const backend of backends) {
      const entry = next.get(backend.id) ?? this.entries.get(backend.id) ?? this.create(backend.id);
      entry.limits = entryLimits(backend);
      entry.share.invalidate(); // re-read the share against the new table's limits
      if (!entry.limits) entry.share.setShare({});
      next.set(backend.id, entry);
    }
    this.entries = next;
  }

  /**
   * False for unknown ids, an open circuit (or a half-open one whose probe is
   * out), or a reached share. With a priority class, also false once the
   * backend's load reaches that class's ceiling: low at priorityCeilings.low
   * (default 0.8), normal at .normal (0.9), high (or none) only at the share;
   * a ceiling holds only while a higher class wanted the backend here within
   * HIGHER_PRIORITY_MEMORY_MS. Counts nothing: routing asks about every
   * candidate, wanted or not (begin and countRefusal count the ones a request wanted).
   */
  available(backendId: string, priority?: string): boolean {
    const entry = this.entries.get(backendId);
    if (!entry) return false;
    if (!entry.breaker.canAttempt()) return false;
    return !this.limitedFor(entry, priority);
  }

  /**
   * Counts a request that wanted the backend and found it at its share or its
   * priority ceiling (not an open circuit): the demand the controller sizes
   * this proxy's share by.
   */
  countRefusal(backendId: string, priority?: string): void {
    const entry = this.entries.get(backendId);
    if (!entry) return;
    this.wanted(entry, priority);
    if (entry.breaker.canAttempt() && this.limitedFor(entry, priority)) entry.share.refuse();
  }

  /** A request of this priority wanted the backend: lower classes leave it headroom for a while. */
  private wanted(entry: Entry, priority: string | undefined): void {
    const cls = priorityClass(priority);
    if (cls !== 'low' && entry.limits) entry.wantedAt[cls] = this.now();
  }

  /** The ceiling a class is held to now: none unless a higher class wanted the backend lately. */
  private ceilingFor(entry: Entry, limits: EntryLimits, priority: string | undefined) {
    const cls = priorityClass(priority);
    if (cls === 'high') return undefined;
    const since = this.now() - HIGHER_PRIORITY_MEMORY_MS;
    const { normal, high } = entry.wantedAt;
    if (cls === 'low') return Math.max(normal, high) > since ? limits.ceilings.low : undefined;
    return high > since ? limits.ceilings.normal : undefined;
  }

  /** Whether the backend's share or the priority's ceiling keeps this request off it. */
  private limitedFor(entry: Entry, priority: string | undefined): boolean {
    const limits = entry.limits;
    if (!limits) return false;
    const ceiling = this.ceilingFor(entry, limits, priority);
    // Exact keys with a store: the store decides per attempt; only latency moves lower classes here.
    const byStore = limits.exact && this.exactStore;
    const fits = byStore || this.refreshed(entry).canAdmit(0); // token estimates are not known here
    return !fits || (ceiling !== undefined && this.loadOf(entry, byStore) >= ceiling);
  }

  /**
   * The fullest of the backend's rpm, tpm and concurrency shares (0..1+), or
   * its latency EWMA over latencyObjectiveMs when larger; 0 without limits.
   */
  load(backendId: string): number {
    const entry = this.entries.get(backendId);
    if (!entry?.limits) return 0;
    return this.loadOf(entry, entry.limits.exact && this.exactStore);
  }

  /**
   * Whether this proxy's own share admits one more request: the check an exact
   * key falls back to while its store is unreachable (onStoreUnavailable: fleet-share).
   */
  shareAdmits(backendId: string, estimatedTokens: number): boolean {
    const entry = this.entries.get(backendId);
    if (!entry?.limits) return true;
    return this.refreshed(entry).canAdmit(estimatedTokens);
  }

  /** Counts a request refused by the backend's limit outside available() (the exact store). */
  refused(backendId: string): void {
    this.entries.get(backendId)?.share.refuse();
  }

  /** Cumulative and window counts of every backend with limits, for GET /admin/v1/stats. */
  limitUsage(): LimitUsage[] {
    const out: LimitUsage[] = [];
    for (const entry of this.entries.values())
      if (entry.limits && hasAmounts(entry.limits.amounts)) out.push(entry.share.usage());
    return out;
  }

  /** The share each limited backend enforces now, for GET /admin/v1/quotas. */
  limitsInEffect(): LimitInEffect[] {
    const out: LimitInEffect[] = [];
    for (const entry of this.entries.values()) {
      if (!entry.limits) continue;
      const share = this.refreshed(entry);
      out.push({
        key: share.key,
        limit: entry.limits.amounts,
        share: share.share,
        source: share.source,
        enforcement: entry.limits.exact
          ? this.exactStore
            ? 'exact'
            : 'fleet (no store)'
          : 'fleet',
        load: this.loadOf(entry, entry.limits.exact && this.exactStore),
      });
    }
    return out;
  }

  /** The entry's share limiter, its share re-read if the quota state moved on. */
  private refreshed(entry: Entry): ShareLimiter {
    const limits = entry.limits;
    return limits ? entry.share.sync(this.quotas, limits.amounts) : entry.share;
  }

  private loadOf(entry: Entry, byStore: boolean): number {
    const limits = entry.limits;
    if (!limits) return 0;
    const shareLoad = byStore ? 0 : this.refreshed(entry).load();
    const latency = entry.latency.value;
    const objective = limits.latencyObjectiveMs;
    return objective !== undefined && latency !== undefined
      ? Math.max(shareLoad, latency / objective)
      : shareLoad;
  }

  latencyMs(backendId: string): number | undefined {
    return this.entries.get(backendId)?.latency.value;
  }

  inFlight(backendId: string): number {
    return this.entries.get(backendId)?.share.inFlight ?? 0;
  }

  /**
   * Starts an attempt. Every ticket must be finished (in a finally), or the
   * backend keeps an in-flight slot, and in half-open its probe slot, forever.
   * An unknown id (the table changed under the request) gets a ticket that
   * records nothing.
   */
  begin(backendId: string, estimatedTokens: number, priority?: string): AttemptTicket {
    const entry = this.entries.get(backendId);
    if (!entry) return NO_OP_TICKET;
    this.wanted(entry, priority);
    const estimate = Number.isFinite(estimatedTokens) ? Math.max(0, estimatedTokens) : 0;
    entry.requests++;
    entry.breaker.onAttempt();
    const recordedAt = entry.share.admit(estimate);
    let finished = false;
    return {
      finish: (outcome, details) => {
        if (finished) return;
        finished = true;
        // Updates the entry even if a newer table dropped it: harmless, and simpler than checking.
        this.finish(entry, outcome, details, estimate, recordedAt);
      },
    };
  }

  /** One row per configured backend, sorted by id. */
  stats(): BackendStats[] {
    return [...this.entries.values()]
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
      .map((e) => {
        const stats: BackendStats = {
          backendId: e.id,
          requests: e.requests,
          successes: e.successes,
          failures: { ...e.failures },
          inFlight: e.share.inFlight,
          circuit: e.breaker.state,
          consecutiveFailures: e.breaker.consecutiveFailures,
        };
        if (e.latency.value !== undefined) stats.latencyEwmaMs = e.latency.value;
        if (e.ttft.value !== undefined) stats.ttftEwmaMs = e.ttft.value;
        if (e.lastOutcome !== undefined) stats.lastOutcome = e.lastOutcome;
        if (e.lastOutcomeAt !== undefined) stats.lastOutcomeAt = e.lastOutcomeAt;
        return stats;
      });
  }

  private finish(
    entry: Entry,
    outcome: AttemptOutcome,
    details: { latencyMs: number; ttftMs?: number; tokens?: number },
    estimate: number,
    recordedAt: number,
  ): void {
    // Real usage replaces the estimate in the token window whenever it is known
    // (a broken stream may still report partial usage).
    entry.share.finish(estimate, details.tokens, recordedAt);
    entry.lastOutcome = outcome;
    entry.lastOutcomeAt = this.now();
    if (outcome === 'success') {
      entry.successes++;
      entry.breaker.recordSuccess();
      entry.latency.update(details.latencyMs);
      if (details.ttftMs !== undefined) entry.ttft.update(details.ttftMs);
      return;
    }
    entry.failures[outcome]++;
    if (BREAKER_FAILURES.has(outcome)) {
      entry.breaker.recordFailure();
    } else {
      // A bad request (or a client that left) says nothing about the backend:
      // no failure, no success, but a half-open probe slot must be given back.
      entry.breaker.onAbandon();
    }
  }

  private create(id: string): Entry {
    return {
      id,
      breaker: new CircuitBreaker(this.breakerOptions, this.now, (state) =>
        this.onCircuitChange?.(id, state),
      ),
      share: new ShareLimiter(backendQuotaKey(id), this.now),
      latency: new Ewma(LATENCY_ALPHA),
      ttft: new Ewma(LATENCY_ALPHA),
      limits: undefined,
      requests: 0,
      successes: 0,
      wantedAt: { normal: -Infinity, high: -Infinity },
      failures: {
        'connect-failure': 0,
        timeout: 0,
        'rate-limited': 0,
        'server-error': 0,
        'client-error': 0,
        'stream-broken': 0,
        'backend-rejected': 0,
        'auth-refused': 0,
        'endpoint-not-found': 0,
      },
    };
  }
}

/** What GET /admin/v1/quotas shows for one limited backend. */
export interface LimitInEffect {
  key: string;
  limit: { rpm?: number; tpm?: number; maxConcurrency?: number };
  share: { rpm?: number; tpm?: number; maxConcurrency?: number };
  source: ShareSource;
  enforcement: 'fleet' | 'exact' | 'fleet (no store)';
  load: number;
}

function entryLimits(backend: CompiledBackend): EntryLimits | undefined {
  const { rpm, tpm, maxConcurrency, enforcement, priorityCeilings, latencyObjectiveMs } =
    backend.limits;
  const amounts = definedOnly({ rpm, tpm, maxConcurrency });
  // A latency objective alone still makes the backend scarce for low priority.
  if (!hasAmounts(amounts) && latencyObjectiveMs === undefined) return undefined;
  return {
    amounts,
    exact: enforcement === 'exact',
    ceilings: { ...DEFAULT_PRIORITY_CEILINGS, ...(priorityCeilings ?? {}) },
    latencyObjectiveMs,
  };
}

/** Drops keys whose value is undefined, so they do not override defaults when spread. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
