// OpenTelemetry GenAI client metrics, exported over OTLP when the Node SDK
// exports metrics (tracing.ts): `gen_ai.client.operation.duration` per
// upstream attempt and `gen_ai.client.token.usage` per answered call, with the
// semantic conventions' attributes and bucket advice. The Prometheus forms on
// /metrics are proxy-metrics.ts's; these are for a collector.
import type { Attributes, Histogram, Meter } from '@opentelemetry/api';
import type { Provider } from '../api/v1alpha1/modelbackend.js';
import type { Endpoint } from '../providers/types.js';
import {
  ATTR_GEN_AI_OPERATION_NAME,
  ATTR_GEN_AI_PROVIDER_NAME,
  ATTR_GEN_AI_REQUEST_MODEL,
  ATTR_GEN_AI_RESPONSE_MODEL,
  ATTR_MODELROUTE_BACKEND,
  ATTR_MODELROUTE_ROUTE,
  ATTR_SERVER_ADDRESS,
  genAiOperationName,
  genAiProviderName,
} from './genai.js';

export const METRIC_GEN_AI_CLIENT_OPERATION_DURATION = 'gen_ai.client.operation.duration';
export const METRIC_GEN_AI_CLIENT_TOKEN_USAGE = 'gen_ai.client.token.usage';
const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
const ATTR_ERROR_TYPE = 'error.type';

// The conventions' advice for these two histograms.
const DURATION_BUCKETS = [
  0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
];
const TOKEN_BUCKETS = [
  1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864,
];

export interface GenAiCall {
  endpoint: Endpoint;
  provider: Provider;
  /** The backend's model, as sent upstream. */
  model: string;
  route: string;
  backend: string;
  serverAddress?: string | undefined;
}

export interface GenAiOtelMetrics {
  /** One upstream attempt ended; `errorType` names how it failed (absent: it succeeded). */
  operation(call: GenAiCall, seconds: number, errorType?: string): void;
  /** The tokens an answered call used. */
  tokens(call: GenAiCall, input: number, output: number): void;
}

export function createGenAiOtelMetrics(meter: Meter): GenAiOtelMetrics {
  const duration: Histogram = meter.createHistogram(METRIC_GEN_AI_CLIENT_OPERATION_DURATION, {
    description: 'GenAI operation duration',
    unit: 's',
    advice: { explicitBucketBoundaries: DURATION_BUCKETS },
  });
  const usage: Histogram = meter.createHistogram(METRIC_GEN_AI_CLIENT_TOKEN_USAGE, {
    description: 'Number of input and output tokens used',
    unit: '{token}',
    advice: { explicitBucketBoundaries: TOKEN_BUCKETS },
  });
  return {
    operation(call, seconds, errorType) {
      const attributes = callAttributes(call);
      if (errorType !== undefined) attributes[ATTR_ERROR_TYPE] = errorType;
      duration.record(seconds, attributes);
    },
    tokens(call, input, output) {
      const attributes = callAttributes(call);
      usage.record(input, { ...attributes, [ATTR_GEN_AI_TOKEN_TYPE]: 'input' });
      usage.record(output, { ...attributes, [ATTR_GEN_AI_TOKEN_TYPE]: 'output' });
    },
  };
}

function callAttributes(call: GenAiCall): Attributes {
  const attributes: Attributes = {
    [ATTR_GEN_AI_OPERATION_NAME]: genAiOperationName(call.endpoint),
    [ATTR_GEN_AI_PROVIDER_NAME]: genAiProviderName(call.provider),
    [ATTR_GEN_AI_REQUEST_MODEL]: call.model,
    [ATTR_GEN_AI_RESPONSE_MODEL]: call.model,
    [ATTR_MODELROUTE_ROUTE]: call.route,
    [ATTR_MODELROUTE_BACKEND]: call.backend,
  };
  if (call.serverAddress !== undefined) attributes[ATTR_SERVER_ADDRESS] = call.serverAddress;
  return attributes;
}
