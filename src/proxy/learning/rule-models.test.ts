import type { ModelRouteInput } from '../../api/v1alpha1/index.js';
import { backend, route } from '../../routing/__fixtures__/objects.js';
import { compileRoutingTable, type LearnedModel } from '../../routing/compile.js';
import type { DifficultyModelFileV2 } from '../../routing/difficulty/learned/index.js';
import { ruleKey, type CompiledRule, type RoutingTable } from '../../routing/table.js';
import { corruptModelFile, shiftedModelFile } from './__fixtures__/learned-model.js';
import { RuleModels } from './rule-models.js';

const KEY = ruleKey('default/chat', 'learn');
type Rule = ModelRouteInput['spec']['rules'][number];
const rules: Rule[] = [
  {
    name: 'learn',
    strategy: 'cost-quality',
    costQuality: { threshold: 0.5, learning: { sampleRate: 0 } },
    backendRefs: [{ name: 'mini' }, { name: 'big' }],
  },
];
const table = (model?: { version: number; file: DifficultyModelFileV2 }): RoutingTable =>
  compileRoutingTable(
    [route('chat', { rules })],
    [backend('mini', { quality: 0.5 }), backend('big', { quality: 0.9 })],
    undefined,
    model ? { learnedModels: new Map<string, LearnedModel>([[KEY, model]]) } : {},
  );
const ruleOf = (t: RoutingTable) => t.routes[0]?.rules[0] as CompiledRule;
const features = new Float64Array(37);

describe('RuleModels', () => {
  it('scores a learning rule with its pushed model, validated once per file', () => {
    const refused: string[] = [];
    const models = new RuleModels({ onRefused: (key) => refused.push(key) });
    expect(models.configure(table())).toEqual(new Set());
    const hard = { version: 1, file: shiftedModelFile('hard', 50) };
    const t1 = table(hard);
    expect(models.configure(t1)).toEqual(new Set([KEY]));
    const model = models.forRule(ruleOf(t1));
    expect(model?.version).toBe(1);
    expect(model?.scoreFeatures(features)).toBeGreaterThan(0.99);
    // The same file again (a new table for another reason): same model object, nothing changed.
    const t2 = table(hard);
    expect(models.configure(t2)).toEqual(new Set());
    expect(models.forRule(ruleOf(t2))).toBe(model);
    expect(refused).toEqual([]);
  });

  it('refuses a corrupt file once, scores the rule with the prior, and reports the change', () => {
    const refused: string[] = [];
    const models = new RuleModels({
      onRefused: (key, version) => refused.push(`${key}@${version}`),
    });
    models.configure(table({ version: 1, file: shiftedModelFile('v1', 1) }));
    const bad = table({ version: 2, file: corruptModelFile('v2') });
    expect(models.configure(bad)).toEqual(new Set([KEY])); // 1 → 0 (the prior)
    expect(models.forRule(ruleOf(bad))).toBeUndefined();
    expect(models.configure(table({ version: 2, file: corruptModelFile('v2') }))).toEqual(
      new Set(),
    );
    expect(refused).toEqual([`${KEY}@2`]);
    // Rolled back to the prior (no model pushed): unchanged, still 0.
    expect(models.configure(table())).toEqual(new Set());
  });
});
