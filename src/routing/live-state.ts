// The proxy's live view of each backend, as the routing core reads it.

export interface BackendLiveView {
  /** False while a circuit is open or a local concurrency/rate limit is reached. */
  available(backendId: string): boolean;
  /** Recent typical latency (EWMA) in ms, or undefined before any observation. */
  latencyMs(backendId: string): number | undefined;
  /** Requests currently in flight from this proxy. */
  inFlight(backendId: string): number;
}

/** No live information: every backend available, nothing observed yet. */
export const NO_LIVE_STATE: BackendLiveView = {
  available: () => true,
  latencyMs: () => undefined,
  inFlight: () => 0,
};
