// The fleet the quotas benchmark measures: on the test API server, a throwaway
// namespace with the bench's backends, routes, tenants and keys; one simulator
// per backend recording every request it receives with its arrival time; N
// real proxies (startProxy, in this process, each on its own loopback address
// as a pod has its own IP, registered as Ready Pods); and the controller
// (startController, in this process) that divides the limits among them.
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { startController, type RunningController } from '../controller/controller.js';
import { modelAPIKeys, modelBackends, modelRoutes, modelTenants } from '../k8s/kinds.js';
import type { RunningProxy } from '../proxy/proxy.js';
import { startSimulatedBackend, type SimulatedBackend } from '../simulator/index.js';
import { messagesChars, plannedTokens, tokensForChars } from '../simulator/text.js';
import { createLogger } from '../telemetry/logger.js';
import { CREATE_CONCURRENCY, forEachLimited, type BenchCluster } from './controller-cluster.js';
import { proxyAddress, startProxiesOnLoopback } from './controller-proxies.js';
import {
  BACKEND_ROLES,
  BUDGET_PRICING,
  PRIORITY_LATENCY_MS,
  benchApiKeys,
  benchBackends,
  benchRoutes,
  benchTenants,
  type BackendRole,
} from './quotas-objects.js';

/** The controller reads proxies' stats this often (the contract's default), and rebalances after each read. */
export const STATS_INTERVAL_MS = 2_000;
const SYNC_TIMEOUT_MS = 120_000;
/** How long to wait for a first quota assignment before measuring anyway (and saying so). */
const ASSIGNMENT_WAIT_MS = 30_000;
const SIM_OUTPUT_TOKENS = 100;

/** One request as a simulator received it: when, tokens it costs (prompt + output) and its price. */
export interface Received {
  atMs: number;
  tokens: number;
  costUsd: number;
}

export interface QuotaFleet {
  namespace: string;
  proxies: RunningProxy[];
  controller: RunningController;
  sims: Record<BackendRole, SimulatedBackend>;
  /** Every request each backend received, in arrival order. */
  received: Record<BackendRole, Received[]>;
  /** The virtual key of each bench tenant. */
  apiKeys: Record<string, string>;
  /** Whether every proxy reported a quota assignment (null: none did within the wait). */
  assignmentSeenAfterMs: number | null;
  close(): Promise<void>;
}

const chatRequest = z.looseObject({ messages: z.unknown(), max_tokens: z.unknown().optional() });

/** What the simulator will answer with, computed as it does (src/simulator/openai-dialect.ts). */
function tokensOf(body: unknown): { input: number; output: number } {
  const parsed = chatRequest.safeParse(body);
  if (!parsed.success) return { input: 0, output: 0 };
  return {
    input: tokensForChars(messagesChars(parsed.data.messages)),
    output: plannedTokens(SIM_OUTPUT_TOKENS, parsed.data.max_tokens).count,
  };
}

async function startSims(seed: number): Promise<{
  sims: Record<BackendRole, SimulatedBackend>;
  received: Record<BackendRole, Received[]>;
}> {
  const sims = {} as Record<BackendRole, SimulatedBackend>;
  const received = {} as Record<BackendRole, Received[]>;
  for (const role of BACKEND_ROLES) {
    const prio = role === 'prio-main' || role === 'prio-alt';
    const sim = await startSimulatedBackend({
      outputTokens: SIM_OUTPUT_TOKENS,
      latencyMs: prio ? PRIORITY_LATENCY_MS : 0,
      recordRequests: false,
      seed,
      models: [`sim-${role}`],
    });
    const list: Received[] = [];
    const priced = role === 'budget';
    sim.onRequest((request, atMs) => {
      if (!request.path.startsWith('/v1/chat/completions')) return;
      const t = tokensOf(request.body);
      const costUsd = priced
        ? (t.input * BUDGET_PRICING.inputPerMillion + t.output * BUDGET_PRICING.outputPerMillion) /
          1_000_000
        : 0;
      list.push({ atMs, tokens: t.input + t.output, costUsd });
    });
    sims[role] = sim;
    received[role] = list;
  }
  return { sims, received };
}

const quotaStats = z.looseObject({
  quotas: z.looseObject({ assignment: z.unknown().nullable() }).optional(),
});

/** True when the proxy's stats show a quota assignment it runs. */
async function hasAssignment(proxy: RunningProxy, adminToken: string): Promise<boolean> {
  const res = await fetch(`${proxy.adminUrl}/admin/v1/stats`, {
    headers: { authorization: `Bearer ${adminToken}` },
  }).catch(() => undefined);
  if (!res || res.status !== 200) return false;
  const parsed = quotaStats.safeParse(await res.json().catch(() => undefined));
  return parsed.success && parsed.data.quotas?.assignment != null;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startQuotaFleet(options: {
  cluster: BenchCluster;
  proxies: number;
  dailyBudgetUSD: number;
  seed: number;
  keep: boolean;
  log: (line: string) => void;
}): Promise<QuotaFleet> {
  const { cluster, log } = options;
  await cluster.installCRDs();
  const namespace = await cluster.createNamespace('bench-quotas');
  const adminToken = randomBytes(24).toString('hex');
  const quiet = createLogger({ level: 'error', write: () => {} });
  const proxies: RunningProxy[] = [];
  let controller: RunningController | undefined;
  let simsStarted: Awaited<ReturnType<typeof startSims>> | undefined;
  const cleanup = async (): Promise<void> => {
    await controller?.close();
    await Promise.all(proxies.map((p) => p.close()));
    if (simsStarted) await Promise.all(Object.values(simsStarted.sims).map((s) => s.close()));
    if (!options.keep)
      await cluster.deleteNamespace(namespace, [
        'modelroutes',
        'modelbackends',
        'modeltenants',
        'modelapikeys',
      ]);
  };
  try {
    simsStarted = await startSims(options.seed);
    const { sims, received } = simsStarted;
    const urls = Object.fromEntries(BACKEND_ROLES.map((r) => [r, sims[r].url])) as Record<
      BackendRole,
      string
    >;
    const keys = benchApiKeys(namespace);
    for (const b of benchBackends(namespace, urls)) await cluster.client.create(modelBackends, b);
    for (const r of benchRoutes(namespace)) await cluster.client.create(modelRoutes, r);
    for (const t of benchTenants(namespace, options.dailyBudgetUSD))
      await cluster.client.create(modelTenants, t);
    for (const k of keys.objects) await cluster.client.create(modelAPIKeys, k);

    proxies.push(...(await startProxiesOnLoopback(options.proxies, adminToken, { namespace })));
    await forEachLimited(proxies, CREATE_CONCURRENCY, (p, i) =>
      cluster.registerProxyPod(namespace, {
        name: `proxy-${i}`,
        ip: proxyAddress(i),
        adminPort: Number(new URL(p.adminUrl).port),
      }),
    );
    log(`fleet: namespace ${namespace}, ${proxies.length} real proxies; starting the controller`);
    controller = await startController({
      kubeconfigPath: cluster.kubeconfig,
      namespace,
      adminToken,
      identity: 'modelroute-bench-quotas',
      leaseNamespace: namespace,
      leaseName: `bench-quotas-${randomBytes(3).toString('hex')}`,
      logger: quiet,
      statsIntervalMs: STATS_INTERVAL_MS,
    });
    const routes = benchRoutes(namespace).length;
    const deadline = Date.now() + SYNC_TIMEOUT_MS;
    while (
      !proxies.every(
        (p) =>
          p.runtime.store.prepared?.table.routes.length === routes &&
          (p.runtime.store.prepared.table.apiKeys ?? []).length === keys.objects.length,
      )
    ) {
      if (Date.now() > deadline)
        throw new Error(
          `the proxies did not all get a table with ${routes} routes and ${keys.objects.length} keys within ${SYNC_TIMEOUT_MS / 1000} s`,
        );
      await sleep(200);
    }
    const syncedAt = Date.now();
    let assignmentSeenAfterMs: number | null = null;
    while (Date.now() - syncedAt < ASSIGNMENT_WAIT_MS) {
      const seen = await Promise.all(proxies.map((p) => hasAssignment(p, adminToken)));
      if (seen.every(Boolean)) {
        assignmentSeenAfterMs = Date.now() - syncedAt;
        break;
      }
      await sleep(500);
    }
    log(
      assignmentSeenAfterMs === null
        ? `fleet: tables installed; no proxy reported a quota assignment within ${ASSIGNMENT_WAIT_MS / 1000} s (measuring anyway)`
        : `fleet: tables installed; every proxy runs a quota assignment (${assignmentSeenAfterMs} ms after sync)`,
    );
    const running = controller;
    return {
      namespace,
      proxies,
      controller: running,
      sims,
      received,
      apiKeys: keys.keys,
      assignmentSeenAfterMs,
      close: cleanup,
    };
  } catch (err) {
    await cleanup().catch(() => undefined);
    throw err;
  }
}
