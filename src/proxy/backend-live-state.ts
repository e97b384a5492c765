// The proxy's live knowledge of each backend (circuit, load, limits, recent
// latency), fed by finished attempts and read by the routing core.
import type { BackendLiveView } from '../routing/live-state.js';
import type { CompiledBackend } from '../routing/table.js';
import {
  CircuitBreaker,
  DEFAULT_CIRCUIT_BREAKER,
  type CircuitBreakerOptions,
  type CircuitState,
} from './resilience/circuit-breaker.js';
import { Ewma } from './resilience/ewma.js';
import { RateLimiter } from './resilience/rate-limiter.js';

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
  readonly limiter: RateLimiter;
  readonly latency: Ewma;
  readonly ttft: Ewma;
  maxConcurrency: number | undefined;
  inFlight: number;
  requests: number;
  successes: number;
  readonly failures: Record<FailureOutcome, number>;
  lastOutcome?: AttemptOutcome;
  lastOutcomeAt?: number;
}

export class BackendLiveState implements BackendLiveView {
  private entries = new Map<string, Entry>();
  private readonly now: () => number;
  private readonly breakerOptions: CircuitBreakerOptions;
  private readonly onCircuitChange: ((backendId: string, state: CircuitState) => void) | undefined;

  constructor(options: BackendLiveStateOptions) {
    this.now = options.now;
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
      entry.maxConcurrency = backend.limits.maxConcurrency;
      entry.limiter.setLimits({ rpm: backend.limits.rpm, tpm: backend.limits.tpm });
      next.set(backend.id, entry);
    }
    this.entries = next;
  }

  /** False for unknown ids, an open circuit (or a half-open one whose probe is out), or a reached limit. */
  available(backendId: string): boolean {
    const entry = this.entries.get(backendId);
    if (!entry) return false;
    if (!entry.breaker.canAttempt()) return false;
    if (entry.maxConcurrency !== undefined && entry.inFlight >= entry.maxConcurrency) return false;
    // Token estimates are not known here; the request count alone decides.
    return entry.limiter.canAccept(0);
  }

  latencyMs(backendId: string): number | undefined {
    return this.entries.get(backendId)?.latency.value;
  }

  inFlight(backendId: string): number {
    return this.entries.get(backendId)?.inFlight ?? 0;
  }

  /**
   * Starts an attempt. Every ticket must be finished (in a finally), or the
   * backend keeps an in-flight slot, and in half-open its probe slot, forever.
   * An unknown id (the table changed under the request) gets a ticket that
   * records nothing.
   */
  begin(backendId: string, estimatedTokens: number): AttemptTicket {
    const entry = this.entries.get(backendId);
    if (!entry) return NO_OP_TICKET;
    const estimate = Number.isFinite(estimatedTokens) ? Math.max(0, estimatedTokens) : 0;
    const recordedAt = this.now();
    entry.inFlight++;
    entry.requests++;
    entry.breaker.onAttempt();
    entry.limiter.record(estimate);
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
          inFlight: e.inFlight,
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
    entry.inFlight = Math.max(0, entry.inFlight - 1);
    entry.lastOutcome = outcome;
    entry.lastOutcomeAt = this.now();
    // Real usage replaces the estimate in the token window whenever it is known
    // (a broken stream may still report partial usage).
    if (details.tokens !== undefined && Number.isFinite(details.tokens)) {
      entry.limiter.adjust(details.tokens - estimate, recordedAt);
    }
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
      limiter: new RateLimiter({}, this.now),
      latency: new Ewma(LATENCY_ALPHA),
      ttft: new Ewma(LATENCY_ALPHA),
      maxConcurrency: undefined,
      inFlight: 0,
      requests: 0,
      successes: 0,
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

/** Drops keys whose value is undefined, so they do not override defaults when spread. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
