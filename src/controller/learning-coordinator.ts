// The leader's side of learning (issue 17). With the stats it already pulls
// it takes each proxy's new labelled vectors (a cursor per pod, and per
// proxy process in the stored record so a new leader counts none twice),
// feeds each learning rule's learner, retrains when enough labels came, and
// on a promotion records an Event and has the namespace recompiled, so the
// new model goes out with the table. The rules' state is read back from
// their ConfigMaps when a term starts and written while it runs.
import type { LearningStatus, ModelRoute } from '../api/v1alpha1/index.js';
import type { LabelledVector } from '../learning/wire.js';
import { labelsCursor } from '../learning/wire.js';
import type { LearnedModel } from '../routing/compile.js';
import { namespaceOf, objectId } from '../routing/semantics.js';
import { ruleKey } from '../routing/table.js';
import type { Logger } from '../telemetry/logger.js';
import type { EventToRecord } from './event-recorder.js';
import type { LearningStore } from './learning-store.js';
import {
  RuleLearningRecord,
  type LearnerFactory,
  type LearnerSettings,
  type RetrainOutcome,
} from './rule-learning-record.js';
import type { Runnable } from './runnable.js';
import type { StatsCollection } from './stats-collector.js';

export const LearningEventReason = { promoted: 'ModelPromoted' } as const;

/** A rule with costQuality.learning in a route the controller knows. */
export interface LearningRule {
  key: string;
  route: ModelRoute;
  ruleName: string;
  settings: LearnerSettings;
  pinnedVersion: number | undefined;
}

export function learningRules(route: ModelRoute): LearningRule[] {
  const id = objectId(route);
  return route.spec.rules.flatMap((rule) => {
    const learning = rule.strategy === 'cost-quality' ? rule.costQuality?.learning : undefined;
    if (!learning) return [];
    return [
      {
        key: ruleKey(id, rule.name),
        route,
        ruleName: rule.name,
        settings: { minLabels: learning.minLabels },
        pinnedVersion: learning.pinnedVersion,
      },
    ];
  });
}

export interface LearningCoordinatorOptions {
  /** Without a store, learning lasts for the term only (tests, and controllers that cannot write ConfigMaps). */
  store?: LearningStore | undefined;
  factory: LearnerFactory;
  routes: () => ModelRoute[];
  now: () => number;
  logger: Logger;
  recordEvent: (event: EventToRecord) => void;
  enqueue: (namespace: string) => void;
  /** Changed state is written at most this often (default 60 s); a promotion is written at once. */
  flushIntervalMs?: number;
  /** A namespace is reconciled for new learning figures at most this often (default 60 s). */
  statusIntervalMs?: number;
}

export class LearningCoordinator implements Runnable {
  readonly name = 'learning';
  private records = new Map<string, RuleLearningRecord>();
  private readonly cursors = new Map<string, string>();
  private loaded = false;
  private term = 0;
  private flushedAt = 0;
  private flushing: Promise<void> | undefined;
  private readonly statusAt = new Map<string, number>();

  constructor(private readonly options: LearningCoordinatorOptions) {}

  start(): void {
    this.term += 1;
    this.records = new Map();
    this.cursors.clear();
    this.statusAt.clear();
    this.flushedAt = this.options.now();
    this.loaded = !this.options.store;
    if (this.options.store) void this.load(this.term, this.options.store);
  }

  stop(): void {
    // What changed since the last write is written once more, best effort.
    if (this.loaded) void this.flush(true);
    this.loaded = false;
    this.term += 1;
  }

  private async load(term: number, store: LearningStore): Promise<void> {
    const { logger, factory } = this.options;
    const rules = new Map(
      this.options
        .routes()
        .flatMap(learningRules)
        .map((r) => [r.key, r]),
    );
    try {
      const stored = await store.loadAll();
      if (term !== this.term) return;
      for (const { rule, record } of stored) {
        try {
          const settings = rules.get(rule)?.settings ?? { minLabels: 200 };
          this.records.set(rule, RuleLearningRecord.restore(rule, record, factory, settings));
        } catch (err) {
          logger.warn('learning state not restored; that rule starts again from the prior', {
            rule,
            error: err,
          });
        }
      }
      this.loaded = true;
      for (const ns of new Set([...rules.values()].map((r) => namespaceOf(r.route))))
        this.options.enqueue(ns);
    } catch (err) {
      logger.warn('learning state not loaded; retried', { error: err });
      setTimeout(() => {
        if (term === this.term) void this.load(term, store);
      }, 5_000).unref();
    }
  }

  /** The cursor to read a pod's labels after (LABELS_AFTER_PARAM); undefined: from the oldest kept. */
  labelsAfter(podKey: string): string | undefined {
    return this.loaded ? this.cursors.get(podKey) : undefined;
  }

  /** A StatsListener: new labels and counters from each pod, then at most one retraining. */
  readonly onStats = (collection: StatsCollection): void => {
    if (!this.loaded) return; // labels are read again once the stored state is in
    const { now } = this.options;
    const rules = new Map(
      this.options
        .routes()
        .flatMap(learningRules)
        .map((r) => [r.key, r]),
    );
    for (const [podKey, stats] of collection.stats) {
      const learning = stats.learning;
      if (!learning) continue;
      const byRule = new Map<string, LabelledVector[]>();
      for (const label of learning.labels) {
        const list = byRule.get(label.rule) ?? [];
        list.push(label);
        byRule.set(label.rule, list);
      }
      for (const rule of rules.values()) {
        const labels = byRule.get(rule.key) ?? [];
        const counters = learning.rules[rule.key];
        if (labels.length === 0 && !counters) continue;
        this.record(rule).absorb(learning.epoch, labels, counters, now());
      }
      // A cursor names the last label taken; none yet: read from the oldest kept.
      const last = learning.labels.at(-1)?.seq ?? learning.nextSeq - 1;
      if (last >= 0) this.cursors.set(podKey, labelsCursor(learning.epoch, last));
    }
    for (const podKey of this.cursors.keys())
      if (!collection.pods.includes(podKey)) this.cursors.delete(podKey);
    this.retrainOne(rules);
    this.askForStatus(rules);
    void this.flush(false);
  };

  private record(rule: LearningRule): RuleLearningRecord {
    let record = this.records.get(rule.key);
    if (!record) {
      record = RuleLearningRecord.create(
        rule.key,
        this.options.factory.create(rule.key, rule.settings),
      );
      this.records.set(rule.key, record);
    }
    return record;
  }

  /** Retrains the first due rule (one per collection: a retraining takes CPU the loop shares). */
  private retrainOne(rules: ReadonlyMap<string, LearningRule>): void {
    for (const rule of rules.values()) {
      if (rule.pinnedVersion !== undefined) continue; // pinned: no promotions
      const record = this.records.get(rule.key);
      if (!record) continue;
      let outcome: RetrainOutcome | undefined;
      try {
        outcome = record.retrainIfDue(this.options.now());
      } catch (err) {
        this.options.logger.error('retraining failed; the model in use stays', {
          rule: rule.key,
          error: err,
        });
        continue;
      }
      if (!outcome) continue;
      this.options.logger.info('retrained a rule model', {
        rule: rule.key,
        promoted: outcome.promoted,
        version: outcome.version,
        reason: outcome.reason,
      });
      const ns = namespaceOf(rule.route);
      if (outcome.promoted) {
        this.options.recordEvent(promotedEvent(rule, outcome));
        this.statusAt.set(ns, this.options.now());
        this.options.enqueue(ns); // recompile: the new model goes out with the table
        void this.flush(true);
      }
      return;
    }
  }

  /** Has namespaces whose learning figures moved reconciled, at most once per interval. */
  private askForStatus(rules: ReadonlyMap<string, LearningRule>): void {
    const { now } = this.options;
    const interval = this.options.statusIntervalMs ?? 60_000;
    for (const rule of rules.values()) {
      const record = this.records.get(rule.key);
      if (!record) continue;
      const ns = namespaceOf(rule.route);
      const shown = rule.route.status?.learning;
      const counted = record.status(rule.ruleName, rule.pinnedVersion);
      if (JSON.stringify(shown) === JSON.stringify(counted)) continue;
      if (now() - (this.statusAt.get(ns) ?? -Infinity) < interval) continue;
      this.statusAt.set(ns, now());
      this.options.enqueue(ns);
    }
  }

  private flush(force: boolean): Promise<void> {
    const { store, now, logger } = this.options;
    if (!store || !this.loaded) return Promise.resolve();
    if (this.flushing) return this.flushing;
    if (!force && now() - this.flushedAt < (this.options.flushIntervalMs ?? 60_000))
      return Promise.resolve();
    this.flushedAt = now();
    const dirty = [...this.records.values()].filter((r) => r.dirty);
    this.flushing = (async () => {
      for (const record of dirty) {
        record.dirty = false;
        try {
          await store.write(record.rule, record.toStored());
        } catch (err) {
          record.dirty = true; // written again at the next flush
          logger.warn('learning state not written; retried', { rule: record.rule, error: err });
        }
      }
    })().finally(() => {
      this.flushing = undefined;
    });
    return this.flushing;
  }

  /** The model each learning rule serves (CompileOptions.learnedModels). */
  learnedModels(): ReadonlyMap<string, LearnedModel> {
    const out = new Map<string, LearnedModel>();
    if (!this.loaded) return out;
    for (const rule of this.options.routes().flatMap(learningRules)) {
      const model = this.records.get(rule.key)?.served(rule.pinnedVersion);
      if (model) out.set(rule.key, model);
    }
    return out;
  }

  /**
   * status.learning for a route: its first learning rule; null: the route
   * has none; undefined: not known yet (the status keeps what it says).
   */
  status(route: ModelRoute): LearningStatus | null | undefined {
    const rule = learningRules(route)[0];
    if (!rule) return null;
    if (!this.loaded) return undefined;
    return this.record(rule).status(rule.ruleName, rule.pinnedVersion);
  }

  /** Writes every changed rule now (tests, shutdown). */
  flushNow(): Promise<void> {
    return this.flush(true);
  }
}

function promotedEvent(rule: LearningRule, outcome: RetrainOutcome): EventToRecord {
  return {
    involved: {
      kind: 'ModelRoute',
      apiVersion: 'modelroute.io/v1alpha1',
      namespace: namespaceOf(rule.route),
      name: rule.route.metadata.name,
      uid: rule.route.metadata.uid,
    },
    type: 'Normal',
    reason: LearningEventReason.promoted,
    message: `rule ${rule.ruleName}: model v${outcome.version ?? '?'} promoted: ${outcome.reason}`,
  };
}
