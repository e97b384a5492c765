// Prompt token counts with a real BPE tokenizer (o200k_base, the encoding of
// GPT-4o, GPT-4.1, GPT-5 and the o-series), for routing and local TPM limits.
import { createRequire } from 'node:module';
import type * as O200kBase from 'gpt-tokenizer/encoding/o200k_base';
import type * as SplitPatterns from 'gpt-tokenizer/encodingParams/constants';
import type { PromptInfo } from './extract.js';

let encoding: typeof O200kBase | undefined;
let preTokenPattern: RegExp | undefined;

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

/** The encoding's own pre-tokenizer (the regex that splits text into words, numbers, runs). */
function o200kPreTokens(): RegExp {
  preTokenPattern ??= (
    createRequire(import.meta.url)('gpt-tokenizer/encodingParams/constants') as typeof SplitPatterns
  ).O200K_TOKEN_SPLIT_REGEX;
  return preTokenPattern;
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

/**
 * Pre-tokens (runs the encoding's regex keeps whole) longer than this many
 * UTF-16 code units are counted in pieces of at most MAX_PIECE_BYTES. The
 * library's BPE merge is quadratic in a pre-token's UTF-8 length (it rescans
 * and splices the whole piece per merge): "a" * 300000 is one pre-token and
 * took 36 s; 20,000 CJK characters in one run took 4 s. Bounded pieces bound
 * the work per byte, so counting is linear in the text. Ordinary prose and
 * code never have such runs (words, numbers of up to 3 digits and punctuation
 * runs are short), so their counts stay exact.
 */
export const MAX_PIECE_UNITS = 32;
/** UTF-8 bytes per piece of an over-long pre-token (a CJK character is 3, an emoji 4). */
export const MAX_PIECE_BYTES = 32;
/**
 * Whitespace runs get longer pieces: o200k has tokens for long runs of spaces,
 * and cutting at 32 would multiply a long indent's count. Whitespace merges are
 * few, so 256 stays cheap.
 */
export const MAX_WHITESPACE_PIECE_UNITS = 256;
/** Text handed to the tokenizer per step of a count; a cooperative count yields between steps. */
export const STEP_UNITS = 4_096;

/** A BPE counter for a piece of text (the library's, or a test's probe around it). */
export type PieceCounter = (piece: string) => number;

function isWhitespace(code: number): boolean {
  return (
    code === 32 || (code >= 9 && code <= 13) || (code > 127 && /\s/.test(String.fromCharCode(code)))
  );
}

/** Where the piece of an over-long pre-token that starts at `at` ends: between code points. */
function pieceEnd(text: string, at: number, end: number, whitespace: boolean): number {
  if (whitespace) return Math.min(end, at + MAX_WHITESPACE_PIECE_UNITS); // all ASCII
  let cut = at;
  let bytes = 0;
  while (cut < end) {
    const c = text.charCodeAt(cut);
    const high = c >= 0xd800 && c <= 0xdbff;
    const size = c < 0x80 ? 1 : c < 0x800 ? 2 : high ? 4 : 3;
    if (bytes + size > MAX_PIECE_BYTES && cut > at) break;
    bytes += size;
    cut += high ? 2 : 1;
  }
  return Math.min(cut, end);
}

/**
 * The pre-tokenizer runs over windows of about this many units, so one regex
 * call never scans an 8 MiB run in one go (that alone held the loop ~100 ms).
 */
export const WINDOW_UNITS = 16_384;

/**
 * Where the window starting at `start` ends: at a space that follows a
 * non-space in its second half (always a pre-token boundary, so ordinary
 * text is split exactly where the tokenizer splits it), else at the window's
 * length, between code points (inside a run with no spaces: one more cut).
 */
function windowEnd(text: string, start: number): number {
  const end = start + WINDOW_UNITS;
  if (end >= text.length) return text.length;
  for (let i = end; i > start + WINDOW_UNITS / 2; i--) {
    if (text.charCodeAt(i) === 32 && !isWhitespace(text.charCodeAt(i - 1))) return i;
  }
  const c = text.charCodeAt(end - 1);
  return c >= 0xd800 && c <= 0xdbff ? end + 1 : end;
}

/**
 * Counts `text` in steps, yielding after each ~STEP_UNITS handed to `count`
 * (a piece cut from an over-long pre-token is charged MAX_PIECE_BYTES units,
 * since its BPE costs by bytes). Runs of ordinary pre-tokens go to the
 * tokenizer together (so the count is the tokenizer's own); each over-long
 * pre-token goes in pieces of at most MAX_PIECE_BYTES (whitespace:
 * MAX_WHITESPACE_PIECE_UNITS), cut between code points.
 *
 * Error bound: exact when no pre-token exceeds the piece limit and every
 * WINDOW_UNITS of text hold a space. Otherwise each cut can change the count
 * by about one token (a merge across the cut is lost or a different merge
 * order follows); the tests hold it to at most one token per cut, and within
 * 2% + 1 of the exact count (measured: random letters +1%, CJK +0.2%, a run
 * of one letter exact).
 *
 * Stops as soon as the count exceeds `stopAbove`, returning the count so far
 * (more than `stopAbove`): callers that only compare with thresholds below it
 * need no more, and a hostile 8 MiB prompt is not counted to its end.
 */
export function* countTextTokenSteps(
  text: string,
  count: PieceCounter,
  stopAbove = Infinity,
): Generator<void, number> {
  let total = 0;
  let sinceYield = 0;
  for (let from = 0; from < text.length;) {
    const to = windowEnd(text, from);
    const window = text.slice(from, to);
    let pending = 0; // start of the window not yet counted
    const flush = (end: number, charge = end - pending): void => {
      if (end > pending) total += count(window.slice(pending, end));
      sinceYield += charge;
      pending = end;
    };
    for (const match of window.matchAll(o200kPreTokens())) {
      const preToken = match[0];
      const start = match.index;
      const end = start + preToken.length;
      // Whitespace only (a pre-token such as " aaaa" starts with a space but is letters).
      const whitespace =
        isWhitespace(preToken.charCodeAt(0)) &&
        isWhitespace(preToken.charCodeAt(preToken.length - 1));
      if (preToken.length > (whitespace ? MAX_WHITESPACE_PIECE_UNITS : MAX_PIECE_UNITS)) {
        flush(start);
        for (let at = start; at < end;) {
          const cut = pieceEnd(window, at, end, whitespace);
          flush(cut, Math.max(cut - at, MAX_PIECE_BYTES));
          at = cut;
          if (total > stopAbove) return total;
          if (sinceYield >= STEP_UNITS) {
            sinceYield = 0;
            yield;
          }
        }
      } else if (sinceYield + end - pending >= STEP_UNITS) {
        flush(end);
        if (total > stopAbove) return total;
      }
      if (sinceYield >= STEP_UNITS) {
        sinceYield = 0;
        yield;
      }
    }
    flush(window.length);
    from = to;
    if (total > stopAbove) return total;
    if (sinceYield >= STEP_UNITS) {
      sinceYield = 0;
      yield;
    }
  }
  return total;
}

function libraryCount(piece: string): number {
  return o200kBase().countTokens(piece, PLAIN_TEXT);
}

function runToEnd<T>(steps: Generator<void, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Yields to the event loop, so other requests and /healthz run between steps. */
export type YieldToLoop = () => Promise<void>;
const setImmediateYield: YieldToLoop = () => new Promise((resolve) => setImmediate(resolve));

async function runCooperatively<T>(
  steps: Generator<void, T>,
  yieldToLoop: YieldToLoop,
): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await yieldToLoop();
  }
}

/** o200k tokens of `text`, in time linear in its length (see `countTextTokenSteps` for the bound). */
export function countTextTokens(text: string): number {
  return text.length === 0 ? 0 : runToEnd(countTextTokenSteps(text, libraryCount));
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
  return runToEnd(estimateSteps(info, libraryCount));
}

export interface CooperativeCount {
  /** Stop counting once the estimate exceeds this (the result then exceeds it too). */
  stopAbove?: number;
  yieldToLoop?: YieldToLoop;
}

/**
 * `estimatePromptTokens` without holding the event loop for more than one
 * step (~4 Ki characters, a few ms) at a time: for prompts too big to count
 * inline. Same result, unless it stopped early above `stopAbove`.
 */
export function estimatePromptTokensCooperatively(
  info: PromptInfo,
  options: CooperativeCount = {},
): Promise<number> {
  return runCooperatively(
    estimateSteps(info, libraryCount, options.stopAbove),
    options.yieldToLoop ?? setImmediateYield,
  );
}

/** The estimate's steps; exported so tests can count the work with a probe. */
export function* estimateSteps(
  info: PromptInfo,
  count: PieceCounter,
  stopAbove = Infinity,
): Generator<void, number> {
  const text = info.text.length === 0 ? 0 : yield* countTextTokenSteps(info.text, count, stopAbove);
  const tools =
    info.toolsText === undefined || info.toolsText.length === 0 || text > stopAbove
      ? 0
      : yield* countTextTokenSteps(info.toolsText, count, stopAbove - text);
  return (
    text +
    TOKENS_PER_MESSAGE * info.messageCount +
    TOKENS_REPLY_PRIMING +
    TOKENS_PER_IMAGE * info.imageCount +
    tools +
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
