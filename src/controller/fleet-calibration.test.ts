import { ScoreSketch } from '../routing/difficulty/calibration/score-sketch.js';
import { priorQuantile } from '../routing/difficulty/calibration/prior.js';
import { seededRandom } from '../routing/random.js';
import { ruleKey } from '../routing/table.js';
import {
  FleetCalibration,
  MIN_OBSERVED_WEIGHT,
  PRIOR_WEIGHT,
  THRESHOLD_STEP,
  type StrongShareRule,
} from './fleet-calibration.js';
import type { ProxyCalibrationStats } from './proxy-fleet.js';

const ROUTE = 'team/chat';
const KEY = ruleKey(ROUTE, 'tiered');
const rule = (target: number): StrongShareRule => ({ routeId: ROUTE, rule: 'tiered', target });

function sketchOf(scores: readonly number[]): ScoreSketch {
  const s = new ScoreSketch();
  for (const x of scores) s.add(x);
  return s;
}

function entry(
  scores: readonly number[],
  counts: { decisions: number; strong: number } = { decisions: 0, strong: 0 },
): ProxyCalibrationStats {
  return {
    routeId: ROUTE,
    rule: 'tiered',
    targetStrongShare: 0.2,
    threshold: 0.8,
    ...counts,
    sketch: sketchOf(scores).toWire(),
  };
}

const repeat = (n: number, score: number) => Array.from({ length: n }, () => score);

function setup(start = Date.UTC(2026, 0, 1)) {
  let now = start;
  const fleet = new FleetCalibration({ now: () => now });
  return { fleet, advance: (ms: number) => (now += ms), now: () => now };
}

describe('fleet threshold', () => {
  test("an empty fleet answers the prior; otherwise the pods' latest sketches are summed with it", () => {
    const { fleet } = setup();
    expect(fleet.fleetThreshold(KEY, 0.2)).toEqual({ threshold: 0.8, observedWeight: 0 });

    const a = repeat(300, 0.1);
    const b = repeat(300, 0.3);
    fleet.observe('team/p1', undefined, [entry(a)]);
    fleet.observe('team/p2', undefined, [entry(b)]);
    const expected = sketchOf([...a, ...b]);
    expected.merge(ScoreSketch.uniform(PRIOR_WEIGHT));
    const got = fleet.fleetThreshold(KEY, 0.2);
    expect(got).toEqual({
      threshold: Math.round(expected.quantile(0.8) * 1000) / 1000,
      observedWeight: 600,
    });
    // Half the traffic scores 0.3: the top 20% lie in that bin, far below the prior's 0.8.
    expect(got.threshold).toBeGreaterThanOrEqual(0.3 - 1 / 256);
    expect(got.threshold).toBeLessThan(0.31);

    // A pod's new report replaces its sketch (the proxy decays its own); it is not added.
    fleet.observe('team/p1', undefined, [entry(a)]);
    expect(fleet.fleetThreshold(KEY, 0.2).observedWeight).toBe(600);
    // A pod that left the fleet no longer counts: p2's 0.3s are gone.
    fleet.forgetPodsExcept(new Set(['team/p1']));
    const alone = fleet.fleetThreshold(KEY, 0.2);
    expect(alone.observedWeight).toBe(300);
    expect(alone.threshold).toBeLessThan(0.11);
    // A pod that stops reporting the rule stops counting for it.
    fleet.observe('team/p1', undefined, []);
    expect(fleet.fleetThreshold(KEY, 0.2).observedWeight).toBe(0);
  });

  test('property: once pushed, the threshold sends the target share of the observed traffic ± 0.04 to the strong tier', () => {
    // Skewed score distributions (x^k), 1..5 pods, the minimum weight that
    // allows a push (where the prior weighs most), strong shares 0.1..0.5.
    const rng = seededRandom(12);
    let worst = 0;
    for (let trial = 0; trial < 300; trial++) {
      const { fleet } = setup();
      const k = 0.4 + rng() * 2.6;
      const high = rng() < 0.5;
      const target = Math.round((0.1 + rng() * 0.4) * 100) / 100;
      const pods = 1 + Math.floor(rng() * 5);
      const scores = Array.from({ length: MIN_OBSERVED_WEIGHT }, () =>
        high ? 1 - rng() ** k : rng() ** k,
      );
      for (let p = 0; p < pods; p++) {
        const mine = scores.filter((_, i) => i % pods === p);
        fleet.observe(`team/p${p}`, undefined, [entry(mine)]);
      }
      fleet.update([rule(target)]);
      const t = fleet.thresholds([rule(target)]).get(KEY) ?? 1 - target;
      const share = scores.filter((x) => x >= t).length / scores.length;
      worst = Math.max(worst, Math.abs(share - target));
    }
    expect(worst).toBeLessThanOrEqual(0.04);
  });
});

describe('what the table gets', () => {
  test('nothing before the fleet saw MIN_OBSERVED_WEIGHT; then the fleet threshold', () => {
    const { fleet } = setup();
    fleet.observe('team/p1', undefined, [entry(repeat(MIN_OBSERVED_WEIGHT - 1, 0.2))]);
    expect(fleet.update([rule(0.2)])).toEqual(new Set());
    expect(fleet.thresholds([rule(0.2)])).toEqual(new Map());
    fleet.observe('team/p2', undefined, [entry([0.2])]);
    expect(fleet.update([rule(0.2)])).toEqual(new Set([KEY]));
    const t = fleet.thresholds([rule(0.2)]).get(KEY);
    expect(t).toBeGreaterThan(0.19);
    expect(t).toBeLessThan(0.21);
  });

  test('no churn: a fleet threshold within THRESHOLD_STEP of the table is not news; a larger move is', () => {
    const { fleet } = setup();
    const traffic = (center: number) =>
      Array.from({ length: 1000 }, (_, i) => center - 0.05 + (i / 1000) * 0.1);
    fleet.observe('team/p1', undefined, [entry(traffic(0.5))]);
    expect(fleet.update([rule(0.2)])).toEqual(new Set([KEY]));
    const first = fleet.thresholds([rule(0.2)]).get(KEY) as number;
    // Noise: the traffic drifts by less than a step, read after read.
    for (const drift of [0.002, -0.004, 0.006, -0.008, 0.004]) {
      fleet.observe('team/p1', undefined, [entry(traffic(0.5 + drift))]);
      expect(fleet.update([rule(0.2)])).toEqual(new Set());
      expect(fleet.thresholds([rule(0.2)]).get(KEY)).toBe(first);
    }
    // The traffic got harder: the threshold follows.
    fleet.observe('team/p1', undefined, [entry(traffic(0.5 + 2 * THRESHOLD_STEP))]);
    expect(fleet.update([rule(0.2)])).toEqual(new Set([KEY]));
    expect(fleet.thresholds([rule(0.2)]).get(KEY)).toBeCloseTo(first + 2 * THRESHOLD_STEP, 2);
  });

  test("a fleet that agrees with the prior leaves the prior's table alone", () => {
    const { fleet } = setup();
    fleet.observe('team/p1', undefined, [
      entry(Array.from({ length: 1000 }, (_, i) => priorQuantile((i + 0.5) / 1000))),
    ]);
    expect(fleet.update([rule(0.2)])).toEqual(new Set());
    expect(fleet.thresholds([rule(0.2)])).toEqual(new Map());
  });

  test('a new leader keeps the threshold its status carries until its own fleet view has weight', () => {
    const { fleet } = setup();
    fleet.seed(KEY, { target: 0.2, threshold: 0.42, decisions: 900, realized: 0.21 });
    expect(fleet.thresholds([rule(0.2)])).toEqual(new Map([[KEY, 0.42]]));
    // Its first reads carry little weight: no flap to the prior.
    fleet.observe('team/p1', undefined, [entry(repeat(50, 0.9))]);
    expect(fleet.update([rule(0.2)])).toEqual(new Set());
    expect(fleet.thresholds([rule(0.2)]).get(KEY)).toBe(0.42);
    // The decisions carry on from status.
    expect(fleet.decisions(KEY)).toEqual({ decisions: 900, strong: 189 });
  });

  test("an edit of the spec's target drops the threshold held for the old one at once", () => {
    const { fleet } = setup();
    fleet.seed(KEY, { target: 0.2, threshold: 0.42, decisions: 10, realized: 0.2 });
    // Compile reads thresholds before the next stats read: the new target's prior, not 0.42.
    expect(fleet.thresholds([rule(0.5)])).toEqual(new Map());
    expect(fleet.update([rule(0.5)])).toEqual(new Set([KEY]));
    expect(fleet.thresholds([rule(0.2)])).toEqual(new Map());
  });

  test('a rule no longer in any route is forgotten', () => {
    const { fleet } = setup();
    fleet.seed(KEY, { target: 0.2, threshold: 0.42, decisions: 10, realized: 0.2 });
    fleet.update([]);
    expect(fleet.thresholds([rule(0.2)])).toEqual(new Map());
  });
});

describe('decisions over the window', () => {
  test('per-pod deltas of cumulative counters, summed over the fleet; restarts count in full; an hour later all gone', () => {
    const { fleet, advance, now } = setup();
    const started = now() - 86_400_000;
    // Up for a day before this term: a baseline, already in the status the window was seeded from.
    expect(
      fleet.observe('team/p1', started, [entry([], { decisions: 5000, strong: 1000 })]),
    ).toEqual(new Set());
    expect(fleet.decisions(KEY)).toBeUndefined();
    advance(5_000);
    expect(
      fleet.observe('team/p1', started, [entry([], { decisions: 5100, strong: 1030 })]),
    ).toEqual(new Set([KEY]));
    // Born in this term: counts in full from its first report.
    fleet.observe('team/p2', now() - 2_000, [entry([], { decisions: 100, strong: 10 })]);
    expect(fleet.decisions(KEY)).toEqual({ decisions: 200, strong: 40 });
    advance(60_000);
    // p2 restarted (its counters went down): its new totals count in full.
    fleet.observe('team/p2', undefined, [entry([], { decisions: 20, strong: 5 })]);
    expect(fleet.decisions(KEY)).toEqual({ decisions: 220, strong: 45 });
    advance(3_660_000);
    expect(fleet.decisions(KEY)).toBeUndefined();
  });
});
