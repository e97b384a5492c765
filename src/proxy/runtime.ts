// Everything a request handler needs, injected once when the proxy starts:
// clock, randomness, telemetry, live backend state, pools, credentials, table.
import type { BaselineCache } from '../finops/counterfactual.js';
import type { ProxyAttribution } from '../finops/proxy-attribution.js';
import type { RequestIdentifier } from '../identity/request-identity.js';
import type { ProxyQuotas } from '../quota/proxy-quotas.js';
import type { Logger } from '../telemetry/logger.js';
import type { ProxyMetrics } from '../telemetry/proxy-metrics.js';
import type { Tracing } from '../telemetry/tracing.js';
import type { AccessLogWriter } from './access-log.js';
import type { BackendLiveState } from './backend-live-state.js';
import type { CredentialCheck } from './credential-check.js';
import type { CredentialResolver } from './credentials.js';
import type { UpstreamAuthResolver } from '../providers/auth/upstream-auth.js';
import type { DifficultyRouter } from './difficulty-router.js';
import type { ProxyLearning } from './learning/proxy-learning.js';
import type { RouteUsage } from './route-usage.js';
import type { StrongShareCalibrators } from './strong-share-calibrators.js';
import type { TableStore } from './table-store.js';
import type { UpstreamPools } from './upstream-pools.js';
import type { UpstreamTargets } from './upstream-target.js';

export interface ProxyRuntime {
  now: () => number;
  rng: () => number;
  /** A fresh, unguessable id for each data-port request (x-modelroute-request-id). */
  newRequestId: () => string;
  logger: Logger;
  metrics: ProxyMetrics;
  tracing: Tracing;
  /** The per-request JSON access log (sampled; off by default for sidecars). */
  accessLog: AccessLogWriter;
  live: BackendLiveState;
  /** Fleet-wide limits and budgets: the assignment, tenants' limiters and spend, the exact store. */
  quotas: ProxyQuotas;
  /** Requests and cost per route, for the controller (status.usage). */
  usage: RouteUsage;
  /** Traffic and cost by route, rule, backend, tier, tenant and caller (the FinOps ledger's input). */
  attribution: ProxyAttribution;
  /** Each route's most expensive and strongest backends, for savings. */
  baselines: BaselineCache;
  /** Live thresholds for strongShare rules, kept across table pushes. */
  strongShare: StrongShareCalibrators;
  pools: UpstreamPools;
  /** Upstream URLs split once into pool origin and path. */
  targets: UpstreamTargets;
  credentials: CredentialResolver;
  /** The credential of each upstream call: API keys and cloud credentials (providers/auth/). */
  upstreamAuth: UpstreamAuthResolver;
  /** Backends of the table this proxy cannot get a key for (reported in stats); absent: not checked. */
  credentialCheck?: CredentialCheck;
  store: TableStore;
  /** Who each request comes from and which tenant it is served as. */
  identity: RequestIdentifier;
  /** Scores prompts for cost-quality routing; its model may be replaced while serving. */
  difficulty: DifficultyRouter;
  /** Learning rules (issue 17): their models, tickets, feedback and the labels for the controller. */
  learning: ProxyLearning;
  limits: {
    maxBodyBytes: number;
    /** A streaming client that takes no bytes for this long is cut off (the backend is not blamed). */
    clientStallTimeoutMs: number;
  };
}
