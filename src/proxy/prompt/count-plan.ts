// Counts a big prompt's tokens before routing, in steps that leave the event
// loop free between them, so no other request (nor /healthz) waits on it; and
// only as far as the table can use. Small prompts are counted inline and only
// if routing asks (an 8 KiB prompt costs at most ~10 ms to count, most far less).
import type { PreparedTable } from '../../routing/prepared-table.js';
import { memo } from '../../routing/facts.js';
import type { PromptInfo } from './extract.js';
import { tableNeedsTokenCounts } from './tokenizer-warmup.js';
import {
  estimatePromptTokens,
  estimatePromptTokensCooperatively,
  promptTokensAtMost,
  type YieldToLoop,
} from './tokens.js';

/** Prompts whose cheap upper bound is above this many tokens are counted cooperatively. */
export const INLINE_COUNT_MAX = 8 * 1024;

export interface TokenCountPlan {
  /** Some rule or budget may ask for a count whatever the prompt's size. */
  alwaysMayCount: boolean;
  /** The smallest context window in the table: bigger prompts may need a count. */
  smallestWindow: number;
  /**
   * Counting can stop above this: past every finite context window and every
   * promptTokens bound, a bigger count changes no decision (every windowed
   * backend refuses, every rule compares the same). Infinity when a budget or
   * the least-cost strategy prices the prompt, which needs the whole count.
   */
  stopAbove: number;
}

const plans = new WeakMap<PreparedTable, TokenCountPlan>();

export function tokenCountPlan(prepared: PreparedTable): TokenCountPlan {
  let plan = plans.get(prepared);
  if (plan) return plan;
  let smallestWindow = Infinity;
  let largest = 0;
  for (const backend of prepared.backendById.values()) {
    if (backend.contextWindow === undefined) continue;
    smallestWindow = Math.min(smallestWindow, backend.contextWindow);
    largest = Math.max(largest, backend.contextWindow);
  }
  let pricesPrompt = false;
  for (const route of prepared.routeById.values()) {
    if (route.source.budget.maxCostPerRequestUsd !== undefined) pricesPrompt = true;
    for (const rule of route.rules) {
      if (rule.source.strategy === 'least-cost') pricesPrompt = true;
      for (const m of rule.source.matches)
        largest = Math.max(largest, m.promptTokens?.min ?? 0, m.promptTokens?.max ?? 0);
    }
  }
  plan = {
    alwaysMayCount: pricesPrompt || tableNeedsTokenCounts(prepared),
    smallestWindow,
    stopAbove: pricesPrompt ? Infinity : largest,
  };
  plans.set(prepared, plan);
  return plan;
}

/**
 * What a count is for, so a text is counted ahead only for questions the
 * table may ask of it. `prompt`: everything (a chat or completion prompt).
 * An embeddings batch splits the questions: `batch` (the whole input) answers
 * prices and promptTokens rules, `context-window` (each input) the windows.
 */
export type CountUse = 'prompt' | 'batch' | 'context-window';

/**
 * The prompt-size fact for routing: counted now, cooperatively, when the
 * prompt is big and the table may need its size for `use`; otherwise counted
 * inline on first use (or never).
 */
export async function promptTokensFact(
  prompt: PromptInfo,
  prepared: PreparedTable,
  yieldToLoop?: YieldToLoop,
  use: CountUse = 'prompt',
): Promise<() => number> {
  const atMost = promptTokensAtMost(prompt);
  const plan = tokenCountPlan(prepared);
  const forRules = use !== 'context-window' && plan.alwaysMayCount;
  const forWindows = use !== 'batch' && atMost > plan.smallestWindow;
  if (atMost <= INLINE_COUNT_MAX || !(forRules || forWindows))
    return memo(() => estimatePromptTokens(prompt));
  const counted = await estimatePromptTokensCooperatively(prompt, {
    stopAbove: plan.stopAbove,
    ...(yieldToLoop ? { yieldToLoop } : {}),
  });
  return () => counted;
}
