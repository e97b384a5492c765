// What ProxyLearning needs of a shadow judge (issue 17), so the proxy's
// learning runs with or without one: the judge itself (H3's ShadowJudge in
// shadow-judge.ts) is plugged in by startProxy's `shadowJudge` option.
import type { RuleLearningCounters } from '../../learning/wire.js';
import type { LearningOutcome } from '../../learning/wire.js';
import type { PreparedTable } from '../../routing/prepared-table.js';
import type { LearningTicket } from './ticket.js';

/** Where labels and counts go: the LabelOutbox. */
export interface LabelSink {
  push(
    rule: string,
    modelVersion: number,
    features: ArrayLike<number>,
    outcome: LearningOutcome,
  ): void;
  count(rule: string, field: keyof RuleLearningCounters, n: number): void;
}

export interface ShadowJudging {
  /** Whether a request already sampled by the rule's sampleRate may be judged now (budget, queue). */
  wants(ticket: LearningTicket, nowMs: number): boolean;
  /** After the client's response ended with 200; never throws, never delays the client. */
  submit(ticket: LearningTicket, table: PreparedTable): void;
  close(): Promise<void>;
}
