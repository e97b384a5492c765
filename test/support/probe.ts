// Shows a proxy stays responsive: probes its /healthz back to back while
// some work (usually adversarial requests) runs.
import { ADMIN_TOKEN } from './data-plane.js';

/** A generous bound for a /healthz answer: the stalls this guards against lasted 6-38 s. */
export const HEALTHZ_WITHIN_MS = 2_000;

export interface Probed<T> {
  result: T;
  /** Latency of every /healthz probe sent while the work ran. */
  probeMs: number[];
}

/** Runs `work` while probing /healthz back to back; returns its result and the probe latencies. */
export async function whileProbing<T>(
  adminUrl: string,
  work: () => Promise<T>,
): Promise<Probed<T>> {
  let done = false;
  const probeMs: number[] = [];
  const prober = (async () => {
    while (!done) {
      const started = performance.now();
      const res = await fetch(`${adminUrl}/healthz`, {
        headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
      });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      probeMs.push(performance.now() - started);
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  try {
    const result = await work();
    return { result, probeMs };
  } finally {
    done = true;
    await prober;
  }
}

export function expectResponsive(probeMs: number[]): void {
  expect(probeMs.length).toBeGreaterThan(0);
  expect(Math.max(...probeMs)).toBeLessThan(HEALTHZ_WITHIN_MS);
}
