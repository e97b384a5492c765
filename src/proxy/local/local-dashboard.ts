// `modelroute dev`'s FinOps dashboard and API on its admin port: the same
// page and ledger queries as the controller's, over this proxy's own
// attribution rows. The ledger is brought up to date on each read (this
// proxy is the whole fleet), so no timer runs when nobody looks.
import {
  createDashboardListener,
  type DashboardListener,
} from '../../dashboard/dashboard-listener.js';
import type { FinopsSource } from '../../finops/api-types.js';
import { LedgerFeed } from '../../finops/ledger-feed.js';
import { ledgerFinopsSource } from '../../finops/ledger-source.js';
import { UsageLedger } from '../../finops/usage-ledger.js';
import type { Logger } from '../../telemetry/logger.js';
import type { ProxyRuntime } from '../runtime.js';

const SELF = 'local';

export function localFinopsSource(runtime: ProxyRuntime): FinopsSource {
  const startedAt = runtime.now();
  const ledger = new UsageLedger(runtime.now);
  // Everything this proxy counted is new to a ledger born with it.
  const feed = new LedgerFeed(ledger, runtime.now, startedAt);
  const current = (): UsageLedger => {
    const { attribution, latency } = runtime.attribution.stats();
    feed.observe(SELF, startedAt, attribution, latency);
    return ledger;
  };
  return ledgerFinopsSource({ ledger: current, objects: () => [], now: runtime.now });
}

/** Open on the admin port, which `modelroute dev` binds to loopback. */
export function localDashboard(runtime: ProxyRuntime, logger: Logger): DashboardListener {
  return createDashboardListener({ source: localFinopsSource(runtime), logger });
}
