// Helpers every adapter shares: OpenAI's response shapes (the proxy's own
// client-facing format), JSON headers, and safe previews of upstream text.
import type { Usage } from '../types.js';

const MAX_ERROR_MESSAGE = 500;
export const DONE_EVENT = 'data: [DONE]\n\n';

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function jsonHeaders(stream: boolean): Record<string, string> {
  return {
    'content-type': 'application/json',
    accept: stream ? 'text/event-stream' : 'application/json',
  };
}

const count = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;

/** Reads an OpenAI `usage` object; undefined unless it has at least the prompt count. */
export function usageFromOpenAI(value: unknown): Usage | undefined {
  if (!isRecord(value)) return undefined;
  const promptTokens = count(value.prompt_tokens);
  if (promptTokens === undefined) return undefined;
  // Embeddings report no completion tokens.
  const completionTokens = count(value.completion_tokens) ?? 0;
  const usage: Usage = {
    promptTokens,
    completionTokens,
    totalTokens: count(value.total_tokens) ?? promptTokens + completionTokens,
  };
  const details = value.prompt_tokens_details;
  const cached = isRecord(details) ? count(details.cached_tokens) : undefined;
  if (cached !== undefined) usage.cachedPromptTokens = cached;
  return usage;
}

/** Usage in OpenAI's `usage` shape (what translating adapters report to clients). */
export function usageToOpenAI(usage: Usage): Record<string, unknown> {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.totalTokens,
    prompt_tokens_details: { cached_tokens: usage.cachedPromptTokens ?? 0 },
  };
}

/** Shortens upstream text for messages, dropping control characters. */
export function preview(text: string, max = 100): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return clean.length > max ? `${clean.slice(0, max - 1)}…` : clean;
}

/** The final error text: the upstream's own message if any, else a generic one naming the status. */
export function errorText(status: number, message: string | undefined): string {
  return message !== undefined && message.trim() !== ''
    ? preview(message, MAX_ERROR_MESSAGE)
    : `upstream returned HTTP ${status}`;
}

/** Finds the message in OpenAI's error shape and the variants compatible servers use. */
export function openaiErrorMessage(status: number, body: string): string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return errorText(status, undefined);
  }
  if (!isRecord(parsed)) return errorText(status, undefined);
  const { error } = parsed;
  if (isRecord(error) && typeof error.message === 'string') return errorText(status, error.message);
  if (typeof error === 'string') return errorText(status, error);
  // FastAPI-based servers (vLLM and friends) use these.
  for (const key of ['message', 'detail'] as const) {
    const value = parsed[key];
    if (typeof value === 'string') return errorText(status, value);
  }
  return errorText(status, undefined);
}
