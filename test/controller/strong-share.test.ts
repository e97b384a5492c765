// Issue 12 deliverable 3, controller side, on the real API server: proxies
// report the scores their strongShare rule saw; the controller merges them,
// pushes the fleet's threshold with the table to every proxy (a quiet one
// too), writes the realised share and the live threshold to status, and
// `kubectl get mr` shows it in STRONG. The proxies here are fake admin ports
// (test/support/fake-proxy-admin.ts) reporting fixed calibration stats, so
// the figures are known exactly; the proxy's own reporting is tested with it.
import type { RunningController } from '../../src/controller/controller.js';
import { PRIOR_WEIGHT } from '../../src/controller/fleet-calibration.js';
import type { ProxyCalibrationStats } from '../../src/controller/proxy-fleet.js';
import { strongShareThreshold } from '../../src/routing/compile.js';
import { ScoreSketch } from '../../src/routing/difficulty/calibration/score-sketch.js';
import type { RoutingTable } from '../../src/routing/table.js';
import type { ClusterHandle } from '../support/controller-env.js';
import { eventually } from '../support/eventually.js';
import { startFakeProxyAdmin, type FakeProxyAdmin } from '../support/fake-proxy-admin.js';
import {
  ROUTE,
  RULE,
  setUpStrongShareRoute,
  startLeader,
  type StrongShareRoute,
  type StrongShareStatus,
} from '../support/strong-share-route.js';

const CASE_TIMEOUT_MS = 120_000;
/** What compile puts in the table before the fleet has seen traffic: the model calibration's prior. */
const PRIOR = strongShareThreshold(0.2);

let cluster: ClusterHandle;
let routeId: string;
let route: StrongShareRoute | undefined;
let busy: FakeProxyAdmin;
let quiet: FakeProxyAdmin;
let controller: RunningController | undefined;

/** 600 requests whose scores spread evenly over 0.1..0.5: the top 20% start near 0.42. */
const observedScores = Array.from({ length: 600 }, (_, i) => 0.1 + ((i + 0.5) / 600) * 0.4);

function calibrationEntry(
  scores: readonly number[],
  decisions: number,
  strong: number,
): ProxyCalibrationStats {
  const sketch = new ScoreSketch();
  for (const x of scores) sketch.add(x);
  return {
    routeId,
    rule: RULE,
    targetStrongShare: 0.2,
    threshold: PRIOR,
    decisions,
    strong,
    sketch: sketch.toWire(),
  };
}

const ruleIn = (table: RoutingTable | undefined) =>
  table?.routes.find((r) => r.id === routeId)?.rules.find((r) => r.name === RULE);

beforeAll(async () => {
  route = await setUpStrongShareRoute('strong-share', 0.2);
  ({ cluster, routeId } = route);
  controller = await startLeader(cluster, 'replica-1');
  busy = await startFakeProxyAdmin('127.0.0.9');
  quiet = await startFakeProxyAdmin('127.0.0.10');
  cluster.registerProxy('proxy-busy', busy);
  cluster.registerProxy('proxy-quiet', quiet);
}, CASE_TIMEOUT_MS);

afterAll(async () => {
  await controller?.close();
  await busy?.close();
  await quiet?.close();
  await route?.close();
});

test(
  "the fleet's threshold reaches every proxy's table and status; kubectl get mr shows the realised share in STRONG",
  async () => {
    // Before any traffic: the model calibration's prior, with the target, on both proxies.
    await eventually(() => {
      for (const p of [busy, quiet])
        expect(ruleIn(p.tables.at(-1))).toMatchObject({ threshold: PRIOR, strongShare: 0.2 });
    }, 60_000);

    // One proxy decided 600 requests, 126 of them strong; the other saw nothing.
    busy.calibration = [calibrationEntry(observedScores, 600, 126)];
    quiet.calibration = [calibrationEntry([], 0, 0)];
    const fleet = new ScoreSketch();
    for (const x of observedScores) fleet.add(x);
    fleet.merge(ScoreSketch.uniform(PRIOR_WEIGHT));
    const expected = Math.round(fleet.quantile(0.8) * 1000) / 1000;
    expect(expected).toBeGreaterThan(0.41);
    expect(expected).toBeLessThan(0.44);

    // The quiet proxy routes with the fleet's view too.
    await eventually(() => {
      for (const p of [busy, quiet])
        expect(ruleIn(p.tables.at(-1))).toMatchObject({ threshold: expected, strongShare: 0.2 });
    }, 30_000);
    await eventually(() => {
      expect(cluster.json<StrongShareStatus>(['get', 'mr', ROUTE]).status?.strongShare).toEqual({
        target: 0.2,
        realized: 0.21,
        threshold: expected,
        decisions: 600,
        window: '1h',
      });
      expect(cluster.row('mr', ROUTE)).toMatchObject({ STRONG: '0.21' });
    }, 30_000);

    // Noise: the scores shift by less than 0.01 and more requests are decided.
    // New realised figures reach STRONG; no new table is pushed for the noise.
    const pushes = busy.tables.length + quiet.tables.length;
    busy.calibration = [
      calibrationEntry(
        observedScores.map((x) => x + 0.003),
        700,
        154,
      ),
    ];
    const reads = busy.statsReads;
    await eventually(
      () => expect(cluster.row('mr', ROUTE)).toMatchObject({ STRONG: '0.22' }),
      30_000,
    );
    await eventually(() => expect(busy.statsReads).toBeGreaterThanOrEqual(reads + 5), 30_000);
    expect(busy.tables.length + quiet.tables.length).toBe(pushes);
  },
  CASE_TIMEOUT_MS,
);

test(
  'a new leader starts with no sketches yet pushes the threshold status carries, not the prior',
  async () => {
    const live = cluster.json<StrongShareStatus>(['get', 'mr', ROUTE]).status?.strongShare;
    expect(live?.threshold).toBeLessThan(0.5);
    // Proxies fall quiet (a fresh leader's first reads carry no weight).
    busy.calibration = [calibrationEntry([], 700, 154)];
    const before = { busy: busy.tables.length, quiet: quiet.tables.length };
    await controller?.close();
    controller = await startLeader(cluster, 'replica-2');
    // The new leader's fleet pushes every pod its table on first sight.
    await eventually(() => {
      expect(busy.tables.length).toBeGreaterThan(before.busy);
      expect(quiet.tables.length).toBeGreaterThan(before.quiet);
    }, 30_000);
    for (const table of [...busy.tables.slice(before.busy), ...quiet.tables.slice(before.quiet)])
      expect(ruleIn(table)?.threshold).toBe(live?.threshold);
    expect(cluster.row('mr', ROUTE)).toMatchObject({ STRONG: '0.22' });
  },
  CASE_TIMEOUT_MS,
);
