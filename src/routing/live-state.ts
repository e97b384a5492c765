// The proxy's live view of each backend, as the routing core reads it.

export interface BackendLiveView {
  /**
   * False while a circuit is open or a limit (this proxy's fleet share) is
   * reached. With a priority class, also false once the backend's load passes
   * that class's ceiling (limits.priorityCeilings; low also above the latency
   * objective): lower classes move away first under scarcity (issue 14).
   */
  available(backendId: string, priority?: string): boolean;
  /**
   * How loaded the backend is: the fullest of its rpm, tpm and concurrency
   * limits as a fraction of this proxy's share (0..1+), or its recent latency
   * over its latencyObjectiveMs if that is larger; 0 when it has neither.
   */
  load?(backendId: string): number;
  /** Recent typical latency (EWMA) in ms, or undefined before any observation. */
  latencyMs(backendId: string): number | undefined;
  /** Requests currently in flight from this proxy. */
  inFlight(backendId: string): number;
}

/** No live information: every backend available, nothing observed yet. */
export const NO_LIVE_STATE: BackendLiveView = {
  available: () => true,
  load: () => 0,
  latencyMs: () => undefined,
  inFlight: () => 0,
};
