// Per-request selection: (table, request facts, live state, rng) -> the
// ordered list of backends to attempt. Pure: every input is passed in.
import { priorityCeilings } from '../api/v1alpha1/index.js';
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
import type { CompiledBackend, CompiledRule } from './table.js';

export type SkipReason =
  | 'Drained'
  | 'ComplianceUnmet'
  | 'CapabilityMissing'
  | 'ContextWindowTooSmall'
  | 'OverBudget'
  | 'Unavailable'
  /** At this proxy's share of one of its limits (rpm, tpm, concurrency). */
  | 'AtLimit'
  /** Near its limits or over its latency objective: kept for higher priority classes. */
  | 'Scarce'
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

/** Reasons that are capacity held back on purpose: waiting a moment fixes them. */
const SHED_REASONS: ReadonlySet<SkipReason> = new Set(['AtLimit', 'Scarce']);

/**
 * A shed request may try again this soon: limits' windows slide in 1 s
 * steps, so a second is when a slot or some headroom can first come back,
 * and a refusal costs no upstream call.
 */
export const SHED_RETRY_AFTER_SECONDS = 1;

export interface RoutingError {
  code: 'RouteNotFound' | 'NoEligibleBackend';
  /**
   * request: the request cannot be served as asked (400); capacity: nothing
   * usable now (503); shed: every usable backend is at its limits or kept for
   * higher priorities (429 with Retry-After).
   */
  cause: 'request' | 'capacity' | 'shed';
  message: string;
  /** cause shed: when to try again. */
  retryAfterSeconds?: number;
}

export type RoutingDecision =
  | {
      ok: true;
      routeId: string;
      ruleName: string | undefined;
      /** The compiled rule that decided (undefined when the route had none that matched). */
      rule: CompiledRule | undefined;
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
    if (!this.live.available(backend.id, facts.priority)) return this.whyUnavailable(backend);
    return undefined;
  }

  /**
   * The live view only answers yes or no, so the reason is told apart from
   * the load. Below 1 no share is full: asking again without the class tells
   * a priority ceiling (yes) from an open circuit (no). At 1 or more it is not
   * asked again, since every refusal by a full share is counted as refused
   * for the controller and must be counted once: a limit's share, unless the
   * load is the latency objective's, which only moves lower classes.
   */
  private whyUnavailable(backend: CompiledBackend): [SkipReason, string] {
    const { priority } = this.facts;
    const load = this.live.load?.(backend.id) ?? 0;
    const objective = backend.limits.latencyObjectiveMs;
    const latency = this.live.latencyMs(backend.id);
    const byLatency =
      objective !== undefined && latency !== undefined && latency / objective >= load;
    const ceiling = priority === undefined ? undefined : priorityCeiling(backend, priority);
    const scarce = (): [SkipReason, string] => [
      'Scarce',
      byLatency
        ? `recent latency ${Math.round(latency ?? 0)} ms is ${load.toFixed(2)} of its objective of ${objective ?? 0} ms, past the ${priority ?? ''}-priority ceiling of ${ceiling ?? ''}; the rest is kept for higher priorities`
        : `load ${load.toFixed(2)} reached the ${priority ?? ''}-priority ceiling of ${ceiling ?? ''}; the rest is kept for higher priorities`,
    ];
    if (load < 1)
      return priority !== undefined && this.live.available(backend.id)
        ? scarce()
        : ['Unavailable', 'circuit open'];
    if (byLatency && ceiling !== undefined) return scarce();
    return [
      'AtLimit',
      `at this proxy's share of its rpm, tpm or concurrency limit (load ${load.toFixed(2)})`,
    ];
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
    const learned = this.facts.learnedDifficulty;
    if (learned && rule.source.learning) ctx.difficulty = () => learned(rule.source);
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

const DEFAULT_CEILINGS = priorityCeilings.parse({});

/** The class's ceiling on the backend's load; undefined for high (or unknown) classes. */
function priorityCeiling(backend: CompiledBackend, priority: string): number | undefined {
  const ceilings = backend.limits.priorityCeilings ?? DEFAULT_CEILINGS;
  return priority === 'low' || priority === 'normal' ? ceilings[priority] : undefined;
}

/**
 * Request reasons only: 400. Some backend held back for capacity (a limit's
 * share or a priority ceiling) and the others for that or the request: shed
 * with 429, since the same request succeeds once load falls. Anything else
 * (open circuits, drained rules): 503.
 */
function noEligibleBackend(routeId: string, skipped: SkippedBackend[]): RoutingError {
  const details = skipped.map((s) => `${s.backendId} (${s.reason}: ${s.detail})`).join('; ');
  const nothingServes = `no backend of route ${routeId} can serve this request`;
  if (skipped.length > 0 && skipped.every((s) => REQUEST_REASONS.has(s.reason)))
    return { code: 'NoEligibleBackend', cause: 'request', message: `${nothingServes}: ${details}` };
  const shed =
    skipped.some((s) => SHED_REASONS.has(s.reason)) &&
    skipped.every(
      (s) => SHED_REASONS.has(s.reason) || REQUEST_REASONS.has(s.reason) || s.reason === 'Drained',
    );
  if (shed)
    return {
      code: 'NoEligibleBackend',
      cause: 'shed',
      message: `route ${routeId} is at capacity for this request: ${details}; retry in ${SHED_RETRY_AFTER_SECONDS} s`,
      retryAfterSeconds: SHED_RETRY_AFTER_SECONDS,
    };
  return {
    code: 'NoEligibleBackend',
    cause: 'capacity',
    message: `${nothingServes}${details ? `: ${details}` : ': it has no backends'}`,
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
  const rule = firstMatchingRule(route, facts, selection.live);
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
    const fallbackRule = firstMatchingRule(fallbackRoute, facts, selection.live);
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
    rule: rule?.source,
    attempts,
    skipped: selection.skipped,
    panic,
  };
  if (selection.costQuality) decision.costQuality = selection.costQuality;
  if (selection.strongShareRule) decision.strongShareRule = selection.strongShareRule;
  return decision;
}
