// Per-request selection: (table, request facts, live state, rng) -> the
// ordered list of backends to attempt. Pure: every input is passed in.
import { costUsd, expectedOutputTokens } from './cost.js';
import type { RequestFacts } from './facts.js';
import { NO_LIVE_STATE, type BackendLiveView } from './live-state.js';
import { firstMatchingRule } from './match.js';
import type { PreparedRoute, PreparedRule, PreparedTable } from './prepared-table.js';
import {
  TIER_ORDERS,
  costQualityOrder,
  type Candidate,
  type CostQualityChoice,
  type StrategyContext,
} from './strategies/index.js';
import type { CompiledBackend } from './table.js';

export type SkipReason =
  | 'Drained'
  | 'ComplianceUnmet'
  | 'CapabilityMissing'
  | 'ContextWindowTooSmall'
  | 'OverBudget'
  | 'Unavailable'
  | 'Unhealthy';

/** Reasons that lie in the request itself: no amount of waiting fixes them. */
const REQUEST_REASONS: ReadonlySet<SkipReason> = new Set([
  'ComplianceUnmet',
  'CapabilityMissing',
  'ContextWindowTooSmall',
  'OverBudget',
]);

export interface Attempt {
  backend: CompiledBackend;
  /** The route whose rule or fallback put this backend in the list. */
  routeId: string;
  ruleName: string | undefined;
  source: 'rule' | 'fallback' | 'fallback-route';
  priority: number;
}

export interface SkippedBackend {
  backendId: string;
  reason: SkipReason;
  detail: string;
}

export interface RoutingError {
  code: 'RouteNotFound' | 'NoEligibleBackend';
  /** request: the request cannot be served as asked (400); capacity: nothing usable now (503). */
  cause: 'request' | 'capacity';
  message: string;
}

export type RoutingDecision =
  | {
      ok: true;
      routeId: string;
      ruleName: string | undefined;
      attempts: Attempt[];
      skipped: SkippedBackend[];
      /** No healthy backend was left, so backends marked Unhealthy are tried anyway. */
      panic: boolean;
      costQuality?: CostQualityChoice;
      /**
       * Set when `costQuality` came from a strongShare rule decided with a
       * live threshold: the caller records the outcome against it.
       */
      strongShareRule?: { routeId: string; ruleName: string };
    }
  | { ok: false; error: RoutingError; skipped: SkippedBackend[] };

export interface SelectOptions {
  /** Uniform random number in [0, 1). */
  rng: () => number;
  live?: BackendLiveView;
  /**
   * The threshold a strongShare rule uses for this request (the proxy's live
   * calibration), or undefined to use the table's. Read once per rule.
   */
  strongShareThreshold?: (routeId: string, ruleName: string) => number | undefined;
}

/** How many fallback routes may chain; compile already refuses cycles. */
const MAX_FALLBACK_DEPTH = 4;

class Selection {
  readonly attempts: Attempt[] = [];
  readonly skipped: SkippedBackend[] = [];
  /** Usable but for their Unhealthy mark: the panic pool. */
  readonly unhealthy: Attempt[] = [];
  costQuality: CostQualityChoice | undefined;
  strongShareRule: { routeId: string; ruleName: string } | undefined;
  private readonly seen = new Set<string>();

  constructor(
    readonly facts: RequestFacts,
    readonly rng: () => number,
    readonly live: BackendLiveView,
    readonly strongShareThreshold: SelectOptions['strongShareThreshold'],
  ) {}

  estimatedCostUsd(backend: CompiledBackend): number {
    return this.costWithPrompt(backend, this.facts.promptTokens());
  }

  private costWithPrompt(backend: CompiledBackend, promptTokens: number): number {
    return costUsd(backend.pricing, {
      input: promptTokens,
      output: expectedOutputTokens(backend, this.facts.maxOutputTokens),
    });
  }

  /** The estimated cost if it exceeds the budget, else undefined. */
  private costOverBudget(backend: CompiledBackend, budget: number): number | undefined {
    // Prices are never negative, so cost grows with the prompt: when even the
    // cheap upper bound fits the budget, the real count does too, and the
    // tokenizer is spared.
    const atMost = this.facts.promptTokensAtMost;
    if (atMost !== undefined && this.costWithPrompt(backend, atMost) <= budget) return undefined;
    const cost = this.estimatedCostUsd(backend);
    return cost > budget ? cost : undefined;
  }

  /** Why a backend cannot take this request, or undefined if it can. */
  private ineligible(
    backend: CompiledBackend,
    route: PreparedRoute,
  ): [SkipReason, string] | undefined {
    const { facts } = this;
    const missingTag = facts.compliance.find((t) => !backend.compliance.includes(t));
    if (missingTag !== undefined)
      return ['ComplianceUnmet', `not approved for compliance tag "${missingTag}"`];
    const missingCap = facts.capabilities.find((c) => !backend.capabilities.includes(c));
    if (missingCap !== undefined) return ['CapabilityMissing', `lacks capability "${missingCap}"`];
    if (backend.contextWindow !== undefined) {
      const output = facts.maxOutputTokens ?? 0;
      // What must fit one window: the prompt, or an embeddings batch's largest input.
      const contextTokens = facts.contextTokens;
      const [count, atMost] = contextTokens
        ? [contextTokens, facts.contextTokensAtMost]
        : [() => facts.promptTokens(), facts.promptTokensAtMost];
      // The upper bound spares the tokenizer when a prompt plainly fits.
      const surelyFits = atMost !== undefined && atMost + output <= backend.contextWindow;
      const needed = surelyFits ? 0 : count() + output;
      if (needed > backend.contextWindow) {
        return [
          'ContextWindowTooSmall',
          `needs ${needed} tokens, context window is ${backend.contextWindow}`,
        ];
      }
    }
    const budget = route.source.budget.maxCostPerRequestUsd;
    if (budget !== undefined) {
      const cost = this.costOverBudget(backend, budget);
      if (cost !== undefined)
        return ['OverBudget', `estimated $${cost.toFixed(6)} exceeds the $${budget} budget`];
    }
    if (!this.live.available(backend.id))
      return ['Unavailable', 'circuit open or local limit reached'];
    return undefined;
  }

  private skip(backendId: string, reason: SkipReason, detail: string): void {
    if (!this.skipped.some((s) => s.backendId === backendId))
      this.skipped.push({ backendId, reason, detail });
  }

  /**
   * Checks each candidate once, lets `order` rank the usable ones, and files
   * them as attempts (or, when marked Unhealthy, in the panic pool).
   */
  private admit(
    candidates: readonly Candidate[],
    route: PreparedRoute,
    ruleName: string | undefined,
    source: Attempt['source'],
    order: (usable: Candidate[]) => Candidate[],
  ): void {
    const usable: Candidate[] = [];
    for (const c of candidates) {
      if (this.seen.has(c.backend.id)) continue;
      this.seen.add(c.backend.id);
      const reason = this.ineligible(c.backend, route);
      if (reason) this.skip(c.backend.id, ...reason);
      else usable.push(c);
    }
    if (usable.length === 0) return;
    for (const c of order(usable)) {
      const attempt: Attempt = {
        backend: c.backend,
        routeId: route.source.id,
        ruleName,
        source,
        priority: c.priority,
      };
      if (c.backend.health === 'Unhealthy') {
        this.skip(c.backend.id, 'Unhealthy', 'marked Unhealthy by health checks');
        this.unhealthy.push(attempt);
      } else {
        this.attempts.push(attempt);
      }
    }
  }

  addRule(
    route: PreparedRoute,
    rule: PreparedRule,
    backendById: ReadonlyMap<string, CompiledBackend>,
    source: Attempt['source'],
  ): void {
    const candidates: Candidate[] = [];
    rule.source.backends.forEach((ref, index) => {
      const backend = backendById.get(ref.backendId);
      if (!backend) return;
      if (ref.weight === 0) this.skip(backend.id, 'Drained', 'weight is 0');
      else candidates.push({ backend, weight: ref.weight, priority: ref.priority, index });
    });
    const liveThreshold =
      rule.source.strongShare === undefined
        ? undefined
        : this.strongShareThreshold?.(route.source.id, rule.source.name);
    const ctx: StrategyContext = {
      rng: this.rng,
      live: this.live,
      facts: this.facts,
      estimatedCostUsd: (b) => this.estimatedCostUsd(b),
      threshold: liveThreshold ?? rule.source.threshold,
    };
    const { strategy } = rule.source;
    const tiers = [...new Set(candidates.map((c) => c.priority))].sort((a, b) => a - b);
    for (const tierPriority of tiers) {
      const tier = candidates.filter((c) => c.priority === tierPriority);
      this.admit(tier, route, rule.source.name, source, (usable) => {
        if (strategy !== 'cost-quality') return TIER_ORDERS[strategy](usable, ctx);
        const { order, choice } = costQualityOrder(usable, ctx);
        if (this.costQuality === undefined) {
          this.costQuality = choice;
          if (liveThreshold !== undefined)
            this.strongShareRule = { routeId: route.source.id, ruleName: rule.source.name };
        }
        return order;
      });
    }
  }

  addFallbackBackends(
    route: PreparedRoute,
    backendById: ReadonlyMap<string, CompiledBackend>,
  ): void {
    const candidates = route.source.fallback.backendIds.flatMap((id, index) => {
      const backend = backendById.get(id);
      return backend ? [{ backend, weight: 1, priority: 0, index }] : [];
    });
    this.admit(candidates, route, undefined, 'fallback', (usable) => usable);
  }
}

function noEligibleBackend(routeId: string, skipped: SkippedBackend[]): RoutingError {
  const cause =
    skipped.length > 0 && skipped.every((s) => REQUEST_REASONS.has(s.reason))
      ? 'request'
      : 'capacity';
  const details = skipped.map((s) => `${s.backendId} (${s.reason}: ${s.detail})`).join('; ');
  return {
    code: 'NoEligibleBackend',
    cause,
    message: `no backend of route ${routeId} can serve this request${details ? `: ${details}` : ': it has no backends'}`,
  };
}

export function selectBackends(
  prepared: PreparedTable,
  facts: RequestFacts,
  options: SelectOptions,
): RoutingDecision {
  const route = prepared.routeByModel.get(facts.model);
  if (!route) {
    return {
      ok: false,
      skipped: [],
      error: {
        code: 'RouteNotFound',
        cause: 'request',
        message: `the model "${facts.model}" does not exist: no ModelRoute serves it here (GET /v1/models lists the models this proxy serves)`,
      },
    };
  }
  const selection = new Selection(
    facts,
    options.rng,
    options.live ?? NO_LIVE_STATE,
    options.strongShareThreshold,
  );
  const rule = firstMatchingRule(route, facts);
  if (rule) selection.addRule(route, rule, prepared.backendById, 'rule');
  selection.addFallbackBackends(route, prepared.backendById);

  const visited = new Set([route.source.id]);
  let next = route.source.fallback.routeId;
  for (
    let depth = 0;
    next !== undefined && depth < MAX_FALLBACK_DEPTH && !visited.has(next);
    depth++
  ) {
    visited.add(next);
    const fallbackRoute = prepared.routeById.get(next);
    if (!fallbackRoute) break;
    const fallbackRule = firstMatchingRule(fallbackRoute, facts);
    if (fallbackRule)
      selection.addRule(fallbackRoute, fallbackRule, prepared.backendById, 'fallback-route');
    selection.addFallbackBackends(fallbackRoute, prepared.backendById);
    next = fallbackRoute.source.fallback.routeId;
  }

  const panic = selection.attempts.length === 0 && selection.unhealthy.length > 0;
  const attempts = panic ? selection.unhealthy : selection.attempts;
  if (attempts.length === 0) {
    return {
      ok: false,
      skipped: selection.skipped,
      error: noEligibleBackend(route.source.id, selection.skipped),
    };
  }
  const decision: RoutingDecision = {
    ok: true,
    routeId: route.source.id,
    ruleName: rule?.source.name,
    attempts,
    skipped: selection.skipped,
    panic,
  };
  if (selection.costQuality) decision.costQuality = selection.costQuality;
  if (selection.strongShareRule) decision.strongShareRule = selection.strongShareRule;
  return decision;
}
