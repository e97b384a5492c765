// Apply-to-programmed latency: a ModelRoute's spec changes, and the clock runs
// from the API server accepting it (the write's answer, new resourceVersion in
// hand) until the last of N real proxies has installed a table carrying it.
import { modelBackends, modelRoutes } from '../k8s/kinds.js';
import type { RoutingTable } from '../routing/table.js';
import type { ChildGroup } from './children.js';
import { CREATE_CONCURRENCY, forEachLimited, type BenchCluster } from './controller-cluster.js';
import { changeSpans } from './change-timing.js';
import { benchBackend, benchRoute, routeName } from './controller-objects.js';
import type { ControllerSelfReport } from './controller-metrics.js';
import { startControllerChild, type MemoryFigures } from './controller-process.js';
import { startRealProxies, type RealProxy } from './controller-proxies.js';
import { RouteStatusWatch, isFullyProgrammed } from './controller-route-status.js';
import { LatencySamples, percentile, round } from './histogram.js';

/** A namespace of modest size: the latency of one change, not the cost of a big table, is measured here. */
export const LATENCY_ROUTES = 20;
export const LATENCY_BACKENDS = 10;
/** Changes made and thrown away first: JIT warm-up in the controller, connection set-up to each proxy. */
const WARMUP_CHANGES = 3;
/** Quiet time between changes, so one change's status writes and their echoes do not overlap the next. */
const PAUSE_MS = 200;
const CHANGE_TIMEOUT_MS = 30_000;
const INITIAL_SYNC_TIMEOUT_MS = 60_000;

export interface Distribution {
  count: number;
  p50_ms: number;
  p95_ms: number;
  max_ms: number;
  min_ms: number;
  mean_ms: number;
}

export function distributionOf(samples: LatencySamples): Distribution {
  const s = samples.sorted();
  const ms = (us: number) => round(us / 1000, 3);
  let sum = 0;
  for (const v of s) sum += v;
  return {
    count: s.length,
    p50_ms: ms(percentile(s, 0.5)),
    p95_ms: ms(percentile(s, 0.95)),
    max_ms: ms(s.length > 0 ? (s[s.length - 1] as number) : NaN),
    min_ms: ms(s.length > 0 ? (s[0] as number) : NaN),
    mean_ms: ms(s.length > 0 ? sum / s.length : NaN),
  };
}

export interface LatencyResult extends Distribution {
  measured_by: string;
  proxies: number;
  routes: number;
  backends: number;
  changes: number;
  warmup_changes: number;
  pause_between_changes_ms: number;
  /** From the write's answer to the first proxy's install: the fastest path through watch, reconcile, push. */
  first_proxy: Distribution;
  /** From the write's answer until the route's status shows N/N at its new generation (the controller's view). */
  status_programmed: Distribution;
  /** The write itself (sent to answered), not part of the figures above. */
  api_write: Distribution;
  /** Changes a proxy installed before the bench read the write's answer: their clock started at that install. */
  answered_after_first_install: number;
  initial_sync_s: number;
  controller_rss_mb: MemoryFigures;
  controller_self_report: ControllerSelfReport | null;
  controller_cpu_s: number;
}

interface Pending {
  routeId: string;
  alias: string;
  installedNs: (bigint | undefined)[];
  remaining: number;
  resolve: () => void;
}

/** Watches the proxies' installs for the one change in flight. */
class InstallTracker {
  private pending: Pending | undefined;

  constructor(proxies: RealProxy[]) {
    proxies.forEach((proxy, i) => proxy.onInstall((table, atNs) => this.installed(i, table, atNs)));
  }

  expect(
    routeId: string,
    alias: string,
    proxies: number,
  ): { done: Promise<void>; pending: Pending } {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const pending: Pending = {
      routeId,
      alias,
      installedNs: Array.from({ length: proxies }, () => undefined),
      remaining: proxies,
      resolve,
    };
    this.pending = pending;
    return { done, pending };
  }

  private installed(i: number, table: RoutingTable, atNs: bigint): void {
    const p = this.pending;
    if (!p || p.installedNs[i] !== undefined) return;
    const route = table.routes.find((r) => r.id === p.routeId);
    if (!route?.aliases.includes(p.alias)) return;
    p.installedNs[i] = atNs;
    if (--p.remaining === 0) p.resolve();
  }
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export interface LatencyRunContext {
  cluster: BenchCluster;
  group: ChildGroup;
  adminToken: string;
  proxies: number;
  changes: number;
  keep: boolean;
  cpuProfDir: string | undefined;
  log: (line: string) => void;
}

export async function runApplyToProgrammed(ctx: LatencyRunContext): Promise<LatencyResult> {
  const { cluster, log } = ctx;
  const namespace = await cluster.createNamespace('bench-latency');
  log(`latency: namespace ${namespace}, ${ctx.proxies} real proxies`);
  const proxies = await startRealProxies(ctx.proxies, ctx.adminToken);
  let controller: ReturnType<typeof startControllerChild> | undefined;
  let watch: RouteStatusWatch | undefined;
  try {
    const tracker = new InstallTracker(proxies);
    await forEachLimited(proxies, CREATE_CONCURRENCY, (p) =>
      cluster.registerProxyPod(namespace, p),
    );
    const backendIdx = Array.from({ length: LATENCY_BACKENDS }, (_, i) => i);
    const routeIdx = Array.from({ length: LATENCY_ROUTES }, (_, i) => i);
    await forEachLimited(backendIdx, CREATE_CONCURRENCY, async (i) => {
      await cluster.client.create(modelBackends, benchBackend(namespace, i));
    });
    await forEachLimited(routeIdx, CREATE_CONCURRENCY, async (i) => {
      await cluster.client.create(modelRoutes, benchRoute(namespace, i, LATENCY_BACKENDS));
    });
    watch = await RouteStatusWatch.start(cluster.client, namespace, ctx.proxies);
    const w = watch;

    controller = startControllerChild(ctx.group, {
      kubeconfig: cluster.kubeconfig,
      namespace,
      adminToken: ctx.adminToken,
      cpuProfDir: ctx.cpuProfDir,
    });
    await controller.leading;
    await w.waitFor(
      () => w.fullyProgrammed === LATENCY_ROUTES,
      INITIAL_SYNC_TIMEOUT_MS,
      `latency: ${LATENCY_ROUTES} routes programmed on ${ctx.proxies} proxies`,
    );
    const initialSyncS = Number(process.hrtime.bigint() - controller.spawnedNs) / 1e9;
    log(`latency: initial sync in ${round(initialSyncS, 2)} s; timing ${ctx.changes} changes`);

    const last = new LatencySamples(ctx.changes);
    const first = new LatencySamples(ctx.changes);
    const status = new LatencySamples(ctx.changes);
    const write = new LatencySamples(ctx.changes);
    let answeredLate = 0;
    const cpuStart = controller.cpuMs();
    for (let n = -WARMUP_CHANGES; n < ctx.changes; n++) {
      const name = routeName((n + WARMUP_CHANGES) % LATENCY_ROUTES);
      const alias = `bench-change-${n + WARMUP_CHANGES}`;
      const { done, pending } = tracker.expect(`${namespace}/${name}`, alias, proxies.length);
      const { sentNs, answeredNs, generation } = await cluster.writeRouteAlias(
        namespace,
        name,
        alias,
      );
      const statusDone = w.waitFor(
        () => {
          const r = w.get(name);
          return (
            r !== undefined &&
            (r.generation ?? 0) >= generation &&
            isFullyProgrammed(r, ctx.proxies)
          );
        },
        CHANGE_TIMEOUT_MS,
        `latency: status of ${name} at generation ${generation}`,
      );
      await withTimeout(done, CHANGE_TIMEOUT_MS, `latency: ${name} installed on every proxy`);
      await statusDone;
      const statusNs = process.hrtime.bigint();
      if (n >= 0) {
        const spans = changeSpans({
          sentNs,
          answeredNs,
          installedNs: pending.installedNs as bigint[],
          statusNs,
        });
        last.addMicros(spans.lastProxyUs);
        first.addMicros(spans.firstProxyUs);
        status.addMicros(spans.statusUs as number);
        write.addMicros(spans.writeUs);
        if (spans.answeredAfterInstall) answeredLate++;
      }
      if (n >= 0 && (n + 1) % 10 === 0) log(`latency: ${n + 1}/${ctx.changes} changes`);
      await new Promise((r) => setTimeout(r, PAUSE_MS));
    }
    const cpuS = (controller.cpuMs() - cpuStart) / 1000;
    const rss = controller.rss.figures();
    const selfReport = (await controller.selfReport()) ?? null;
    return {
      measured_by:
        "proxy side: each real proxy (in the bench process) reports the moment it installs a table carrying the change; the clock starts when the API server answered the write, or when the first proxy installed the change if that came first (the answer can wait in the bench's event loop behind the pushes; see answered_after_first_install)",
      proxies: ctx.proxies,
      routes: LATENCY_ROUTES,
      backends: LATENCY_BACKENDS,
      changes: ctx.changes,
      warmup_changes: WARMUP_CHANGES,
      pause_between_changes_ms: PAUSE_MS,
      ...distributionOf(last),
      first_proxy: distributionOf(first),
      status_programmed: distributionOf(status),
      api_write: distributionOf(write),
      answered_after_first_install: answeredLate,
      initial_sync_s: round(initialSyncS, 3),
      controller_rss_mb: rss,
      controller_self_report: selfReport,
      controller_cpu_s: round(cpuS, 2),
    };
  } finally {
    watch?.stop();
    await controller?.stop();
    await Promise.all(proxies.map((p) => p.close()));
    if (!ctx.keep) await cluster.deleteNamespace(namespace);
  }
}
