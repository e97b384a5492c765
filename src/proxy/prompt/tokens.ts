// Prompt token counts with a real BPE tokenizer (o200k_base, the encoding of
// GPT-4o, GPT-4.1, GPT-5 and the o-series), for routing and local TPM limits.
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import type { PromptInfo } from './extract.js';

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
  return text.length === 0 ? 0 : countTokens(text, PLAIN_TEXT);
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
