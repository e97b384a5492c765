// An embeddings batch is embedded input by input: each input must fit the
// model's context window, not their sum. 64 inputs of 2,500 tokens were once
// refused by an 8k model as one 160,000-token prompt.
import type { PromptInfo } from '../prompt/extract.js';
import { promptTokensFact } from '../prompt/count-plan.js';
import { estimatePromptTokens, promptTokensAtMost } from '../prompt/tokens.js';
import type { PreparedTable } from '../../routing/prepared-table.js';
import type { OpenAIRequestBody } from '../../providers/types.js';

/** One PromptInfo per input of an embeddings body (a string, strings, token ids or lists of them). */
export function embeddingInputs(body: OpenAIRequestBody): PromptInfo[] {
  const input = body.input;
  const one = (item: unknown): PromptInfo | undefined => {
    const base = { messageCount: 0, imageCount: 0, impliedCapabilities: [] };
    if (typeof item === 'string') return { ...base, text: item };
    if (Array.isArray(item) && item.every((x) => typeof x === 'number'))
      return { ...base, text: '', tokenIdCount: item.length };
    return undefined;
  };
  const whole = one(input);
  if (whole) return [whole];
  if (!Array.isArray(input)) return [];
  return input.map(one).filter((x): x is PromptInfo => x !== undefined);
}

/** What must fit one context window: the largest input's tokens, and a cheap bound on it. */
export function largestInput(
  inputs: readonly PromptInfo[],
  counters: readonly (() => number)[] = inputs.map((info) => () => estimatePromptTokens(info)),
): {
  tokens: () => number;
  atMost: number;
} {
  const bounds = inputs.map(promptTokensAtMost);
  return {
    atMost: Math.max(0, ...bounds),
    tokens: () => {
      let largest = 0;
      bounds.forEach((bound, i) => {
        // The tokenizer only for inputs whose bound could beat the largest so far.
        if (bound > largest) largest = Math.max(largest, counters[i]?.() ?? 0);
      });
      return largest;
    },
  };
}

/**
 * largestInput for the request path: big inputs are counted before routing,
 * in steps that leave the event loop free (as a chat prompt is), small ones
 * inline on first use.
 */
export async function largestInputFact(
  inputs: readonly PromptInfo[],
  prepared: PreparedTable,
): Promise<ReturnType<typeof largestInput>> {
  const counters: (() => number)[] = [];
  for (const info of inputs)
    counters.push(await promptTokensFact(info, prepared, undefined, 'context-window'));
  return largestInput(inputs, counters);
}
