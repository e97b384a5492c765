// Prompt token counts with a real BPE tokenizer (o200k_base, the encoding of
// GPT-4o, GPT-4.1, GPT-5 and the o-series), for routing and local TPM limits.
import { createRequire } from 'node:module';
import type * as O200kBase from 'gpt-tokenizer/encoding/o200k_base';
import type { PromptInfo } from './extract.js';

let encoding: typeof O200kBase | undefined;

/**
 * The encoding, loaded on first use: its rank table costs ~110 ms to load and
 * ~15 MB of heap (~65 MB RSS), and most requests never need a count (see
 * `promptTokensAtMost`). Loading is synchronous (the library's CommonJS
 * build) so counting stays a plain function call for the routing core.
 */
function o200kBase(): typeof O200kBase {
  encoding ??= createRequire(import.meta.url)(
    'gpt-tokenizer/encoding/o200k_base',
  ) as typeof O200kBase;
  return encoding;
}

/** Whether the encoding has been loaded yet (by a count or by `warmTokenizer`). */
export function tokenizerLoaded(): boolean {
  return encoding !== undefined;
}

/** Loads the encoding and builds its tables now (~115 ms), so no request waits for it. */
export function warmTokenizer(): void {
  countTextTokens('warm up the tokenizer');
}

/**
 * Special-token text such as `<|endoftext|>` in a user's prompt is counted as
 * ordinary text (as providers treat user content) instead of throwing, which
 * is the library's default.
 */
const PLAIN_TEXT = { disallowedSpecial: new Set<string>() };

/** Tokens a chat message's framing costs (role, separators), per OpenAI's counting guide. */
export const TOKENS_PER_MESSAGE = 3;
/** Tokens that prime the assistant's reply. */
export const TOKENS_REPLY_PRIMING = 3;
/** OpenAI's cost of a low-detail image; high-detail images cost more (85 + 170 per 512 px tile). */
export const TOKENS_PER_IMAGE = 85;

export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : o200kBase().countTokens(text, PLAIN_TEXT);
}

/**
 * An estimate of the prompt tokens a provider will bill:
 * text tokens + 3 per message + 3 + 85 per image, plus the tool definitions'
 * JSON and any pre-tokenized input.
 *
 * It is approximate: other models' tokenizers (Anthropic, open models) differ
 * by some percent; images are priced as low detail, so high-detail images are
 * undercounted; tool definitions are counted as their JSON, not the provider's
 * internal rendering; and message texts are joined with newlines rather than
 * framed exactly as the provider frames them.
 */
export function estimatePromptTokens(info: PromptInfo): number {
  return (
    countTextTokens(info.text) +
    TOKENS_PER_MESSAGE * info.messageCount +
    TOKENS_REPLY_PRIMING +
    TOKENS_PER_IMAGE * info.imageCount +
    (info.toolsText !== undefined ? countTextTokens(info.toolsText) : 0) +
    (info.tokenIdCount ?? 0)
  );
}

/**
 * A cheap bound that the real count never exceeds: every BPE token covers at
 * least one UTF-8 byte. Lets routing skip the tokenizer when a prompt plainly
 * fits every context window.
 */
export function promptTokensAtMost(info: PromptInfo): number {
  return (
    Buffer.byteLength(info.text) +
    TOKENS_PER_MESSAGE * info.messageCount +
    TOKENS_REPLY_PRIMING +
    TOKENS_PER_IMAGE * info.imageCount +
    (info.toolsText !== undefined ? Buffer.byteLength(info.toolsText) : 0) +
    (info.tokenIdCount ?? 0)
  );
}
