// What the controller under test says about itself on /metrics, read by the
// benchmark to explain its figures: where the memory is, how much work it did.
import { round } from './histogram.js';

export interface ControllerSelfReport {
  /** V8 heap and off-heap memory (prom-client's default metrics), MB. */
  heap_used_mb: number;
  heap_total_mb: number;
  external_mb: number;
  /** Namespace reconciles run so far, and the time spent in them. */
  reconciles: number;
  reconcile_seconds: number;
  /** Status patches written so far. */
  route_status_writes: number;
  backend_status_writes: number;
  /** Table pushes acknowledged so far, and push failures. */
  pushes: number;
  push_failures: number;
}

/** Sums every sample of `name` whose labels contain `labels` (e.g. 'kind="ModelRoute"'). */
function sumOf(text: string, name: string, labels = ''): number {
  let sum = 0;
  let found = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (rest[0] !== ' ' && rest[0] !== '{') continue;
    if (labels && !rest.includes(labels)) continue;
    const value = Number(rest.slice(rest.lastIndexOf(' ') + 1));
    if (Number.isFinite(value)) {
      sum += value;
      found = true;
    }
  }
  return found ? sum : NaN;
}

/** Reads the figures from a Prometheus text page; NaN for any metric it lacks. */
export function selfReportOf(metricsText: string): ControllerSelfReport {
  const mb = (name: string) => round(sumOf(metricsText, name) / 2 ** 20, 1);
  const n = (name: string, labels?: string) => sumOf(metricsText, name, labels);
  return {
    heap_used_mb: mb('nodejs_heap_size_used_bytes'),
    heap_total_mb: mb('nodejs_heap_size_total_bytes'),
    external_mb: mb('nodejs_external_memory_bytes'),
    reconciles: n('modelroute_controller_reconciles_total'),
    reconcile_seconds: round(n('modelroute_controller_reconcile_duration_seconds_sum'), 3),
    route_status_writes: n('modelroute_controller_status_writes_total', 'kind="ModelRoute"'),
    backend_status_writes: n('modelroute_controller_status_writes_total', 'kind="ModelBackend"'),
    pushes: n('modelroute_controller_push_duration_seconds_count'),
    push_failures: n('modelroute_controller_push_failures_total'),
  };
}

/** Fetches and reads the controller's /metrics; undefined when it cannot be read. */
export async function readSelfReport(
  healthUrl: string | undefined,
): Promise<ControllerSelfReport | undefined> {
  if (!healthUrl) return undefined;
  try {
    const res = await fetch(`${healthUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
    return res.ok ? selfReportOf(await res.text()) : undefined;
  } catch {
    return undefined;
  }
}
