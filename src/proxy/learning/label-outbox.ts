// The labels a proxy keeps for the controller (issue 17): a ring of the last
// PROXY_LABEL_RING labelled vectors numbered per epoch, read through
// GET /admin/v1/stats?labelsAfter=<epoch>:<seq>, and cumulative counters per
// rule. Only numbers are kept: features and outcomes, never text.
import {
  emptyLearningCounters,
  LABELS_PER_READ,
  PROXY_LABEL_RING,
  type LabelledVector,
  type LearningOutcome,
  type ProxyLearningStats,
  type RuleLearningCounters,
} from '../../learning/wire.js';
import type { LabelSink } from './shadow-judging.js';

export interface LabelsCursor {
  epoch: string;
  /** The seq of the last label the reader has. */
  seq: number;
}

/** Parses `<epoch>:<seq>`; a string saying what is wrong when it is not one. */
export function parseLabelsCursor(value: string): LabelsCursor | string {
  const colon = value.lastIndexOf(':');
  const epoch = value.slice(0, colon);
  const seqText = value.slice(colon + 1);
  if (colon <= 0 || !/^\d{1,15}$/.test(seqText))
    return `labelsAfter must be <epoch>:<seq> (the epoch and the seq of the last label read), got ${JSON.stringify(value.slice(0, 80))}`;
  return { epoch, seq: Number(seqText) };
}

/**
 * Features go out rounded to 6 decimals: a full read is 1,000 labels of 37
 * numbers, about half the bytes of full doubles, and float32 (how feedback's
 * store keeps them) and float64 copies of one prompt send the same numbers.
 */
function roundFeature(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : 0;
}

export interface LabelOutboxOptions {
  now: () => number;
  /** This process's epoch: a random id (a restart starts a new one, and seq again at 0). */
  epoch: string;
  capacity?: number;
  /** A label was made (metrics). */
  onLabel?: (rule: string, kind: LearningOutcome['kind']) => void;
  /** A label left the ring before any read returned it (metrics). */
  onDropped?: () => void;
}

export class LabelOutbox implements LabelSink {
  readonly epoch: string;
  private readonly capacity: number;
  private readonly ring: (LabelledVector | undefined)[];
  private nextSeq = 0;
  /** Highest seq a stats read has returned. */
  private deliveredThrough = -1;
  private dropped = 0;
  private readonly counters = new Map<string, RuleLearningCounters>();

  constructor(private readonly options: LabelOutboxOptions) {
    this.epoch = options.epoch;
    this.capacity = Math.max(1, options.capacity ?? PROXY_LABEL_RING);
    this.ring = new Array<LabelledVector | undefined>(this.capacity);
  }

  push(
    rule: string,
    modelVersion: number,
    features: ArrayLike<number>,
    outcome: LearningOutcome,
  ): void {
    const seq = this.nextSeq++;
    const slot = seq % this.capacity;
    const old = this.ring[slot];
    if (old !== undefined && old.seq > this.deliveredThrough) {
      this.dropped++;
      this.options.onDropped?.();
    }
    this.ring[slot] = {
      seq,
      rule,
      modelVersion,
      features: Array.from(features, roundFeature),
      outcome,
      atMs: Math.max(0, Math.floor(this.options.now())),
    };
    this.count(rule, 'labels', 1);
    this.options.onLabel?.(rule, outcome.kind);
  }

  count(rule: string, field: keyof RuleLearningCounters, n: number): void {
    if (!Number.isFinite(n) || n < 0) return;
    let c = this.counters.get(rule);
    if (c === undefined) this.counters.set(rule, (c = emptyLearningCounters()));
    c[field] += n;
  }

  /** The `learning` member of /admin/v1/stats: labels after `cursor` (all kept ones for another epoch or none). */
  stats(cursor?: LabelsCursor): ProxyLearningStats {
    const firstKept = Math.max(0, this.nextSeq - this.capacity);
    const from =
      cursor !== undefined && cursor.epoch === this.epoch
        ? Math.max(firstKept, cursor.seq + 1)
        : firstKept;
    const to = Math.min(this.nextSeq, from + LABELS_PER_READ);
    const labels: LabelledVector[] = [];
    for (let seq = from; seq < to; seq++) {
      const label = this.ring[seq % this.capacity];
      if (label !== undefined) labels.push(label);
    }
    if (to - 1 > this.deliveredThrough) this.deliveredThrough = to - 1;
    const rules: Record<string, RuleLearningCounters> = {};
    for (const [rule, c] of [...this.counters.entries()].sort(([a], [b]) => (a < b ? -1 : 1)))
      rules[rule] = { ...c };
    return { epoch: this.epoch, nextSeq: this.nextSeq, labels, droppedLabels: this.dropped, rules };
  }
}
