// Condition bookkeeping by the Kubernetes conventions: one entry per type,
// lastTransitionTime moves only when the status value changes.
import type { Condition } from '../../api/v1alpha1/index.js';

export interface ConditionInput {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** metav1.Time: RFC 3339 with whole seconds. */
export function kubeTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Returns the new conditions list, in the order of `next`, keeping each
 * condition's lastTransitionTime when its status did not change.
 */
export function mergeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  observedGeneration: number | undefined,
  nowMs: number,
): Condition[] {
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    const lastTransitionTime =
      old && old.status === c.status ? old.lastTransitionTime : kubeTime(nowMs);
    const condition: Condition = { ...c, lastTransitionTime };
    if (observedGeneration !== undefined) condition.observedGeneration = observedGeneration;
    return condition;
  });
}

export function conditionOf(
  conditions: readonly Condition[] | undefined,
  type: string,
): Condition | undefined {
  return conditions?.find((c) => c.type === type);
}
