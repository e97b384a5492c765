// Usage and cost of a served attempt: metrics, the route's and the tenant's
// totals, the budgets this proxy holds, the span.
import type { Span } from '@opentelemetry/api';
import { counterfactualCosts } from '../../finops/counterfactual.js';
import { routeQuotaKey, tenantQuotaKey } from '../../quota/protocol.js';
import type { TokenCounts } from '../../routing/cost.js';
import type { CompiledBackend } from '../../routing/table.js';
import { responseAttributes } from '../../telemetry/genai.js';
import { genAiCallLabels } from '../../telemetry/genai-metrics.js';
import type { GenAiCall } from '../../telemetry/genai-otel-metrics.js';
import type { Usage } from '../../providers/types.js';
import type { ProxyRuntime } from '../runtime.js';
import type { ForwardRequest } from './request.js';

export function account(
  runtime: ProxyRuntime,
  request: ForwardRequest,
  backend: CompiledBackend,
  usage: Usage | undefined,
  cost: number,
  span: Span,
  ttftMs?: number,
): void {
  const { route, tally } = request;
  if (ttftMs !== undefined) tally.ttftMs = ttftMs;
  if (usage) {
    const tokens = usageTokens(usage);
    const prepared = runtime.store.prepared;
    const baselines = prepared
      ? runtime.baselines.get(prepared.table, route, prepared.backendById, request.endpoint)
      : { eligible: [], strongest: undefined };
    const counterfactual = counterfactualCosts(baselines, tokens, cost);
    tally.tokens = tokens;
    tally.costUSD = cost;
    tally.mostExpensiveCostUSD = counterfactual.mostExpensive;
    tally.strongestCostUSD = counterfactual.strongest;
    runtime.metrics.attributedCost(
      {
        route: route.id,
        backend: backend.id,
        tier: tally.on.tier,
        tenant: tally.on.tenant,
        namespace: tally.on.namespace,
      },
      cost,
      counterfactual,
    );
    runtime.metrics.tokens(
      { route: route.id, backend: backend.id },
      usage.promptTokens,
      usage.completionTokens,
    );
    runtime.metrics.cost({ route: route.id, backend: backend.id }, cost);
    runtime.metrics.genAiTokens(
      genAiCallLabels(request.endpoint, backend),
      usage.promptTokens,
      usage.completionTokens,
    );
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

export function usageTokens(usage: Usage): TokenCounts {
  return {
    input: usage.promptTokens,
    output: usage.completionTokens,
    ...(usage.cachedPromptTokens !== undefined ? { cachedInput: usage.cachedPromptTokens } : {}),
    ...(usage.cacheWritePromptTokens !== undefined
      ? { cacheWriteInput: usage.cacheWritePromptTokens }
      : {}),
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
