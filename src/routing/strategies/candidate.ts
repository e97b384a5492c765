// What every strategy works with: the eligible backends of one priority tier.
import type { RequestFacts } from '../facts.js';
import type { BackendLiveView } from '../live-state.js';
import type { CompiledBackend } from '../table.js';

export interface Candidate {
  backend: CompiledBackend;
  weight: number;
  priority: number;
  /** Position in the rule's backendRefs: the tie-breaker that keeps orders stable. */
  index: number;
}

export interface StrategyContext {
  /** Uniform random number in [0, 1). */
  rng: () => number;
  live: BackendLiveView;
  facts: RequestFacts;
  /** Estimated USD cost of this request on a backend. */
  estimatedCostUsd(backend: CompiledBackend): number;
  /** cost-quality: the rule's difficulty threshold, if it has one. */
  threshold?: number | undefined;
  /** cost-quality: the rule's own difficulty (a learning rule's model), instead of facts.difficulty(). */
  difficulty?: (() => number) | undefined;
}

/** Orders a tier's candidates: the first is tried first, the rest are alternates. */
export type TierOrder = (tier: readonly Candidate[], ctx: StrategyContext) => Candidate[];

/** Sorts by a numeric key (ascending), keeping declaration order among equals. */
export function sortByKey(tier: readonly Candidate[], key: (c: Candidate) => number): Candidate[] {
  return tier
    .map((c) => ({ c, k: key(c) }))
    .sort((a, b) => a.k - b.k || a.c.index - b.c.index)
    .map((e) => e.c);
}
