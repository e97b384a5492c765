// Scale: many ModelRoutes and ModelBackends and many ack-only proxies exist
// before the controller starts; the clock runs from its spawn until every
// route's status says it is programmed on every proxy.
import { modelBackends, modelRoutes } from '../k8s/kinds.js';
import type { ChildGroup } from './children.js';
import { CREATE_CONCURRENCY, forEachLimited, type BenchCluster } from './controller-cluster.js';
import { distributionOf, withTimeout, type Distribution } from './controller-latency.js';
import { changeSpans } from './change-timing.js';
import { benchBackend, benchRoute, routeName } from './controller-objects.js';
import type { ControllerSelfReport } from './controller-metrics.js';
import {
  startControllerChild,
  type ControllerChild,
  type MemoryFigures,
} from './controller-process.js';
import { startAckOnlyProxy, type AckOnlyProxy } from './controller-proxies.js';
import { RouteStatusWatch, isFullyProgrammed } from './controller-route-status.js';
import { LatencySamples, round } from './histogram.js';

/** One-route changes timed after settling: what one edit costs when the namespace is big. */
const CHANGES_AT_SCALE = 3;
const CHANGE_AT_SCALE_TIMEOUT_MS = 120_000;
const PROGRESS_EVERY_MS = 5_000;

export interface ScaleResult {
  routes: number;
  backends: number;
  proxies: number;
  create: { objects: number; seconds: number; concurrency: number };
  /** Spawn of the controller to every route programmed on every proxy; null if it timed out. */
  full_sync_s: number | null;
  timed_out: boolean;
  /** Spawn to "leading": process start, informers' initial lists, Lease acquired. */
  leading_s: number;
  /** Spawn to the first table any proxy received, and to every proxy holding one. */
  first_push_s: number | null;
  all_proxies_pushed_s: number | null;
  /** Spawn to the last proxy acknowledging the version it holds at full sync. */
  last_final_ack_s: number | null;
  routes_programmed: number;
  table_pushes: number;
  table_kb_avg: number;
  /** Peak resident memory (VmHWM) of the controller process up to full sync and the settle period. */
  controller_rss_mb: number;
  controller_rss: MemoryFigures & { at_full_sync_mb: number; after_settle_mb: number };
  /** Where the memory is: V8 heap and off-heap, at full sync and after settling (null if unreadable). */
  controller_self_report: {
    at_full_sync: ControllerSelfReport | null;
    after_settle: ControllerSelfReport | null;
  };
  controller_cpu_s: { to_full_sync: number; settle: number; settle_window_s: number };
  /** After settling, one route changed at a time: until every proxy got it, and until its status says so. */
  change_at_scale: ChangeAtScale | { skipped: string };
}

export interface ChangeAtScale {
  changes: number;
  /** From the write's answer to the last proxy acknowledging a table that carries the change. */
  proxies_acked: Distribution;
  status_programmed: Distribution;
  /** Changes pushed to a proxy before the bench read the write's answer (clock started at that push). */
  answered_after_first_install: number;
  /** Route status patches the controller wrote per one-route change. */
  route_status_writes_per_change: number | null;
  reconciles_per_change: number | null;
}

/** Changes one route at a time; the ack-only proxies spot the change in the raw table they are sent. */
async function timeChangesAtScale(
  ctx: ScaleRunContext,
  namespace: string,
  proxies: AckOnlyProxy[],
  watch: RouteStatusWatch,
  controller: ControllerChild,
): Promise<ChangeAtScale> {
  const acked = new LatencySamples(CHANGES_AT_SCALE);
  const status = new LatencySamples(CHANGES_AT_SCALE);
  let answeredLate = 0;
  const before = await controller.selfReport();
  for (let k = 0; k < CHANGES_AT_SCALE; k++) {
    const name = routeName(k);
    const alias = `bench-scale-change-${k}`;
    const needle = Buffer.from(`"${alias}"`);
    let remaining = proxies.length;
    const installedNs: bigint[] = [];
    let resolve!: () => void;
    const allAcked = new Promise<void>((r) => (resolve = r));
    for (const p of proxies) {
      let seen = false;
      p.onPush((body, atNs) => {
        if (seen || !body.includes(needle)) return;
        seen = true;
        installedNs.push(atNs);
        if (--remaining === 0) resolve();
      });
    }
    const { sentNs, answeredNs, generation } = await ctx.cluster.writeRouteAlias(
      namespace,
      name,
      alias,
    );
    await withTimeout(allAcked, CHANGE_AT_SCALE_TIMEOUT_MS, `scale: ${name} pushed to every proxy`);
    await watch.waitFor(
      () => {
        const r = watch.get(name);
        return (
          r !== undefined &&
          (r.generation ?? 0) >= generation &&
          isFullyProgrammed(r, proxies.length)
        );
      },
      CHANGE_AT_SCALE_TIMEOUT_MS,
      `scale: status of ${name} at generation ${generation}`,
    );
    const spans = changeSpans({
      sentNs,
      answeredNs,
      installedNs,
      statusNs: process.hrtime.bigint(),
    });
    acked.addMicros(spans.lastProxyUs);
    status.addMicros(spans.statusUs as number);
    if (spans.answeredAfterInstall) answeredLate++;
    for (const p of proxies) p.onPush(undefined);
    ctx.log(`scale: change ${k + 1}/${CHANGES_AT_SCALE} programmed`);
  }
  const after = await controller.selfReport();
  const perChange = (a: number | undefined, b: number | undefined): number | null =>
    a === undefined || b === undefined || !Number.isFinite(b - a)
      ? null
      : round((b - a) / CHANGES_AT_SCALE, 1);
  return {
    changes: CHANGES_AT_SCALE,
    proxies_acked: distributionOf(acked),
    status_programmed: distributionOf(status),
    answered_after_first_install: answeredLate,
    route_status_writes_per_change: perChange(
      before?.route_status_writes,
      after?.route_status_writes,
    ),
    reconciles_per_change: perChange(before?.reconciles, after?.reconciles),
  };
}

const secondsSince = (fromNs: bigint, toNs: bigint | undefined): number | null =>
  toNs === undefined ? null : round(Number(toNs - fromNs) / 1e9, 3);

const maxOf = (values: (bigint | undefined)[]): bigint | undefined =>
  values.some((v) => v === undefined)
    ? undefined
    : (values as bigint[]).reduce((a, b) => (b > a ? b : a), 0n);

export interface ScaleRunContext {
  cluster: BenchCluster;
  group: ChildGroup;
  adminToken: string;
  routes: number;
  backends: number;
  ackProxies: number;
  syncTimeoutMs: number;
  /** After full sync: how long to watch the controller settle (memory, leftover work). */
  settleMs: number;
  keep: boolean;
  cpuProfDir: string | undefined;
  log: (line: string) => void;
}

export async function runScale(ctx: ScaleRunContext): Promise<ScaleResult> {
  const { cluster, log } = ctx;
  const namespace = await cluster.createNamespace('bench-scale');
  log(
    `scale: namespace ${namespace}: ${ctx.routes} routes, ${ctx.backends} backends, ${ctx.ackProxies} ack-only proxies`,
  );
  const proxies: AckOnlyProxy[] = [];
  let controller: ReturnType<typeof startControllerChild> | undefined;
  let watch: RouteStatusWatch | undefined;
  let progress: NodeJS.Timeout | undefined;
  try {
    for (let i = 0; i < ctx.ackProxies; i++)
      proxies.push(await startAckOnlyProxy(i, ctx.adminToken));

    const createStart = process.hrtime.bigint();
    await forEachLimited(proxies, CREATE_CONCURRENCY, (p) =>
      cluster.registerProxyPod(namespace, p),
    );
    await forEachLimited(
      Array.from({ length: ctx.backends }, (_, i) => i),
      CREATE_CONCURRENCY,
      async (i) => {
        await cluster.client.create(modelBackends, benchBackend(namespace, i));
      },
    );
    await forEachLimited(
      Array.from({ length: ctx.routes }, (_, i) => i),
      CREATE_CONCURRENCY,
      async (i) => {
        await cluster.client.create(modelRoutes, benchRoute(namespace, i, ctx.backends));
        if ((i + 1) % 250 === 0) log(`scale: created ${i + 1}/${ctx.routes} routes`);
      },
    );
    const createS = Number(process.hrtime.bigint() - createStart) / 1e9;
    const objects = ctx.ackProxies + ctx.backends + ctx.routes;
    log(`scale: created ${objects} objects in ${round(createS, 2)} s; starting the controller`);

    watch = await RouteStatusWatch.start(cluster.client, namespace, ctx.ackProxies);
    const w = watch;
    const c = startControllerChild(ctx.group, {
      kubeconfig: cluster.kubeconfig,
      namespace,
      adminToken: ctx.adminToken,
      cpuProfDir: ctx.cpuProfDir,
    });
    controller = c;
    progress = setInterval(() => {
      const acked = proxies.filter((p) => p.record.version !== undefined).length;
      log(
        `scale: ${round(Number(process.hrtime.bigint() - c.spawnedNs) / 1e9, 1)} s: ${w.fullyProgrammed}/${ctx.routes} routes programmed, ${acked}/${ctx.ackProxies} proxies hold a table, controller RSS ${c.rss.figures().last_mb} MB`,
      );
    }, PROGRESS_EVERY_MS);

    const leadingNs = await c.leading;
    let timedOut = false;
    try {
      await w.waitFor(
        () => w.fullyProgrammed === ctx.routes,
        Math.max(0, ctx.syncTimeoutMs - Number(leadingNs - c.spawnedNs) / 1e6),
        `scale: ${ctx.routes} routes programmed on ${ctx.ackProxies} proxies`,
      );
    } catch (err) {
      timedOut = true;
      log(`scale: ${(err as Error).message}; reporting what was reached`);
    }
    const syncedNs = process.hrtime.bigint();
    clearInterval(progress);
    const cpuAtSync = c.cpuMs();
    const rssAtSync = c.rss.figures().last_mb;
    const selfAtSync = await c.selfReport();
    const programmedAtSync = w.fullyProgrammed;
    const finalAcks = proxies.map((p) => p.record.lastAckNs);
    if (!timedOut) {
      log(
        `scale: full sync in ${secondsSince(c.spawnedNs, syncedNs)} s; settling ${ctx.settleMs / 1000} s`,
      );
      await new Promise((r) => setTimeout(r, ctx.settleMs));
    }
    const cpuAfterSettle = c.cpuMs();
    const selfAfterSettle = await c.selfReport();
    const rss = c.rss.figures();
    // Pushes up to here: the sync and whatever settling caused, not the timed changes below.
    const pushes = proxies.reduce((s, p) => s + p.record.pushes, 0);
    const bytes = proxies.reduce((s, p) => s + p.record.bytes, 0);
    const changeAtScale = timedOut
      ? { skipped: 'full sync timed out' }
      : await timeChangesAtScale(ctx, namespace, proxies, w, c);
    const firstPushes = proxies.map((p) => p.record.firstAckNs).filter((v) => v !== undefined);
    return {
      routes: ctx.routes,
      backends: ctx.backends,
      proxies: ctx.ackProxies,
      create: { objects, seconds: round(createS, 3), concurrency: CREATE_CONCURRENCY },
      full_sync_s: timedOut ? null : secondsSince(c.spawnedNs, syncedNs),
      timed_out: timedOut,
      leading_s: secondsSince(c.spawnedNs, leadingNs) ?? NaN,
      first_push_s:
        firstPushes.length > 0
          ? secondsSince(
              c.spawnedNs,
              firstPushes.reduce((a, b) => (b < a ? b : a)),
            )
          : null,
      all_proxies_pushed_s: secondsSince(
        c.spawnedNs,
        maxOf(proxies.map((p) => p.record.firstAckNs)),
      ),
      last_final_ack_s: secondsSince(c.spawnedNs, maxOf(finalAcks)),
      routes_programmed: programmedAtSync,
      table_pushes: pushes,
      table_kb_avg: pushes > 0 ? round(bytes / pushes / 1024, 1) : 0,
      controller_rss_mb: rss.peak_mb,
      controller_rss: { ...rss, at_full_sync_mb: rssAtSync, after_settle_mb: rss.last_mb },
      controller_self_report: {
        at_full_sync: selfAtSync ?? null,
        after_settle: selfAfterSettle ?? null,
      },
      controller_cpu_s: {
        to_full_sync: round(cpuAtSync / 1000, 2),
        settle: round((cpuAfterSettle - cpuAtSync) / 1000, 2),
        settle_window_s: timedOut ? 0 : ctx.settleMs / 1000,
      },
      change_at_scale: changeAtScale,
    };
  } finally {
    clearInterval(progress);
    watch?.stop();
    await controller?.stop();
    await Promise.all(proxies.map((p) => p.close()));
    if (!ctx.keep) await cluster.deleteNamespace(namespace);
  }
}
