// The difficulty models the controller pushes for learning rules (issue 17),
// validated once per file (difficultyModelFromJson: format, feature set,
// shapes, checksum) and kept across table pushes while the file is the same.
// A refused file is reported once and the rule scores with the proxy's own
// model (version 0), so a bad push never fails a request.
import {
  DifficultyModelError,
  difficultyModelFromJson,
  type DifficultyModelFileV2,
} from '../../routing/difficulty/learned/index.js';
import { ruleKey, type CompiledRule, type RoutingTable } from '../../routing/table.js';
import type { FeatureScorer } from '../difficulty-router.js';

export interface RuleModel {
  version: number;
  scoreFeatures: FeatureScorer;
}

interface Loaded {
  version: number;
  checksum: string;
  /** Undefined: the file was refused. */
  model: RuleModel | undefined;
}

export interface RuleModelsOptions {
  onRefused: (ruleKey: string, version: number, error: string) => void;
}

export class RuleModels {
  private byKey = new Map<string, Loaded>();
  /** By the table's own rule objects: the hot path looks up without building a key. */
  private byRule = new Map<CompiledRule, RuleModel>();

  constructor(private readonly options: RuleModelsOptions) {}

  /**
   * Follows a newly installed table; returns the keys of learning rules whose
   * model in use changed (their score scale changed with it).
   */
  configure(table: RoutingTable): Set<string> {
    const changed = new Set<string>();
    const byKey = new Map<string, Loaded>();
    const byRule = new Map<CompiledRule, RuleModel>();
    for (const route of table.routes) {
      for (const rule of route.rules) {
        const pushed = rule.learning?.model;
        if (rule.learning === undefined) continue;
        const key = ruleKey(route.id, rule.name);
        const before = this.byKey.get(key);
        let loaded: Loaded | undefined;
        if (pushed !== undefined) {
          loaded =
            before?.version === pushed.version && before.checksum === pushed.file.checksum
              ? before
              : this.load(key, pushed.version, pushed.file);
          byKey.set(key, loaded);
          if (loaded.model) byRule.set(rule, loaded.model);
        }
        if ((before?.model?.version ?? 0) !== (loaded?.model?.version ?? 0)) changed.add(key);
      }
    }
    this.byKey = byKey;
    this.byRule = byRule;
    return changed;
  }

  /** The rule's own model, or undefined: score with the proxy's (version 0). */
  forRule(rule: CompiledRule): RuleModel | undefined {
    return this.byRule.get(rule);
  }

  private load(key: string, version: number, file: DifficultyModelFileV2): Loaded {
    const { checksum } = file;
    try {
      const model = difficultyModelFromJson(file, `rule ${key} model version ${version}`);
      if (model.scoreFeatures === undefined)
        throw new DifficultyModelError(
          `rule ${key} model version ${version}: not a format-2 model`,
        );
      return { version, checksum, model: { version, scoreFeatures: model.scoreFeatures } };
    } catch (err) {
      if (!(err instanceof DifficultyModelError)) throw err;
      this.options.onRefused(key, version, err.message);
      return { version, checksum, model: undefined };
    }
  }
}
