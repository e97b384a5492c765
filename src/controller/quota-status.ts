// Keeps ModelBackend status.limits in step with the fleet (issue 14): after
// each collection, a namespace whose backends' status.limits differ from what
// the quota coordinator counts is reconciled (the status writer then patches
// it). A change in how many proxies share a limit is looked at at once; the
// per-minute counters, which move every collection, at most once a minute
// per namespace (the writer writes them alone no more often either).
import type { ModelBackend } from '../api/v1alpha1/index.js';
import type { FleetLimitStatus } from '../api/v1alpha1/quota.js';
import { backendQuotaKey, type QuotaKey } from '../quota/protocol.js';
import { objectId } from '../routing/semantics.js';
import { statusChanged } from './status/status-diff.js';
import type { StatsListener } from './stats-collector.js';

export const LIMIT_COUNTERS_INTERVAL_MS = 60_000;

/** now: what is shown is wrong (proxies, or present/absent); counters: only the counts moved. */
export function limitStatusLag(
  shown: FleetLimitStatus | undefined,
  counted: FleetLimitStatus | undefined,
): 'now' | 'counters' | undefined {
  if ((shown === undefined) !== (counted === undefined)) return 'now';
  if (!shown || !counted) return undefined;
  if (shown.proxies !== counted.proxies) return 'now';
  return statusChanged(shown, counted) ? 'counters' : undefined;
}

export function backendLimitStatusListener(deps: {
  backends: () => readonly ModelBackend[];
  limitStatus: (key: QuotaKey) => FleetLimitStatus | undefined;
  enqueue: (namespace: string) => void;
  now: () => number;
}): StatsListener {
  const lastCounters = new Map<string, number>();
  return () => {
    const due = new Set<string>();
    for (const backend of deps.backends()) {
      const lag = limitStatusLag(
        backend.status?.limits,
        deps.limitStatus(backendQuotaKey(objectId(backend))),
      );
      if (!lag) continue;
      const ns = backend.metadata.namespace ?? 'default';
      if (
        lag === 'counters' &&
        deps.now() - (lastCounters.get(ns) ?? -Infinity) < LIMIT_COUNTERS_INTERVAL_MS
      )
        continue;
      due.add(ns);
    }
    for (const ns of due) {
      lastCounters.set(ns, deps.now());
      deps.enqueue(ns);
    }
  };
}
