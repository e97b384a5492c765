// The proxy's Prometheus metrics, on a registry of its own per instance (never prom-client's global one).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type CircuitStateName = 'closed' | 'half-open' | 'open';

/** POST /v1/feedback's answer: accepted, or why it was refused. */
export type FeedbackResult = 'accepted' | 'unknown' | 'expired' | 'repeated' | 'invalid';

export interface ProxyMetrics {
  /** Prometheus text exposition content type, for the /metrics response. */
  readonly contentType: string;
  /** Exposition text: this instance's metrics followed by the process metrics. */
  render(): Promise<string>;
  requestCompleted(
    l: { route: string; endpoint: string; status: number; stream: boolean },
    seconds: number,
  ): void;
  attemptCompleted(l: { route: string; backend: string; outcome: string }, seconds: number): void;
  timeToFirstToken(l: { route: string; backend: string }, seconds: number): void;
  tokens(l: { route: string; backend: string }, input: number, output: number): void;
  cost(l: { route: string; backend: string }, usd: number): void;
  retry(l: { route: string; backend: string; reason: string }): void;
  fallback(l: { route: string; from: string; to: string }): void;
  circuitState(backend: string, state: CircuitStateName): void;
  overhead(seconds: number): void;
  tableLoaded(version: string): void;
  /** `reason` is a short code (e.g. "invalid_schema"); anything else is counted as "other". */
  tableRejected(reason: string): void;
  /** The difficulty model now scoring prompts (an info metric). */
  difficultyModelLoaded(name: string, checksum: string): void;
  /** A changed --difficulty-model file was refused; the current model stays. */
  difficultyModelRefused(): void;
  /** A table named an origin a mounted key is not bound to; the key was not sent. */
  credentialRefused(secret: string): void;
  /** Attributed spend (FinOps): what was paid, and what the route's baselines would have cost. */
  attributedCost(
    l: { route: string; backend: string; tier: string; tenant: string; namespace: string },
    usd: number,
    counterfactual: { mostExpensive: number; strongest: number },
  ): void;
  /** A request a cost-quality rule sent to a tier (strong, cheap, sufficient). */
  tierRequest(route: string, tier: string): void;
  // --- OpenTelemetry GenAI client metrics (issue 16, piece C) ---
  /** Tokens of one upstream call (gen_ai.client.token.usage), by token type. */
  genAiTokens(l: GenAiCallLabels, input: number, output: number): void;
  /** Duration of one upstream call (gen_ai.client.operation.duration); errorType when it failed. */
  genAiOperation(l: GenAiCallLabels, seconds: number, errorType?: string): void;
  /** First chunk of a streamed call (gen_ai.client.operation.time_to_first_chunk). */
  genAiTimeToFirstChunk(l: GenAiCallLabels, seconds: number): void;
  // --- end GenAI client metrics ---
  // --- learning (issue 17) ---
  feedback(result: FeedbackResult): void;
  /** A label made for the controller (rule: its ruleKey, `<namespace>/<route>#<rule>`). */
  learningLabel(rule: string, kind: 'pairwise' | 'feedback'): void;
  /** A label left the ring before the controller read it. */
  learningLabelsDropped(): void;
  /** A pushed learning-rule model was refused; the rule scores with the proxy's own. */
  learnedModelRefused(rule: string): void;
  // --- end learning ---
}

// --- OpenTelemetry GenAI client metrics (issue 16, piece C) ---
/** The GenAI semconv attributes of one upstream call (see genAiCallLabels in genai-metrics.ts). */
export interface GenAiCallLabels {
  operation: string;
  provider: string;
  requestModel: string;
  responseModel: string;
}
/** gen_ai.client.token.usage: the semconv's advised ExplicitBucketBoundaries. */
export const GENAI_TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];
/** gen_ai.client.operation.duration: the semconv's advised ExplicitBucketBoundaries. */
export const GENAI_DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
/** Time to first chunk: the boundaries the semconv advises for time-to-first-token. */
export const GENAI_FIRST_CHUNK_BUCKETS = [
  0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10,
];
const GENAI_LABELS = [
  'gen_ai_operation_name',
  'gen_ai_provider_name',
  'gen_ai_request_model',
  'gen_ai_response_model',
] as const;
const genAiLabelValues = (l: GenAiCallLabels): Record<(typeof GENAI_LABELS)[number], string> => ({
  gen_ai_operation_name: l.operation,
  gen_ai_provider_name: l.provider,
  gen_ai_request_model: l.requestModel,
  gen_ai_response_model: l.responseModel,
});
// --- end GenAI client metrics ---

/** End-to-end and per-attempt latency of LLM calls: tens of ms (embeddings) to minutes (long generations). */
export const LATENCY_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120];
/** Time to first token of a streamed answer. */
export const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Time the proxy itself adds (parse, route, translate): targets are well under a millisecond. */
export const OVERHEAD_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
];

const CIRCUIT_VALUE: Record<CircuitStateName, number> = { closed: 0, 'half-open': 1, open: 2 };
// A rejection reason becomes a label value: keep it a bounded set of codes.
const REASON_CODE = /^[a-z][a-z0-9_.-]{0,63}$/i;

// collectDefaultMetrics starts an event-loop-delay timer and a GC observer per
// call and never stops them, so one set per process is shared by every instance
// (tests create many proxies) instead of one per registry.
let processRegistry: Registry | undefined;
export function sharedProcessRegistry(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

// A metric call sits on the request path: a bad value is dropped, never thrown
// (prom-client throws on negative counter increments).
const usable = (n: number): boolean => Number.isFinite(n) && n >= 0;

export function createProxyMetrics(): ProxyMetrics {
  const registry = new Registry();
  const processMetrics = sharedProcessRegistry();
  const registers = [registry];

  const requests = new Counter({
    name: 'modelroute_requests_total',
    help: 'Client requests answered, by route, endpoint, HTTP status code and streaming.',
    labelNames: ['route', 'endpoint', 'code', 'stream'] as const,
    registers,
  });
  const requestDuration = new Histogram({
    name: 'modelroute_request_duration_seconds',
    help: 'Client request duration from arrival to the last byte sent.',
    labelNames: ['route', 'endpoint', 'stream'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const attempts = new Counter({
    name: 'modelroute_upstream_attempts_total',
    help: 'Upstream attempts, by route, backend and outcome.',
    labelNames: ['route', 'backend', 'outcome'] as const,
    registers,
  });
  const attemptDuration = new Histogram({
    name: 'modelroute_upstream_attempt_duration_seconds',
    help: 'Duration of one upstream attempt.',
    labelNames: ['route', 'backend', 'outcome'] as const,
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const ttft = new Histogram({
    name: 'modelroute_time_to_first_token_seconds',
    help: 'Time from sending a streamed request upstream to its first token.',
    labelNames: ['route', 'backend'] as const,
    buckets: TTFT_BUCKETS,
    registers,
  });
  const tokens = new Counter({
    name: 'modelroute_tokens_total',
    help: 'Tokens reported by backends, by direction (input = prompt, output = completion).',
    labelNames: ['route', 'backend', 'direction'] as const,
    registers,
  });
  const cost = new Counter({
    name: 'modelroute_cost_usd_total',
    help: 'Estimated spend in US dollars, from token usage and backend pricing.',
    labelNames: ['route', 'backend'] as const,
    registers,
  });
  const retries = new Counter({
    name: 'modelroute_retries_total',
    help: 'Upstream attempts retried, by the reason for the retry.',
    labelNames: ['route', 'backend', 'reason'] as const,
    registers,
  });
  const fallbacks = new Counter({
    name: 'modelroute_fallbacks_total',
    help: 'Requests moved from one backend to another.',
    labelNames: ['route', 'from', 'to'] as const,
    registers,
  });
  const circuit = new Gauge({
    name: 'modelroute_circuit_state',
    help: 'Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.',
    labelNames: ['backend'] as const,
    registers,
  });
  const overhead = new Histogram({
    name: 'modelroute_proxy_overhead_seconds',
    help: 'Time the proxy adds to a request, excluding time spent waiting on backends.',
    buckets: OVERHEAD_BUCKETS,
    registers,
  });
  const tableInfo = new Gauge({
    name: 'modelroute_routing_table_info',
    help: 'The routing table version in use (value is always 1).',
    labelNames: ['version'] as const,
    registers,
  });
  const tableLoads = new Counter({
    name: 'modelroute_routing_table_loads_total',
    help: 'Routing tables accepted and put in use.',
    registers,
  });
  const tableRejections = new Counter({
    name: 'modelroute_routing_table_rejections_total',
    help: 'Routing tables refused, by reason code.',
    labelNames: ['reason'] as const,
    registers,
  });
  const difficultyModelInfo = new Gauge({
    name: 'modelroute_difficulty_model_info',
    help: 'The difficulty model scoring prompts, by name and file checksum (value is always 1).',
    labelNames: ['name', 'checksum'] as const,
    registers,
  });
  const difficultyModelRefusals = new Counter({
    name: 'modelroute_difficulty_model_refusals_total',
    help: 'Changed --difficulty-model files refused (the model in use stayed).',
    registers,
  });

  const credentialRefusals = new Counter({
    name: 'modelroute_proxy_credential_refusals_total',
    help: 'Calls for which the proxy refused to send a mounted API key, because the table named an origin the key is not bound to (by Secret name).',
    labelNames: ['secret'] as const,
    registers,
  });

  // FinOps attribution (issue 16): spend by tenant and caller namespace, and
  // the counterfactual costs savings are measured against.
  const spend = new Counter({
    name: 'modelroute_spend_usd_total',
    help: 'Estimated spend in USD by route, backend, cost-quality tier, tenant and caller namespace ("" when unknown).',
    labelNames: ['route', 'backend', 'tier', 'tenant', 'namespace'] as const,
    registers,
  });
  const counterfactualCost = new Counter({
    name: 'modelroute_counterfactual_cost_usd_total',
    help: "What the same traffic would have cost on the route's most expensive eligible backend (baseline=most_expensive) or its strongest (baseline=strongest).",
    labelNames: ['route', 'baseline'] as const,
    registers,
  });
  const tierRequests = new Counter({
    name: 'modelroute_tier_requests_total',
    help: 'Requests cost-quality rules sent to each tier (strong, cheap, sufficient); the strong share is strong over all.',
    labelNames: ['route', 'tier'] as const,
    registers,
  });
  // --- OpenTelemetry GenAI client metrics (issue 16, piece C) ---
  const genAiTokens = new Histogram({
    name: 'gen_ai_client_token_usage',
    help: 'Number of input and output tokens used per upstream call (OpenTelemetry gen_ai.client.token.usage).',
    labelNames: [...GENAI_LABELS, 'gen_ai_token_type'] as const,
    buckets: GENAI_TOKEN_BUCKETS,
    registers,
  });
  const genAiDuration = new Histogram({
    name: 'gen_ai_client_operation_duration_seconds',
    help: 'Duration of one upstream call; error_type is set when it failed (OpenTelemetry gen_ai.client.operation.duration).',
    labelNames: [...GENAI_LABELS, 'error_type'] as const,
    buckets: GENAI_DURATION_BUCKETS,
    registers,
  });
  const genAiFirstChunk = new Histogram({
    name: 'gen_ai_client_operation_time_to_first_chunk_seconds',
    help: 'Time from issuing a streamed upstream call to its first chunk (OpenTelemetry gen_ai.client.operation.time_to_first_chunk).',
    labelNames: GENAI_LABELS,
    buckets: GENAI_FIRST_CHUNK_BUCKETS,
    registers,
  });
  // --- end GenAI client metrics ---
  // --- learning (issue 17): feedback, labels, pushed models ---
  const feedback = new Counter({
    name: 'modelroute_feedback_total',
    help: 'POST /v1/feedback answers, by result: accepted, or refused as unknown, expired, repeated or invalid.',
    labelNames: ['result'] as const,
    registers,
  });
  const learningLabels = new Counter({
    name: 'modelroute_learning_labels_total',
    help: 'Labels made for the controller, by rule (<namespace>/<route>#<rule>) and kind (pairwise, feedback).',
    labelNames: ['rule', 'kind'] as const,
    registers,
  });
  const learningLabelsDropped = new Counter({
    name: 'modelroute_learning_labels_dropped_total',
    help: 'Labels that left the ring before the controller read them.',
    registers,
  });
  const learnedModelRefusals = new Counter({
    name: 'modelroute_learned_model_refusals_total',
    help: "Pushed learning-rule models refused (the rule scored with the proxy's own model), by rule.",
    labelNames: ['rule'] as const,
    registers,
  });
  // --- end learning ---

  return {
    contentType: registry.contentType,
    async render() {
      const [own, proc] = await Promise.all([registry.metrics(), processMetrics.metrics()]);
      return own + proc;
    },
    requestCompleted(l, seconds) {
      const stream = String(l.stream);
      requests.inc({ route: l.route, endpoint: l.endpoint, code: String(l.status), stream });
      if (usable(seconds)) {
        requestDuration.observe({ route: l.route, endpoint: l.endpoint, stream }, seconds);
      }
    },
    // Label objects are rebuilt field by field: prom-client throws on a label
    // it was not declared with, and callers may pass wider objects.
    attemptCompleted({ route, backend, outcome }, seconds) {
      attempts.inc({ route, backend, outcome });
      if (usable(seconds)) attemptDuration.observe({ route, backend, outcome }, seconds);
    },
    timeToFirstToken({ route, backend }, seconds) {
      if (usable(seconds)) ttft.observe({ route, backend }, seconds);
    },
    tokens({ route, backend }, input, output) {
      if (usable(input)) tokens.inc({ route, backend, direction: 'input' }, input);
      if (usable(output)) tokens.inc({ route, backend, direction: 'output' }, output);
    },
    cost({ route, backend }, usd) {
      if (usable(usd)) cost.inc({ route, backend }, usd);
    },
    retry({ route, backend, reason }) {
      retries.inc({ route, backend, reason });
    },
    fallback({ route, from, to }) {
      fallbacks.inc({ route, from, to });
    },
    circuitState(backend, state) {
      circuit.set({ backend }, CIRCUIT_VALUE[state]);
    },
    overhead(seconds) {
      if (usable(seconds)) overhead.observe(seconds);
    },
    tableLoaded(version) {
      // An info metric: only the version in use is present.
      tableInfo.reset();
      tableInfo.set({ version }, 1);
      tableLoads.inc();
    },
    tableRejected(reason) {
      tableRejections.inc({ reason: REASON_CODE.test(reason) ? reason : 'other' });
    },
    difficultyModelLoaded(name, checksum) {
      difficultyModelInfo.reset();
      difficultyModelInfo.set({ name, checksum }, 1);
    },
    credentialRefused(secret) {
      credentialRefusals.inc({ secret });
    },
    difficultyModelRefused() {
      difficultyModelRefusals.inc();
    },
    attributedCost({ route, backend, tier, tenant, namespace }, usd, counterfactual) {
      if (usable(usd)) spend.inc({ route, backend, tier, tenant, namespace }, usd);
      if (usable(counterfactual.mostExpensive))
        counterfactualCost.inc({ route, baseline: 'most_expensive' }, counterfactual.mostExpensive);
      if (usable(counterfactual.strongest))
        counterfactualCost.inc({ route, baseline: 'strongest' }, counterfactual.strongest);
    },
    tierRequest(route, tier) {
      tierRequests.inc({ route, tier });
    },
    // --- OpenTelemetry GenAI client metrics (issue 16, piece C) ---
    genAiTokens(l, input, output) {
      const labels = genAiLabelValues(l);
      if (usable(input)) genAiTokens.observe({ ...labels, gen_ai_token_type: 'input' }, input);
      if (usable(output)) genAiTokens.observe({ ...labels, gen_ai_token_type: 'output' }, output);
    },
    genAiOperation(l, seconds, errorType) {
      if (!usable(seconds)) return;
      const labels = genAiLabelValues(l);
      genAiDuration.observe(errorType ? { ...labels, error_type: errorType } : labels, seconds);
    },
    genAiTimeToFirstChunk(l, seconds) {
      if (usable(seconds)) genAiFirstChunk.observe(genAiLabelValues(l), seconds);
    },
    // --- end GenAI client metrics ---
    // --- learning (issue 17) ---
    feedback(result) {
      feedback.inc({ result });
    },
    learningLabel(rule, kind) {
      learningLabels.inc({ rule, kind });
    },
    learningLabelsDropped() {
      learningLabelsDropped.inc();
    },
    learnedModelRefused(rule) {
      learnedModelRefusals.inc({ rule });
    },
    // --- end learning ---
  };
}
