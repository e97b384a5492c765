// Per-backend circuit breaker: stops sending traffic to a backend that keeps
// failing, then lets single probes through with exponentially longer rests.

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitBreakerOptions {
  /** Consecutive failures that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open the first time, in ms. */
  openMs: number;
  /** The open period doubles on each failed probe, up to this, in ms. */
  maxOpenMs: number;
}

export const DEFAULT_CIRCUIT_BREAKER: CircuitBreakerOptions = {
  failureThreshold: 5,
  openMs: 10_000,
  maxOpenMs: 120_000,
};

export class CircuitBreaker {
  private current: CircuitState = 'closed';
  private failures = 0;
  private openedAt = 0;
  private openPeriodMs: number;
  private probeInFlight = false;
  private readonly threshold: number;
  private readonly openMs: number;
  private readonly maxOpenMs: number;

  constructor(
    options: CircuitBreakerOptions,
    private readonly now: () => number,
    private readonly onChange?: (state: CircuitState) => void,
  ) {
    // Nonsense options (0, negative) would make the breaker open on nothing or never close.
    this.threshold = Math.max(1, Math.floor(options.failureThreshold));
    this.openMs = Math.max(0, options.openMs);
    this.maxOpenMs = Math.max(this.openMs, options.maxOpenMs);
    this.openPeriodMs = this.openMs;
  }

  /** Evaluated on read: an open circuit whose period has passed is half-open. */
  get state(): CircuitState {
    if (this.current === 'open' && this.now() - this.openedAt >= this.openPeriodMs) {
      this.probeInFlight = false;
      this.transition('half-open');
    }
    return this.current;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** Closed: yes. Open: no. Half-open: only while nobody holds the probe slot. */
  canAttempt(): boolean {
    switch (this.state) {
      case 'closed':
        return true;
      case 'open':
        return false;
      case 'half-open':
        return !this.probeInFlight;
    }
  }

  /** Call when an attempt starts; in half-open it takes the single probe slot. */
  onAttempt(): void {
    if (this.state === 'half-open') this.probeInFlight = true;
  }

  /** Any success is proof the backend works: close and forget the history. */
  recordSuccess(): void {
    this.failures = 0;
    this.openPeriodMs = this.openMs;
    this.probeInFlight = false;
    if (this.current !== 'closed') this.transition('closed');
  }

  /**
   * Counts a failure. Closed: opens at the threshold. Half-open: the probe
   * failed, so rest longer (doubled period, capped). Open: a late failure of a
   * request begun before the circuit opened; counted, but it does not extend
   * the rest, which the failures that opened the circuit already decided.
   */
  recordFailure(): void {
    this.failures++;
    const state = this.state;
    if (state === 'half-open') {
      this.openPeriodMs = Math.min(this.openPeriodMs * 2, this.maxOpenMs);
      this.open();
    } else if (state === 'closed' && this.failures >= this.threshold) {
      this.openPeriodMs = this.openMs;
      this.open();
    }
  }

  /**
   * An attempt ended without telling anything about the backend's health (a
   * client error, the client leaving): frees the probe slot so the next
   * request can probe, without changing the state.
   */
  onAbandon(): void {
    this.probeInFlight = false;
  }

  private open(): void {
    this.openedAt = this.now();
    this.probeInFlight = false;
    this.transition('open');
  }

  private transition(next: CircuitState): void {
    if (next === this.current) return;
    this.current = next;
    this.onChange?.(next);
  }
}
