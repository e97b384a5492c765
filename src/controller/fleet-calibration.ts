// The fleet's view of each strongShare rule (issue 12): every proxy reports
// the recent difficulty scores of a rule as a sketch, and how many requests it
// decided and sent to the strong tier. Here the pods' latest sketches are
// summed (a quiet sidecar then routes with the fleet's view), the threshold
// that sends the target share to the strong tier is read off the sum, and the
// decisions are counted over the last hour for status (STRONG).
//
// The threshold pushed with the table moves only when it is worth a push:
// - not before the fleet saw real traffic for the rule (MIN_OBSERVED_WEIGHT):
//   until then the table keeps what it has (the prior, or what the previous
//   leader pushed, seeded from status), so a new leader, which starts with no
//   sketches, does not flap a route back to the prior and forth again;
// - not for a move under THRESHOLD_STEP from the table's: sampling noise
//   would otherwise make a new table version on every stats read.
import type { ModelRoute } from '../api/v1alpha1/index.js';
import { strongShareThreshold } from '../routing/compile.js';
import { ScoreSketch } from '../routing/difficulty/calibration/score-sketch.js';
import { ruleKey } from '../routing/table.js';
import { PodCounterWindow } from './pod-counter-window.js';
import type { ProxyCalibrationStats } from './proxy-fleet.js';

/**
 * Weight of the model calibration's prior (scores uniform over 0..1) in the
 * fleet sketch. It answers for a fleet that has seen nothing, and it is small
 * beside MIN_OBSERVED_WEIGHT: at that weight it is 20/520 ≈ 4% of the mass,
 * so even when the traffic's quantile lies at the far end of 0..1 from the
 * prior's, the share the pushed threshold sends to the strong tier is off by
 * under 0.04 (fleet-calibration.test.ts), and by less as traffic accumulates.
 */
export const PRIOR_WEIGHT = 20;
/**
 * Observed (decayed) weight a rule's fleet sketch needs before its threshold
 * replaces the one in the table: the warm-up of 500 requests.
 */
export const MIN_OBSERVED_WEIGHT = 500;
/** A fleet threshold this close to the table's is noise, not news: no new table. */
export const THRESHOLD_STEP = 0.01;

const round3 = (x: number): number => Math.round(x * 1000) / 1000;
const clamp01 = (x: number): number => Math.min(1, Math.max(0, x));

/** strong / decisions as status shows it: 3 decimals, at most 1 (a proxy reporting more strong than decided must not make status unwritable). */
export function realizedShare(counted: { decisions: number; strong: number }): number {
  return Math.min(1, Math.round((counted.strong / counted.decisions) * 1000) / 1000);
}

/** A rule with a strongShare target, as the spec says now. */
export interface StrongShareRule {
  routeId: string;
  rule: string;
  target: number;
}

/** Every cost-quality rule with a strongShare, in spec order. */
export function strongShareRules(route: ModelRoute, routeId: string): StrongShareRule[] {
  return route.spec.rules.flatMap((r) =>
    r.strategy === 'cost-quality' && r.costQuality?.strongShare !== undefined
      ? [{ routeId, rule: r.name, target: r.costQuality.strongShare }]
      : [],
  );
}

export interface FleetCalibrationOptions {
  now: () => number;
  priorWeight?: number;
  minObservedWeight?: number;
}

export class FleetCalibration {
  /** pod → ruleKey → its latest sketch. */
  private readonly sketches = new Map<string, Map<string, ScoreSketch>>();
  private readonly counts: PodCounterWindow<'decisions' | 'strong'>;
  /** ruleKey → the live threshold in the table, and the target it is for. */
  private readonly held = new Map<string, { target: number; threshold: number }>();
  private readonly priorWeight: number;
  private readonly minObservedWeight: number;

  constructor(options: FleetCalibrationOptions) {
    this.counts = new PodCounterWindow(['decisions', 'strong'], options.now, {
      whole: ['decisions', 'strong'],
    });
    this.priorWeight = options.priorWeight ?? PRIOR_WEIGHT;
    this.minObservedWeight = options.minObservedWeight ?? MIN_OBSERVED_WEIGHT;
  }

  /**
   * Continues from a route's status.strongShare (on a leader change): its
   * threshold stays in the table until this term's fleet says otherwise, and
   * its decisions continue the window.
   */
  seed(
    key: string,
    status: { target: number; threshold: number; decisions: number; realized: number },
  ): void {
    this.held.set(key, { target: status.target, threshold: status.threshold });
    this.counts.seed(key, {
      decisions: status.decisions,
      strong: Math.round(status.realized * status.decisions),
    });
  }

  /**
   * One pod's report. Returns the rule keys whose decision counts moved.
   * Entries whose sketch is malformed were refused by the stats schema.
   */
  observe(
    podKey: string,
    startedAt: number | undefined,
    entries: readonly ProxyCalibrationStats[],
  ): Set<string> {
    const latest = new Map<string, ScoreSketch>();
    for (const e of entries) latest.set(ruleKey(e.routeId, e.rule), ScoreSketch.fromWire(e.sketch));
    this.sketches.set(podKey, latest);
    return this.counts.observe(
      podKey,
      startedAt,
      entries.map((e) => ({
        key: ruleKey(e.routeId, e.rule),
        totals: { decisions: e.decisions, strong: e.strong },
      })),
    );
  }

  /** Drops pods that left the fleet: their sketches no longer describe traffic. */
  forgetPodsExcept(podKeys: ReadonlySet<string>): void {
    for (const key of this.sketches.keys()) if (!podKeys.has(key)) this.sketches.delete(key);
    this.counts.forgetPodsExcept(podKeys);
  }

  /** The pods' latest sketches for a rule, summed (observed traffic only). */
  private observed(key: string): ScoreSketch {
    const sum = new ScoreSketch();
    for (const pod of this.sketches.values()) {
      const s = pod.get(key);
      if (s) sum.merge(s);
    }
    return sum;
  }

  /** The fleet's threshold for a target share: observed scores plus the prior, rounded to 3 decimals. */
  fleetThreshold(key: string, target: number): { threshold: number; observedWeight: number } {
    const fleet = this.observed(key);
    const observedWeight = fleet.total;
    fleet.merge(ScoreSketch.uniform(this.priorWeight));
    return { threshold: round3(clamp01(fleet.quantile(1 - target))), observedWeight };
  }

  /**
   * Moves the live thresholds of these rules (all strongShare rules of the
   * routes served) where the fleet says so; forgets rules no longer listed.
   * Returns the rule keys whose threshold in the table must change.
   */
  update(rules: Iterable<StrongShareRule>): Set<string> {
    const moved = new Set<string>();
    const listed = new Set<string>();
    for (const { routeId, rule, target } of rules) {
      const key = ruleKey(routeId, rule);
      listed.add(key);
      let held = this.held.get(key);
      if (held && held.target !== target) {
        // The spec's target changed: what was held was for the old one.
        this.held.delete(key);
        held = undefined;
        moved.add(key);
      }
      const fleet = this.fleetThreshold(key, target);
      if (fleet.observedWeight < this.minObservedWeight) continue;
      // Compile's prior for a strongShare rule, when nothing is held.
      const inTable = held?.threshold ?? strongShareThreshold(target);
      if (Math.abs(fleet.threshold - inTable) < THRESHOLD_STEP) continue;
      this.held.set(key, { target, threshold: fleet.threshold });
      moved.add(key);
    }
    for (const key of this.held.keys()) if (!listed.has(key)) this.held.delete(key);
    return moved;
  }

  /**
   * The live thresholds for CompileOptions.liveThresholds, of these rules
   * (the spec now): one held for another target than the spec's is left out,
   * so an edit of strongShare compiles the new target's prior at once.
   */
  thresholds(rules: Iterable<StrongShareRule>): ReadonlyMap<string, number> {
    const out = new Map<string, number>();
    for (const { routeId, rule, target } of rules) {
      const key = ruleKey(routeId, rule);
      const held = this.held.get(key);
      if (held?.target === target) out.set(key, held.threshold);
    }
    return out;
  }

  /** Decisions and strong ones over the last hour, summed over the fleet; undefined when none. */
  decisions(key: string): { decisions: number; strong: number } | undefined {
    const sums = this.counts.sum(key);
    return sums && sums.decisions > 0 ? sums : undefined;
  }
}
