// The learners the controller runs for rules with costQuality.learning.
// (Placeholder until src/learning's RuleLearner lands: it keeps labels and
// never promotes.)
import type { LabelledVector } from '../learning/wire.js';
import type { LearnerFactory, RuleLearnerPort } from './rule-learning-record.js';

class CountingLearner implements RuleLearnerPort {
  private total = 0;
  add(labels: readonly LabelledVector[]): void {
    this.total += labels.length;
  }
  due(): boolean {
    return false;
  }
  retrain(): never {
    throw new Error('no learner');
  }
  champion(): undefined {
    return undefined;
  }
  version(): undefined {
    return undefined;
  }
  summary() {
    return { labels: this.total, labelsTotal: this.total, promotions: 0, latestVersion: 0 };
  }
  toState(): unknown {
    return { total: this.total };
  }
}

export function defaultLearnerFactory(): LearnerFactory {
  return { create: () => new CountingLearner(), restore: () => new CountingLearner() };
}
