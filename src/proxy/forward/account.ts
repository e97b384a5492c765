// Usage and cost of a served attempt: metrics, the route's totals, the span.
import type { Span } from '@opentelemetry/api';
import type { CompiledBackend, CompiledRoute } from '../../routing/table.js';
import { responseAttributes } from '../../telemetry/genai.js';
import type { Usage } from '../providers/types.js';
import type { ProxyRuntime } from '../runtime.js';

export function account(
  runtime: ProxyRuntime,
  route: CompiledRoute,
  backend: CompiledBackend,
  usage: Usage | undefined,
  cost: number,
  span: Span,
): void {
  if (usage) {
    runtime.metrics.tokens(
      { route: route.id, backend: backend.id },
      usage.promptTokens,
      usage.completionTokens,
    );
    runtime.metrics.cost({ route: route.id, backend: backend.id }, cost);
    runtime.usage.cost(route.id, cost);
  }
  if (!span.isRecording()) return; // tracing off: spare building the attributes
  span.setAttributes(
    responseAttributes({
      responseModel: backend.model,
      ...(usage
        ? { inputTokens: usage.promptTokens, outputTokens: usage.completionTokens, costUsd: cost }
        : {}),
    }),
  );
}

export function usageTokens(usage: Usage): { input: number; output: number; cachedInput?: number } {
  return {
    input: usage.promptTokens,
    output: usage.completionTokens,
    ...(usage.cachedPromptTokens !== undefined ? { cachedInput: usage.cachedPromptTokens } : {}),
  };
}
