// Issue 12 deliverable 3, end to end on the real API server: two real proxies
// (the shipped difficulty model, live calibration) in front of simulated
// backends, a route with `strongShare: 0.2`, and 1,000 chat requests of mixed
// kinds that the model does not score evenly: most reach one proxy, a few the
// other. The controller merges the proxies' sketches and pushes the fleet's
// threshold to both; status and `kubectl get mr` show the realised share.
//
// Which figure status shows: `status.strongShare.realized` is strong/decisions
// summed over the fleet over the usage window (1 h), so here it covers the
// whole run, warm-up included. The proxies' calibrators hold the share from
// the first request (the deficit feedback pays back a run of strong ones), so
// the whole run is held to the issue's ±0.03 too.
import OpenAI from 'openai';
import type { RunningController } from '../../src/controller/controller.js';
import { PRIOR_WEIGHT, THRESHOLD_STEP } from '../../src/controller/fleet-calibration.js';
import type { ProxyCalibrationStats } from '../../src/controller/proxy-fleet.js';
import type { RunningProxy } from '../../src/proxy/proxy.js';
import { strongShareThreshold } from '../../src/routing/compile.js';
import { ScoreSketch } from '../../src/routing/difficulty/calibration/score-sketch.js';
import { seededRandom } from '../../src/routing/random.js';
import type { RoutingTable } from '../../src/routing/table.js';
import { ADMIN_TOKEN, type ClusterHandle, startTestProxy } from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import { mixedPrompts } from '../support/mixed-prompts.js';
import {
  ROUTE,
  RULE,
  setUpStrongShareRoute,
  startLeader,
  type StrongShareRoute,
  type StrongShareStatus,
} from '../support/strong-share-route.js';

const CASE_TIMEOUT_MS = 180_000;
const TARGET = 0.2;
const REQUESTS = 1_000;
/** Share of the requests sent to the quiet proxy. */
const QUIET_SHARE = 0.05;
/** The table's threshold before the fleet has seen traffic: the model calibration's prior. */
const PRIOR = strongShareThreshold(TARGET);

let cluster: ClusterHandle;
let routeId: string;
let route: StrongShareRoute | undefined;
let busy: RunningProxy;
let quiet: RunningProxy;
let controller: RunningController | undefined;

async function admin<T>(proxy: RunningProxy, path: string): Promise<T> {
  const res = await fetch(`${proxy.adminUrl}/admin/v1/${path}`, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
  });
  if (!res.ok) throw new Error(`GET ${path} on ${proxy.adminUrl}: ${res.status}`);
  return (await res.json()) as T;
}

async function ruleIn(proxy: RunningProxy) {
  const table = await admin<RoutingTable>(proxy, 'table');
  return table.routes.find((r) => r.id === routeId)?.rules.find((r) => r.name === RULE);
}

async function backendHealth(proxy: RunningProxy): Promise<string[]> {
  return (await admin<RoutingTable>(proxy, 'table')).backends.map((b) => b.health);
}

async function calibrationOf(proxy: RunningProxy): Promise<ProxyCalibrationStats> {
  const stats = await admin<{ calibration: ProxyCalibrationStats[] }>(proxy, 'stats');
  const entry = stats.calibration.find((c) => c.routeId === routeId && c.rule === RULE);
  if (!entry) throw new Error(`no calibration for ${routeId}#${RULE} on ${proxy.adminUrl}`);
  return entry;
}

beforeAll(async () => {
  route = await setUpStrongShareRoute('strong-share-real', TARGET);
  ({ cluster, routeId } = route);
  controller = await startLeader(cluster, 'strong-share-real');
  // Real proxies scoring with the shipped model, started after the leader's
  // term began, as sidecars roll out under a running controller: everything
  // they decide counts. (A proxy older than the term is a baseline at first
  // sight, pod-counter-window.ts: what it decides before the first stats
  // read is not counted.)
  busy = await startTestProxy('127.0.0.11');
  quiet = await startTestProxy('127.0.0.12');
  cluster.registerProxy('proxy-busy', busy);
  cluster.registerProxy('proxy-quiet', quiet);
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  await busy?.close();
  await quiet?.close();
  await route?.close();
});

interface Routed {
  proxy: 'busy' | 'quiet';
  difficulty: number;
  threshold: string;
  tier: string;
  backend: string;
}

test(
  'real proxies on mixed traffic: the fleet threshold reaches both, status and kubectl get mr show the realised share',
  async () => {
    // Before traffic both proxies hold the prior, with the target, and both
    // backends are probed healthy (until then a tier's request may fail over
    // to the other tier's backend, which is not what this test is about).
    await eventually(async () => {
      for (const p of [busy, quiet]) {
        expect(await ruleIn(p)).toMatchObject({ threshold: PRIOR, strongShare: TARGET });
        expect(await backendHealth(p)).toEqual(['Healthy', 'Healthy']);
      }
    }, 60_000);

    const clients = {
      busy: new OpenAI({ baseURL: `${busy.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 }),
      quiet: new OpenAI({ baseURL: `${quiet.dataUrl}/v1`, apiKey: 'x', maxRetries: 0 }),
    };
    const which = seededRandom(5);
    const routed: Routed[] = [];
    // One at a time, in a seeded order: the calibrators see the same stream every run.
    for (const { content } of mixedPrompts(REQUESTS, 12)) {
      const proxy = which() < QUIET_SHARE ? 'quiet' : 'busy';
      const { response } = await clients[proxy].chat.completions
        .create({ model: ROUTE, messages: [{ role: 'user', content }] })
        .withResponse();
      const header = (name: string) => response.headers.get(name) ?? 'missing';
      routed.push({
        proxy,
        difficulty: Number(header('x-modelroute-difficulty')),
        threshold: header('x-modelroute-threshold'),
        tier: header('x-modelroute-tier'),
        backend: header('x-modelroute-backend'),
      });
    }
    const toQuiet = routed.filter((r) => r.proxy === 'quiet').length;
    expect(toQuiet).toBeGreaterThan(20);
    expect(toQuiet).toBeLessThan(100);

    // (d) Every response shows the threshold it was decided with, and was decided by it.
    for (const r of routed) {
      expect(r.threshold).toMatch(/^[01]\.\d{3}$/);
      const t = Number(r.threshold);
      // 3-decimal headers: allow one step of rounding.
      if (r.tier === 'strong') expect(r.difficulty).toBeGreaterThanOrEqual(t - 0.001);
      else expect(r.difficulty).toBeLessThanOrEqual(t + 0.001);
      expect(r.backend).toBe(`${cluster.namespace}/${r.tier === 'strong' ? 'strong' : 'weak'}`);
    }
    // The traffic is not what the model was calibrated on: the prior's fixed
    // threshold would have sent well under the target to the strong tier.
    const atPrior = routed.filter((r) => r.difficulty >= PRIOR).length / REQUESTS;
    expect(atPrior).toBeLessThan(TARGET - 0.04);
    const strong = routed.filter((r) => r.tier === 'strong').length;

    // What the proxies report is what the responses showed.
    const reports = { busy: await calibrationOf(busy), quiet: await calibrationOf(quiet) };
    expect(reports.busy.decisions + reports.quiet.decisions).toBe(REQUESTS);
    expect(reports.quiet.decisions).toBe(toQuiet);
    expect(reports.busy.strong + reports.quiet.strong).toBe(strong);

    // The fleet's threshold, read off the proxies' sketches as the controller does.
    const fleet = ScoreSketch.fromWire(reports.busy.sketch);
    fleet.merge(ScoreSketch.fromWire(reports.quiet.sketch));
    fleet.merge(ScoreSketch.uniform(PRIOR_WEIGHT));
    const fleetThreshold = Math.round(fleet.quantile(1 - TARGET) * 1000) / 1000;
    expect(Math.abs(fleetThreshold - PRIOR)).toBeGreaterThan(0.2);

    // (a) The pushed table moved from the prior to the fleet's threshold, on
    // both proxies, the quiet one too; (b) status carries it with the share.
    const realized = Math.round((strong / REQUESTS) * 1000) / 1000;
    expect(Math.abs(realized - TARGET)).toBeLessThanOrEqual(0.03);
    let pushed = NaN;
    await eventually(async () => {
      const shown = cluster.json<StrongShareStatus>(['get', 'mr', ROUTE]).status?.strongShare;
      expect(shown).toEqual({
        target: TARGET,
        realized,
        threshold: expect.any(Number),
        decisions: REQUESTS,
        window: '1h',
      });
      pushed = shown!.threshold;
      // The controller moves the table only for a step of THRESHOLD_STEP or more.
      expect(Math.abs(pushed - fleetThreshold)).toBeLessThan(THRESHOLD_STEP);
      for (const p of [busy, quiet])
        expect(await ruleIn(p)).toMatchObject({ threshold: pushed, strongShare: TARGET });
    }, 60_000);

    // (c) kubectl get mr shows the realised share in STRONG.
    await eventually(
      () => expect(cluster.row('mr', ROUTE)).toMatchObject({ STRONG: String(realized) }),
      30_000,
    );
    // The quiet proxy routes with the fleet's view: its next threshold is
    // nearer the fleet's than the prior it started from.
    const quietNext = (await calibrationOf(quiet)).threshold;
    expect(Math.abs(quietNext - pushed)).toBeLessThan(Math.abs(quietNext - PRIOR));
  },
  CASE_TIMEOUT_MS,
);
