import { LABELS_PER_READ, proxyLearningStats } from '../../learning/wire.js';
import { LabelOutbox, parseLabelsCursor } from './label-outbox.js';

const features = (x: number) => Array.from({ length: 37 }, (_, i) => x + i / 100);
const outbox = (capacity?: number) => {
  const dropped: number[] = [];
  const o = new LabelOutbox({
    now: () => 1_000,
    epoch: 'epoch-a',
    capacity,
    onDropped: () => dropped.push(1),
  });
  return { o, dropped };
};

describe('LabelOutbox', () => {
  it('numbers labels per epoch and returns those after the reader’s cursor, in the wire shape', () => {
    const { o } = outbox();
    o.push('default/chat#r', 0, features(1), { kind: 'feedback', tier: 'cheap', score: 1 });
    o.push('default/chat#r', 2, features(2), { kind: 'pairwise', gain: -0.5 });
    const all = proxyLearningStats.parse(o.stats());
    expect(all.labels.map((l) => l.seq)).toEqual([0, 1]);
    expect(all).toMatchObject({ epoch: 'epoch-a', nextSeq: 2, droppedLabels: 0 });
    expect(all.rules['default/chat#r']).toMatchObject({ labels: 2 });
    expect(all.labels[1]).toMatchObject({ modelVersion: 2, atMs: 1_000, rule: 'default/chat#r' });

    expect(o.stats({ epoch: 'epoch-a', seq: 0 }).labels.map((l) => l.seq)).toEqual([1]);
    expect(o.stats({ epoch: 'epoch-a', seq: 1 }).labels).toEqual([]);
    // Another epoch (the reader knew an earlier process): everything kept.
    expect(o.stats({ epoch: 'old', seq: 40 }).labels.map((l) => l.seq)).toEqual([0, 1]);
  });

  it('keeps a ring: unread labels pushed out are counted as dropped, read ones are not', () => {
    const { o, dropped } = outbox(4);
    for (let i = 0; i < 3; i++) o.push('r', 0, features(i), { kind: 'pairwise', gain: 0 });
    o.stats(); // reads 0..2
    for (let i = 3; i < 9; i++) o.push('r', 0, features(i), { kind: 'pairwise', gain: 0 });
    // 9 pushed into 4 slots: 0..4 left the ring, of which 3 and 4 were never read.
    const stats = o.stats({ epoch: 'epoch-a', seq: 2 });
    expect(stats.labels.map((l) => l.seq)).toEqual([5, 6, 7, 8]);
    expect(stats.droppedLabels).toBe(2);
    expect(dropped).toHaveLength(2);
  });

  it('returns at most LABELS_PER_READ labels a read, oldest first', () => {
    const { o } = outbox(LABELS_PER_READ + 10);
    for (let i = 0; i < LABELS_PER_READ + 5; i++)
      o.push('r', 0, features(0), { kind: 'pairwise', gain: 1 });
    const first = o.stats();
    expect(first.labels).toHaveLength(LABELS_PER_READ);
    const rest = o.stats({ epoch: 'epoch-a', seq: first.labels.at(-1)?.seq ?? -1 });
    expect(rest.labels.map((l) => l.seq)).toEqual([1000, 1001, 1002, 1003, 1004]);
  });

  it('sends features rounded to 6 decimals, the same from float32 and float64 copies', () => {
    const { o } = outbox();
    o.push('r', 0, Float64Array.of(Math.LN2, 1 / 3), { kind: 'pairwise', gain: 0 });
    o.push('r', 0, Float32Array.of(Math.LN2, 1 / 3), { kind: 'pairwise', gain: 0 });
    const [a, b] = o.stats().labels;
    expect(a?.features).toEqual([0.693147, 0.333333]);
    expect(b?.features).toEqual(a?.features);
  });

  it('adds the shadow judge’s counts per rule and ignores bad ones', () => {
    const { o } = outbox();
    o.count('r', 'costUsd', 0.25);
    o.count('r', 'judgeCalls', 2);
    o.count('r', 'shadowCalls', Number.NaN);
    expect(o.stats().rules['r']).toMatchObject({ costUsd: 0.25, judgeCalls: 2, shadowCalls: 0 });
  });
});

describe('parseLabelsCursor', () => {
  it('reads <epoch>:<seq> and explains anything else', () => {
    expect(parseLabelsCursor('abc-1:42')).toEqual({ epoch: 'abc-1', seq: 42 });
    for (const bad of ['', 'abc', ':4', 'abc:', 'abc:-1', 'abc:1.5'])
      expect(parseLabelsCursor(bad)).toMatch(/labelsAfter must be <epoch>:<seq>/);
  });
});
