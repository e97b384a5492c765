// Cost estimates from a backend's price list.
import type { CompiledBackend } from './table.js';

/** Output tokens assumed for estimates when the client sets no max_tokens. */
export const DEFAULT_EXPECTED_OUTPUT_TOKENS = 256;

/** Anthropic bills a five-minute prompt-cache write at 1.25 times the base input price. */
export const ANTHROPIC_CACHE_WRITE_MULTIPLIER = 1.25;

export interface TokenCounts {
  /** All prompt tokens, cached and cache-written ones included. */
  input: number;
  output: number;
  /** Prompt tokens read from the provider's cache. */
  cachedInput?: number;
  /** Prompt tokens written to the provider's cache. */
  cacheWriteInput?: number;
}

export function costUsd(pricing: CompiledBackend['pricing'], tokens: TokenCounts): number {
  const cached = tokens.cachedInput ?? 0;
  const written = tokens.cacheWriteInput ?? 0;
  return (
    (Math.max(0, tokens.input - cached - written) * pricing.inputPerMillion +
      cached * pricing.cachedInputPerMillion +
      written * (pricing.cacheWriteInputPerMillion ?? pricing.inputPerMillion) +
      tokens.output * pricing.outputPerMillion) /
    1_000_000
  );
}

export function expectedOutputTokens(
  backend: CompiledBackend,
  requestedMax: number | undefined,
): number {
  const wanted = requestedMax ?? DEFAULT_EXPECTED_OUTPUT_TOKENS;
  return backend.maxOutputTokens !== undefined ? Math.min(wanted, backend.maxOutputTokens) : wanted;
}

/** Blended price per million tokens, used to rank backends by cheapness. */
export function blendedPrice(backend: CompiledBackend): number {
  return backend.pricing.inputPerMillion + backend.pricing.outputPerMillion;
}
