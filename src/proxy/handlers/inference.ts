// POST /v1/chat/completions, /v1/completions and /v1/embeddings: read and
// check the body, route it with the routing core, and forward it. The
// Responses and Messages APIs come here too, as chat requests in another
// dialect (../ingress/).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { callerAttribution } from '../../finops/caller-attribution.js';
import { requestFacts } from '../../routing/facts.js';
import { selectBackends, type RoutingError } from '../../routing/select.js';
import { NON_RECORDING_SPAN } from '../../telemetry/tracing.js';
import { withAttribution } from '../access-log.js';
import { ProxyError, asProxyError, notReady, sendError } from '../errors.js';
import { RESPONSE_HEADERS, forward } from '../forward.js';
import type { RequestTally } from '../forward/request.js';
import type { RequestScoring } from '../learning/proxy-learning.js';
import type { LearningTicket } from '../learning/ticket.js';
import type { PreparedTable } from '../../routing/prepared-table.js';
import { extractPrompt } from '../prompt/extract.js';
import { promptTokensFact } from '../prompt/count-plan.js';
import { promptTokensAtMost } from '../prompt/tokens.js';
import { embeddingInputs, largestInputFact } from './embedding-inputs.js';
import { headerMap, identifyOrRefuse, refuseUnlessAllowed } from './identify.js';
import {
  admitTenant,
  countLimitRefusals,
  exceededBudget,
  refuseUnlessDowngradeRule,
  type TenantAdmission,
} from './quota-admission.js';
import type { IngressDialect, IngressRequest } from '../ingress/dialect.js';
import type { Endpoint } from '../../providers/types.js';
import {
  checkRequestBody,
  parseJsonObject,
  parseRequestBody,
  readBody,
  type ParsedRequest,
} from '../request-body.js';
import type { ProxyRuntime } from '../runtime.js';

/** Capabilities every backend is assumed to have; only the others filter backends. */
const ASSUMED = new Set(['chat', 'streaming']);

function routingError(error: RoutingError): ProxyError {
  if (error.code === 'RouteNotFound')
    return new ProxyError(404, error.message, 'not_found_error', 'model_not_found', 'model');
  if (error.cause === 'request')
    return new ProxyError(400, error.message, 'invalid_request_error', 'no_eligible_backend');
  if (error.cause === 'shed')
    return new ProxyError(429, error.message, 'rate_limit_error', 'capacity_shed', null, {
      'retry-after': String(error.retryAfterSeconds ?? 1),
    });
  return new ProxyError(503, error.message, 'service_unavailable', 'no_backend_available');
}

/**
 * At most this much of a request's max_tokens counts in its admission
 * estimate: a proxy's tpm share can be small (a quiet proxy's), and a client
 * asking for a very long answer it rarely gets should not be refused by it.
 */
const OUTPUT_ESTIMATE_CAP_TOKENS = 4_096;

export async function handleInference(
  runtime: ProxyRuntime,
  endpoint: Endpoint,
  req: IncomingMessage,
  res: ServerResponse,
  requestId: string,
  /** The client's API when it is not OpenAI's chat/completions/embeddings (endpoint is then 'chat'). */
  dialect?: IngressDialect,
): Promise<void> {
  const arrivedAt = process.hrtime.bigint();
  const startedMs = runtime.now();
  let routeId = '(none)';
  let tenant: string | undefined;
  /** Set once a route is chosen: requests refused before that are attributed to nothing. */
  let tally: RequestTally | undefined;
  let stream = false;
  let admission: TenantAdmission | undefined;
  let prepared: PreparedTable | undefined;
  let ticket: LearningTicket | undefined;
  let ingress: IngressRequest | undefined;
  // Tracing off: no span at all (a no-op tracer still costs a name and a context per request).
  // On, the span is a child of the caller's (its W3C traceparent), in the caller's trace.
  const span = runtime.tracing.enabled
    ? runtime.tracing.tracer.startSpan(
        `POST ${dialect?.path ?? `/v1/${endpoint === 'chat' ? 'chat/completions' : endpoint}`}`,
        { kind: SpanKind.SERVER },
        runtime.tracing.extract(req.headers),
      )
    : NON_RECORDING_SPAN;
  const access = runtime.accessLog.begin({
    headers: req.headers,
    endpoint: dialect?.name ?? endpoint,
    startedMs,
    span: span.spanContext(),
  });
  try {
    prepared = runtime.store.prepared;
    const raw = await readBody(req, runtime.limits.maxBodyBytes);
    if (!prepared) throw notReady();
    // Who is calling comes before anything about the body: a caller refused here learns nothing more.
    const headers = headerMap(req);
    const bearer = dialect?.authorization?.(headers);
    if (bearer !== undefined) headers.authorization = bearer;
    const who = await identifyOrRefuse(runtime, headers, prepared.table, res, span);
    tenant = who.tenant.name;
    if (access) access.tenant = tenant;
    let parsed: ParsedRequest;
    if (dialect) {
      const json = parseJsonObject(raw, req.headers['content-type']);
      ingress = dialect.translate(json, { requestId, nowMs: startedMs });
      parsed = checkRequestBody('chat', ingress.chat);
    } else parsed = parseRequestBody(endpoint, raw, req.headers['content-type']);
    refuseUnlessAllowed(who, prepared, parsed.model);
    stream = parsed.stream;
    if (access) access.stream = stream;
    const prompt = extractPrompt(endpoint, parsed.body);
    // The token count proper is computed only if routing needs it; the rate
    // limiters make do with a cheap estimate, corrected once usage is known:
    // the prompt at 4 characters a token plus the output it may ask for, as
    // providers count a request against tpm. Counting the prompt alone let a
    // proxy admit past its tpm share by the outputs of what it just sent
    // (bench quotas, standing start: 129,400 tokens in a minute against 120,000).
    const estimatedTokens =
      Math.ceil(prompt.text.length / 4) +
      Math.min(prompt.maxOutputTokens ?? 0, OUTPUT_ESTIMATE_CAP_TOKENS);
    // Budgets and the tenant's fleet limit, before anything is routed (issue 14).
    const requestedRoute = prepared.routeByModel.get(parsed.model);
    const overBudget = exceededBudget(runtime, who.tenant, requestedRoute);
    const admitted = admitTenant(runtime, who.tenant, estimatedTokens, requestedRoute);
    admission = admitted instanceof Promise ? await admitted : admitted;
    // Big prompts are counted here, in steps that leave the event loop free.
    // An embeddings batch fits a context window input by input, not as a sum:
    // the whole batch is counted ahead only for prices and rules.
    const promptTokens = await promptTokensFact(
      prompt,
      prepared,
      undefined,
      endpoint === 'embeddings' ? 'batch' : 'prompt',
    );
    const perInput =
      endpoint === 'embeddings'
        ? await largestInputFact(embeddingInputs(parsed.body), prepared)
        : undefined;
    // Made only when a learning rule orders the backends: it extracts the features once.
    let scoring: RequestScoring | undefined;
    const facts = requestFacts({
      model: parsed.model,
      header: (name) => (who.visible(name) ? headers[name] : undefined),
      claims: who.claims,
      impliedCapabilities: prompt.impliedCapabilities.filter((c) => !ASSUMED.has(c)),
      promptTokens,
      promptTokensAtMost: promptTokensAtMost(prompt),
      contextTokens: perInput?.tokens,
      contextTokensAtMost: perInput?.atMost,
      difficulty: () => runtime.difficulty.score(prompt.text),
      learnedDifficulty: (rule) =>
        (scoring ??= runtime.learning.scoring(prompt.text)).difficulty(rule),
      maxOutputTokens: prompt.maxOutputTokens,
    });
    facts.nowMs = startedMs;
    if (overBudget) facts.budgetExceeded = true;
    const decision = selectBackends(prepared, facts, {
      rng: runtime.rng,
      live: runtime.live,
      strongShareThreshold: (routeId, ruleName) =>
        runtime.strongShare.thresholdFor(routeId, ruleName),
    });
    if (decision.skipped.length > 0)
      countLimitRefusals(runtime, prepared, decision, facts.priority);
    if (!decision.ok) throw routingError(decision.error);
    if (overBudget)
      refuseUnlessDowngradeRule(
        overBudget,
        prepared.routeById.get(decision.routeId),
        decision.ruleName,
        startedMs,
      );
    // After the decision, never inside it: selection stays a pure function.
    if (decision.strongShareRule && decision.costQuality)
      runtime.strongShare.record(
        decision.strongShareRule.routeId,
        decision.strongShareRule.ruleName,
        decision.costQuality.difficulty,
        decision.costQuality.tier === 'strong',
      );
    const route = prepared.routeById.get(decision.routeId)?.source;
    if (!route)
      throw new ProxyError(
        500,
        `route ${decision.routeId} vanished from the table`,
        'server_error',
      );
    routeId = route.id;
    runtime.usage.request(route.id);
    tally = {
      on: {
        route: route.id,
        rule: decision.ruleName ?? '',
        backend: '',
        model: '',
        tier: decision.costQuality?.tier ?? '',
        tenant: who.tenant.id,
        ...callerAttribution(who.caller),
      },
      tiered: decision.costQuality !== undefined,
      fallback: false,
      costUSD: 0,
      mostExpensiveCostUSD: 0,
      strongestCostUSD: 0,
    };
    if (decision.costQuality) runtime.metrics.tierRequest(route.id, decision.costQuality.tier);
    runtime.quotas.tenants.requested(who.tenant.id);
    span.setAttribute('modelroute.route', route.id);
    const routingHeaders: Record<string, string> = {};
    if (decision.costQuality) {
      routingHeaders[RESPONSE_HEADERS.difficulty] = decision.costQuality.difficulty.toFixed(3);
      routingHeaders[RESPONSE_HEADERS.tier] = decision.costQuality.tier;
      const { threshold } = decision.costQuality;
      if (threshold !== undefined) {
        routingHeaders[RESPONSE_HEADERS.threshold] = threshold.toFixed(3);
        span.setAttribute('modelroute.threshold', threshold);
      }
      span.setAttribute('modelroute.difficulty', decision.costQuality.difficulty);
      span.setAttribute('modelroute.tier', decision.costQuality.tier);
      // A label needs a cheap-or-strong decision: a rule without a threshold or strongShare has none to learn.
      const { tier } = decision.costQuality;
      const { rule } = decision;
      if (scoring && rule?.learning && threshold !== undefined && tier !== 'sufficient') {
        ticket = runtime.learning.ticket({
          requestId,
          routeId: route.id,
          rule,
          tier,
          tenantId: who.tenant.id,
          body: parsed.body,
          scoring,
        });
        if (ticket) {
          routingHeaders[RESPONSE_HEADERS.modelVersion] = String(ticket.modelVersion);
          span.setAttribute('modelroute.model_version', ticket.modelVersion);
          if (access) access.modelVersion = ticket.modelVersion;
        }
      }
    }
    const streamOptions = parsed.body.stream_options as
      { include_usage?: unknown } | null | undefined;
    await forward(runtime, {
      req,
      res,
      endpoint,
      body: parsed.body,
      stream: parsed.stream,
      // A dialect reports usage at the end of every stream: the adapter must hand it over.
      clientWantsUsage: ingress !== undefined || streamOptions?.include_usage === true,
      route,
      ruleName: decision.ruleName,
      attempts: decision.attempts,
      estimatedTokens,
      priority: facts.priority,
      tenantId: who.tenant.id,
      tenantAdmission: admission,
      routingHeaders,
      arrivedAt,
      parentSpan: span,
      tally,
      access,
      learning: ticket,
      ingress,
    });
  } catch (err) {
    if (!(err instanceof ProxyError))
      runtime.logger.error('request failed', { endpoint, tenant, error: err });
    sendError(res, asProxyError(err), {}, dialect?.errors);
  } finally {
    admission?.end();
    const status = res.statusCode;
    if (ticket && prepared) runtime.learning.finished(ticket, status, prepared);
    if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.setAttribute('http.response.status_code', status);
    span.end();
    const durationMs = runtime.now() - startedMs;
    runtime.metrics.requestCompleted(
      { route: routeId, endpoint, status, stream },
      durationMs / 1000,
    );
    if (tally) runtime.attribution.record({ ...tally, status, durationMs });
    if (access)
      runtime.accessLog.write(tally ? withAttribution(access, tally) : access, {
        status,
        durationMs,
      });
  }
}
