import * as incubating from '@opentelemetry/semantic-conventions/incubating';
import { genAiCallLabels } from './genai-metrics.js';
import { createProxyMetrics } from './proxy-metrics.js';

/** OpenTelemetry's Prometheus translation: dots become underscores, unit "s" adds _seconds, {token} nothing. */
const prometheusName = (otel: string, unit: 's' | '{token}'): string =>
  otel.replaceAll('.', '_') + (unit === 's' ? '_seconds' : '');

test('the gen_ai_client_* names are the semconv metrics in Prometheus form', async () => {
  const text = await createProxyMetrics().render();
  const families = [...text.matchAll(/^# TYPE (gen_ai_\S+) histogram$/gm)].map((m) => m[1]);
  expect(families.sort()).toEqual(
    [
      prometheusName(incubating.METRIC_GEN_AI_CLIENT_TOKEN_USAGE, '{token}'),
      prometheusName(incubating.METRIC_GEN_AI_CLIENT_OPERATION_DURATION, 's'),
      prometheusName(incubating.METRIC_GEN_AI_CLIENT_OPERATION_TIME_TO_FIRST_CHUNK, 's'),
    ].sort(),
  );
});

test('labels: the semconv operation and provider names, the backend model as request and response model', () => {
  expect(genAiCallLabels('completions', { provider: 'azure-openai', model: 'gpt-4o' })).toEqual({
    operation: incubating.GEN_AI_OPERATION_NAME_VALUE_TEXT_COMPLETION,
    provider: incubating.GEN_AI_PROVIDER_NAME_VALUE_AZURE_AI_OPENAI,
    requestModel: 'gpt-4o',
    responseModel: 'gpt-4o',
  });
});
