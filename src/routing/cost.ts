// Cost estimates from a backend's price list.
import type { CompiledBackend } from './table.js';

/** Output tokens assumed for estimates when the client sets no max_tokens. */
export const DEFAULT_EXPECTED_OUTPUT_TOKENS = 256;

export function costUsd(
  pricing: CompiledBackend['pricing'],
  tokens: { input: number; output: number; cachedInput?: number },
): number {
  const cached = tokens.cachedInput ?? 0;
  return (
    ((tokens.input - cached) * pricing.inputPerMillion +
      cached * pricing.cachedInputPerMillion +
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
