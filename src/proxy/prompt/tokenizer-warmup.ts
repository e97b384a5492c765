// Decides whether a routing table makes the tokenizer worth loading as soon as
// the table arrives. Loading costs ~110 ms and ~65 MB RSS: paid once at table
// load when counts are wanted routinely, or on the rare request that needs
// them otherwise (a prompt too big for the cheap upper bound to settle its
// context window or budget check, which is slow to count anyway).
import type { PreparedTable } from '../../routing/prepared-table.js';
import { tokenizerLoaded, warmTokenizer } from './tokens.js';

/**
 * True when some rule may need a token count for any prompt, however small:
 * a `promptTokens` match, or the least-cost strategy (it ranks by estimated
 * cost, which the upper bound cannot stand in for).
 */
export function tableNeedsTokenCounts(prepared: PreparedTable): boolean {
  for (const route of prepared.routeById.values()) {
    for (const rule of route.rules) {
      if (rule.needsPromptTokens || rule.source.strategy === 'least-cost') return true;
    }
  }
  return false;
}

/** Loads the tokenizer now if the table will want it routinely; returns whether it did. */
export function warmTokenizerFor(prepared: PreparedTable): boolean {
  if (tokenizerLoaded() || !tableNeedsTokenCounts(prepared)) return false;
  warmTokenizer();
  return true;
}
