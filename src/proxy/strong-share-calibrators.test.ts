import type { ModelRouteInput } from '../api/v1alpha1/index.js';
import { priorQuantile } from '../routing/difficulty/calibration/prior.js';
import { backend, route } from '../routing/__fixtures__/objects.js';
import { compileRoutingTable } from '../routing/compile.js';
import { StrongShareCalibrators } from './strong-share-calibrators.js';

const backends = [backend('mini', { quality: 0.5 }), backend('big', { quality: 0.95 })];
const refs = [{ name: 'mini' }, { name: 'big' }];
type Rule = ModelRouteInput['spec']['rules'][number];
const cq = (name: string, costQuality: Rule['costQuality']): Rule => ({
  name,
  strategy: 'cost-quality',
  costQuality,
  backendRefs: refs,
});
const table = (rules: Rule[]) => compileRoutingTable([route('chat', { rules })], backends);

describe('StrongShareCalibrators', () => {
  it('calibrates strongShare rules only, keyed by route and rule, from the table’s fleet threshold', () => {
    const c = new StrongShareCalibrators();
    c.configure(table([cq('share', { strongShare: 0.2 }), cq('fixed', { threshold: 0.6 })]));
    expect(c.thresholdFor('default/chat', 'share')).toBeCloseTo(priorQuantile(0.8), 2);
    expect(c.thresholdFor('default/chat', 'fixed')).toBeUndefined();
    expect(c.stats().map((s) => [s.routeId, s.rule, s.targetStrongShare])).toEqual([
      ['default/chat', 'share', 0.2],
    ]);
  });

  it('keeps local history across table pushes, takes the new target, and drops rules that left', () => {
    const c = new StrongShareCalibrators();
    c.configure(table([cq('share', { strongShare: 0.2 })]));
    for (let i = 0; i < 50; i++) c.record('default/chat', 'share', 0.3, false);
    c.record('default/chat', 'other', 0.3, true); // not calibrated here: ignored

    c.configure(table([cq('share', { strongShare: 0.5 })]));
    const [entry] = c.stats();
    expect(entry).toMatchObject({
      rule: 'share',
      targetStrongShare: 0.5,
      decisions: 50,
      strong: 0,
    });
    expect(entry?.sketch.weights.length).toBeGreaterThan(0);

    c.configure(table([cq('renamed', { strongShare: 0.5 })]));
    expect(c.stats().map((s) => [s.rule, s.decisions])).toEqual([['renamed', 0]]);
    expect(c.thresholdFor('default/chat', 'share')).toBeUndefined();
  });
});

describe('StrongShareCalibrators restart', () => {
  it('restarts a rule whose model changed from the table’s threshold, dropping its history', () => {
    const c = new StrongShareCalibrators();
    const t = table([cq('share', { strongShare: 0.2 })]);
    c.configure(t);
    for (let i = 0; i < 50; i++) c.record('default/chat', 'share', 0.3, false);
    c.configure(t, new Set(['default/chat#share']));
    expect(c.stats()[0]).toMatchObject({ decisions: 0 });
  });
});
