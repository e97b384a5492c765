// The proxy's live strongShare calibrations: one StrongShareCalibrator per
// (route, rule) with a strongShare, kept across table pushes (a new table
// brings the fleet's threshold and target; local history stays), dropped
// when the rule leaves the table. Reported at /admin/v1/stats as
// `calibration`, which the controller merges into the fleet threshold.
import {
  StrongShareCalibrator,
  type StrongShareSnapshot,
} from '../routing/difficulty/calibration/strong-share-calibrator.js';
import { ruleKey, type RoutingTable } from '../routing/table.js';

/** One entry of `calibration` in the admin stats (the controller parses it). */
export interface StrongShareCalibrationStats extends StrongShareSnapshot {
  routeId: string;
  rule: string;
}

interface Entry {
  routeId: string;
  rule: string;
  calibrator: StrongShareCalibrator;
}

export class StrongShareCalibrators {
  private readonly entries = new Map<string, Entry>();

  /**
   * Follows a newly installed table. Rules in `restart` (their difficulty
   * model changed, so scores are on a new scale) start again from the table's
   * threshold, their local history dropped.
   */
  configure(table: RoutingTable, restart?: ReadonlySet<string>): void {
    const present = new Set<string>();
    for (const route of table.routes) {
      for (const rule of route.rules) {
        if (rule.strongShare === undefined || rule.threshold === undefined) continue;
        const key = ruleKey(route.id, rule.name);
        present.add(key);
        const entry = restart?.has(key) ? undefined : this.entries.get(key);
        if (entry) entry.calibrator.setFleetThreshold(rule.threshold, rule.strongShare);
        else
          this.entries.set(key, {
            routeId: route.id,
            rule: rule.name,
            calibrator: new StrongShareCalibrator({
              targetStrongShare: rule.strongShare,
              fleetThreshold: rule.threshold,
            }),
          });
      }
    }
    for (const key of [...this.entries.keys()]) if (!present.has(key)) this.entries.delete(key);
  }

  /** The threshold for this request, or undefined for a rule that is not calibrated here. */
  thresholdFor(routeId: string, ruleName: string): number | undefined {
    return this.entries.get(ruleKey(routeId, ruleName))?.calibrator.thresholdFor();
  }

  /** Records a decision made with thresholdFor's answer. */
  record(routeId: string, ruleName: string, score: number, strong: boolean): void {
    this.entries.get(ruleKey(routeId, ruleName))?.calibrator.record(score, strong);
  }

  stats(): StrongShareCalibrationStats[] {
    return [...this.entries.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, e]) => ({ routeId: e.routeId, rule: e.rule, ...e.calibrator.snapshot() }));
  }
}
