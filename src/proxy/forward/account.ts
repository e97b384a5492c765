// Usage and cost of a served attempt: metrics, the route's and the tenant's
// totals, the budgets this proxy holds, the span.
import type { Span } from '@opentelemetry/api';
import { routeQuotaKey, tenantQuotaKey } from '../../quota/protocol.js';
import type { CompiledBackend } from '../../routing/table.js';
import { responseAttributes } from '../../telemetry/genai.js';
import type { GenAiCall } from '../../telemetry/genai-otel-metrics.js';
import type { Usage } from '../providers/types.js';
import type { ProxyRuntime } from '../runtime.js';
import type { ForwardRequest } from './request.js';

export function account(
  runtime: ProxyRuntime,
  request: ForwardRequest,
  backend: CompiledBackend,
  usage: Usage | undefined,
  cost: number,
  span: Span,
): void {
  const { route } = request;
  if (usage && request.access) {
    request.access.inputTokens = usage.promptTokens;
    request.access.outputTokens = usage.completionTokens;
    request.access.cachedTokens = usage.cachedPromptTokens;
    request.access.costUsd = cost;
  }
  if (usage) {
    runtime.metrics.tokens(
      { route: route.id, backend: backend.id },
      usage.promptTokens,
      usage.completionTokens,
    );
    runtime.metrics.cost({ route: route.id, backend: backend.id }, cost);
    runtime.tracing.genAi?.tokens(
      genAiCall(request, backend),
      usage.promptTokens,
      usage.completionTokens,
    );
    runtime.usage.cost(route.id, cost);
    const { tenantId } = request;
    request.tenantAdmission?.used(usage.promptTokens + usage.completionTokens);
    if (tenantId !== undefined) {
      runtime.quotas.tenants.cost(tenantId, cost);
      // Keys are built only when some budget is held: most proxies hold none.
      if (runtime.quotas.state.hasBudgets())
        runtime.quotas.state.recordSpend([tenantQuotaKey(tenantId), routeQuotaKey(route.id)], cost);
    }
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

/** An upstream call as the GenAI metrics describe it. */
export function genAiCall(
  request: ForwardRequest,
  backend: CompiledBackend,
  serverAddress?: string,
): GenAiCall {
  return {
    endpoint: request.endpoint,
    provider: backend.provider,
    model: backend.model,
    route: request.route.id,
    backend: backend.id,
    serverAddress,
  };
}
