import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { requestAttributes, responseAttributes } from './genai.js';
import { NON_RECORDING_SPAN, createTracing, telemetryPlan, tracesUrl } from './tracing.js';

const request = requestAttributes({
  endpoint: 'chat',
  provider: 'openai',
  requestModel: 'gpt-4o-mini',
  maxTokens: 64,
  stream: false,
  route: 'default/chat',
  backend: 'default/mini',
  attempt: 1,
  serverAddress: 'api.openai.com',
  serverPort: 443,
});
const response = responseAttributes({
  responseModel: 'gpt-4o-mini-2024-07-18',
  responseId: 'chatcmpl-1',
  finishReasons: ['stop'],
  inputTokens: 10,
  outputTokens: 5,
  costUsd: 0.000004,
});

test('spans with GenAI attributes reach the exporter, with service name and version', async () => {
  const exporter = new InMemorySpanExporter();
  const tracing = createTracing({
    serviceName: 'modelroute-proxy',
    serviceVersion: '0.1.0',
    exporter,
  });
  try {
    expect(tracing.enabled).toBe(true);
    const parent = tracing.tracer.startSpan('POST /v1/chat/completions', { kind: SpanKind.SERVER });
    const span = tracing.tracer.startSpan(
      'chat gpt-4o-mini',
      { kind: SpanKind.CLIENT, attributes: request },
      trace.setSpan(ROOT_CONTEXT, parent),
    );
    span.setAttributes(response);
    span.end();
    parent.end();
    await tracing.forceFlush();

    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toEqual(['chat gpt-4o-mini', 'POST /v1/chat/completions']);
    const [child, server] = spans;
    expect(child!.attributes).toEqual({ ...request, ...response });
    expect(child!.spanContext().traceId).toBe(server!.spanContext().traceId);
    expect(child!.parentSpanContext?.spanId).toBe(server!.spanContext().spanId);
    expect(child!.resource.attributes).toMatchObject({
      'service.name': 'modelroute-proxy',
      'service.version': '0.1.0',
      'telemetry.sdk.language': 'nodejs',
    });
    expect(child!.instrumentationScope.name).toBe('modelroute');
  } finally {
    await tracing.shutdown();
  }
});

test('instances are independent and nothing is registered globally', async () => {
  const a = new InMemorySpanExporter();
  const b = new InMemorySpanExporter();
  const ta = createTracing({ serviceName: 'a', exporter: a });
  const tb = createTracing({ serviceName: 'b', exporter: b });
  ta.tracer.startSpan('only-a').end();
  // The global API tracer stays the no-op one.
  const global = trace.getTracer('x').startSpan('global');
  expect(global.isRecording()).toBe(false);
  global.end();
  expect(a.getFinishedSpans().map((s) => s.name)).toEqual(['only-a']);
  expect(b.getFinishedSpans()).toEqual([]);
  await Promise.all([ta.shutdown(), tb.shutdown()]);
  // Shutting down twice is harmless.
  await ta.shutdown();
});

test('without exporter or endpoint: a no-op tracer, nothing recorded', async () => {
  const tracing = createTracing({ serviceName: 'modelroute-proxy', env: {} });
  expect(tracing.enabled).toBe(false);
  const span = tracing.tracer.startSpan('chat', { attributes: request });
  expect(span.isRecording()).toBe(false);
  expect(span.spanContext().traceId).toBe('00000000000000000000000000000000');
  span.setAttributes(response);
  span.end();
  // A parent from elsewhere (an incoming traceparent) is still propagated.
  const remote = trace.wrapSpanContext({
    traceId: '0af7651916cd43dd8448eb211c80319c',
    spanId: 'b7ad6b7169203331',
    traceFlags: 1,
  });
  const child = tracing.tracer.startSpan('child', {}, trace.setSpan(ROOT_CONTEXT, remote));
  expect(child.spanContext().traceId).toBe('0af7651916cd43dd8448eb211c80319c');
  expect(child.isRecording()).toBe(false);
  await tracing.forceFlush();
  await tracing.shutdown();
});

test('tracesUrl appends /v1/traces to a base endpoint', () => {
  expect(tracesUrl('http://127.0.0.1:4318')).toBe('http://127.0.0.1:4318/v1/traces');
  expect(tracesUrl('http://collector:4318/')).toBe('http://collector:4318/v1/traces');
  expect(tracesUrl('https://otel.example.com/otlp')).toBe(
    'https://otel.example.com/otlp/v1/traces',
  );
  expect(tracesUrl('http://collector:4318/v1/traces')).toBe('http://collector:4318/v1/traces');
  expect(() => tracesUrl('collector:4318')).toThrow(/http/);
  expect(() => tracesUrl('not a url')).toThrow(/not a valid URL/);
});

describe('OTLP/HTTP export to an in-process receiver', () => {
  let server: Server;
  const bodies: { path: string; contentType: string | undefined; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        bodies.push({
          path: `${req.method} ${req.url}`,
          contentType: req.headers['content-type'],
          body: Buffer.concat(chunks).toString('utf8'),
        });
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });

  afterAll(async () => {
    // The exporter keeps connections alive: drop them so the server can close.
    server.closeAllConnections();
    await new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
  });

  test('spans are POSTed as JSON to <endpoint>/v1/traces with resource and GenAI attributes', async () => {
    const { port } = server.address() as AddressInfo;
    const tracing = createTracing({
      serviceName: 'modelroute-proxy-otlp-test',
      serviceVersion: '9.9.9',
      otlpEndpoint: `http://127.0.0.1:${port}`,
    });
    try {
      expect(tracing.enabled).toBe(true);
      const span = tracing.tracer.startSpan('chat gpt-4o-mini', { attributes: request });
      span.setAttributes(response);
      span.end();
      await tracing.forceFlush();
    } finally {
      await tracing.shutdown();
    }

    expect(bodies).toHaveLength(1);
    const [got] = bodies;
    expect(got!.path).toBe('POST /v1/traces');
    expect(got!.contentType).toBe('application/json');
    expect(got!.body).toContain('modelroute-proxy-otlp-test');
    expect(got!.body).toContain('gen_ai.operation.name');

    // And structurally, as OTLP JSON: resourceSpans[].scopeSpans[].spans[].attributes[].
    const payload = JSON.parse(got!.body) as OtlpTraces;
    const rs = payload.resourceSpans[0]!;
    expect(attr(rs.resource.attributes, 'service.name')).toEqual({
      stringValue: 'modelroute-proxy-otlp-test',
    });
    expect(attr(rs.resource.attributes, 'service.version')).toEqual({ stringValue: '9.9.9' });
    const span = rs.scopeSpans[0]!.spans[0]!;
    expect(span.name).toBe('chat gpt-4o-mini');
    expect(attr(span.attributes, 'gen_ai.operation.name')).toEqual({ stringValue: 'chat' });
    expect(attr(span.attributes, 'gen_ai.usage.output_tokens')).toEqual({ intValue: 5 });
  });

  test('configured by the OTEL_* variables alone: service name, resource attributes, traces and GenAI metrics', async () => {
    const { port } = server.address() as AddressInfo;
    bodies.length = 0;
    // The Node SDK reads process.env itself.
    const saved = { ...process.env };
    Object.assign(process.env, {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'checkout-llm-proxy',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=test',
      OTEL_NODE_RESOURCE_DETECTORS: 'env',
    });
    try {
      const tracing = createTracing({ serviceName: 'modelroute-proxy' });
      expect(tracing.enabled).toBe(true);
      expect(tracing.genAi).toBeDefined();
      const span = tracing.tracer.startSpan('chat gpt-4o-mini', { attributes: request });
      span.end();
      const call = {
        endpoint: 'chat' as const,
        provider: 'openai' as const,
        model: 'gpt-4o-mini',
        route: 'default/chat',
        backend: 'default/mini',
      };
      tracing.genAi!.operation(call, 0.42);
      tracing.genAi!.tokens(call, 10, 5);
      await tracing.shutdown(); // flushes both
    } finally {
      for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
      Object.assign(process.env, saved);
    }
    const traces = bodies.find((b) => b.path === 'POST /v1/traces');
    const metrics = bodies.find((b) => b.path === 'POST /v1/metrics');
    expect(traces).toBeDefined();
    const rs = (JSON.parse(traces!.body) as OtlpTraces).resourceSpans[0]!;
    expect(attr(rs.resource.attributes, 'service.name')).toEqual({
      stringValue: 'checkout-llm-proxy',
    });
    expect(attr(rs.resource.attributes, 'deployment.environment.name')).toEqual({
      stringValue: 'test',
    });
    expect(metrics?.body).toContain('gen_ai.client.operation.duration');
    expect(metrics?.body).toContain('gen_ai.client.token.usage');
    expect(metrics?.body).toContain('gen_ai.token.type');
  });
});

test('what the OTEL_* variables turn on: nothing unless an endpoint or exporter is named; disabled wins', () => {
  expect(telemetryPlan({})).toEqual({ traces: false, metrics: false });
  expect(telemetryPlan({}, 'http://c:4318')).toEqual({ traces: true, metrics: false });
  expect(telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' })).toEqual({
    traces: true,
    metrics: true,
  });
  expect(telemetryPlan({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' })).toEqual({
    traces: true,
    metrics: false,
  });
  expect(
    telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_METRICS_EXPORTER: 'none' }),
  ).toEqual({ traces: true, metrics: false });
  expect(
    telemetryPlan({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_TRACES_EXPORTER: 'none' }),
  ).toEqual({ traces: false, metrics: true });
  expect(telemetryPlan({ OTEL_TRACES_EXPORTER: 'console' })).toEqual({
    traces: true,
    metrics: false,
  });
  expect(
    telemetryPlan(
      { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_SDK_DISABLED: 'true' },
      'http://c:4318',
    ),
  ).toEqual({ traces: false, metrics: false });
});

test('a malformed OTLP endpoint variable stops the start, naming the variable and not the value', () => {
  expect(() =>
    createTracing({
      serviceName: 'p',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'user:secret@collector' },
    }),
  ).toThrow(/^OTEL_EXPORTER_OTLP_ENDPOINT (is not a valid URL|must be an http)/);
  try {
    createTracing({ serviceName: 'p', env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'not a url' } });
  } catch (err) {
    expect((err as Error).message).not.toContain('not a url');
  }
});

interface OtlpKeyValue {
  key: string;
  value: Record<string, unknown>;
}
interface OtlpTraces {
  resourceSpans: {
    resource: { attributes: OtlpKeyValue[] };
    scopeSpans: { spans: { name: string; attributes: OtlpKeyValue[] }[] }[];
  }[];
}

function attr(list: OtlpKeyValue[], key: string): Record<string, unknown> | undefined {
  return list.find((kv) => kv.key === key)?.value;
}

test('NON_RECORDING_SPAN: what callers use instead of a span when tracing is off; records nothing', () => {
  expect(NON_RECORDING_SPAN.isRecording()).toBe(false);
  expect(trace.isSpanContextValid(NON_RECORDING_SPAN.spanContext())).toBe(false);
  // Every method is safe to call, any number of times.
  NON_RECORDING_SPAN.setAttributes(response);
  NON_RECORDING_SPAN.setAttribute('error.type', 'timeout');
  NON_RECORDING_SPAN.end();
  NON_RECORDING_SPAN.end();
  expect(NON_RECORDING_SPAN.isRecording()).toBe(false);
});
