// OpenTelemetry for one proxy/controller process: the Node SDK configured from
// the standard OTEL_* variables (loaded only when telemetry is configured), a
// private provider for an injected exporter (tests), or a no-op tracer.
import type { IncomingHttpHeaders } from 'node:http';
import { createRequire } from 'node:module';
import {
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  ROOT_CONTEXT,
  context,
  defaultTextMapGetter,
  defaultTextMapSetter,
  metrics,
  propagation,
  trace,
  type Context,
  type Span,
  type TextMapPropagator,
  type Tracer,
} from '@opentelemetry/api';
import type * as Core from '@opentelemetry/core';
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as Resources from '@opentelemetry/resources';
import type * as SdkNode from '@opentelemetry/sdk-node';
import type * as SdkTraceBase from '@opentelemetry/sdk-trace-base';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';
import { createGenAiOtelMetrics, type GenAiOtelMetrics } from './genai-otel-metrics.js';
import { passThroughTraceContext } from './trace-context.js';

const require = createRequire(import.meta.url);

/**
 * The SDKs are loaded only when telemetry is configured: the Node SDK pulls in
 * every exporter, propagator and resource detector it can be configured with
 * (~1 s of startup and tens of MB of RSS), the private provider the trace SDK
 * and resources (~10 MB). Most sidecars export nothing. Synchronous (their
 * CommonJS builds, the same files an `import` resolves to here) so
 * `createTracing` stays a plain call. `@opentelemetry/core` and
 * `@opentelemetry/resources` are the SDK's own (same versions, hoisted).
 */
const load = {
  nodeSdk: () => require('@opentelemetry/sdk-node') as typeof SdkNode,
  traceBase: () => require('@opentelemetry/sdk-trace-base') as typeof SdkTraceBase,
  otlpHttp: () => require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttp,
  resources: () => require('@opentelemetry/resources') as typeof Resources,
  core: () => require('@opentelemetry/core') as typeof Core,
};

export interface Tracing {
  readonly tracer: Tracer;
  /** False when no spans are exported: spans are non-recording and cost next to nothing. */
  readonly enabled: boolean;
  /** GenAI client metrics over OTLP, when the SDK exports metrics; undefined otherwise. */
  readonly genAi: GenAiOtelMetrics | undefined;
  /**
   * The caller's trace from its W3C `traceparent`/`tracestate` headers, as the
   * parent context of the request's span (ROOT_CONTEXT when absent or invalid).
   */
  extract(headers: IncomingHttpHeaders): Context;
  /**
   * Writes `traceparent`/`tracestate` for an upstream call into `headers`: the
   * attempt's span when tracing is on; with tracing off, the caller's own
   * headers unchanged, so the caller's trace still reaches a backend that traces.
   */
  inject(span: Span, incoming: IncomingHttpHeaders, headers: Record<string, string>): void;
  forceFlush(): Promise<void>;
  /** Flushes and stops exporting; safe to call more than once. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** service.name unless OTEL_SERVICE_NAME (or service.name in OTEL_RESOURCE_ATTRIBUTES) names one. */
  serviceName: string;
  serviceVersion?: string | undefined;
  /**
   * `--otlp-endpoint`: OTLP/HTTP base URL (e.g. http://127.0.0.1:4318); spans
   * are POSTed as JSON to <endpoint>/v1/traces. Without it the SDK reads
   * OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT and the other OTEL_* variables itself.
   */
  otlpEndpoint?: string | undefined;
  /** Spans go to this exporter as each one ends (tests: InMemorySpanExporter); the SDK is not started. */
  exporter?: SpanExporter | undefined;
  /** Where OTEL_* variables are read to decide whether to load the SDK. Default: process.env. */
  env?: NodeJS.ProcessEnv | undefined;
}

const INSTRUMENTATION_SCOPE = 'modelroute';

/**
 * A span that records nothing, for callers to use when tracing is off instead
 * of starting one: a no-op tracer still makes them build names, attribute
 * objects and contexts on every request. Every method is a no-op.
 */
export const NON_RECORDING_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** What the OTEL_* variables (and `--otlp-endpoint`) ask the SDK to export. */
export interface TelemetryPlan {
  traces: boolean;
  /** Metric readers from OTEL_METRICS_EXPORTER (default otlp) rather than none. */
  metrics: boolean;
}

const isTrue = (v: string | undefined) => v?.trim().toLowerCase() === 'true';
const list = (v: string | undefined) =>
  (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
const onlyNone = (values: string[]) => values.length > 0 && values.every((s) => s === 'none');

/**
 * Whether telemetry is configured, and which signals: nothing unless an
 * endpoint or an exporter is named, so an unconfigured sidecar never loads
 * the SDK. OTEL_SDK_DISABLED=true wins over everything, as the spec says.
 * Metrics are exported only where they would reach a collector: when
 * OTEL_METRICS_EXPORTER names an exporter, or a general or metrics OTLP
 * endpoint is set (a traces-only endpoint or `--otlp-endpoint` exports traces only).
 */
export function telemetryPlan(env: NodeJS.ProcessEnv, otlpEndpoint?: string): TelemetryPlan {
  const off = { traces: false, metrics: false };
  if (isTrue(env.OTEL_SDK_DISABLED)) return off;
  const tracesExporters = list(env.OTEL_TRACES_EXPORTER);
  const metricsExporters = list(env.OTEL_METRICS_EXPORTER);
  const general = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  const traces =
    Boolean(otlpEndpoint) ||
    (!onlyNone(tracesExporters) &&
      (tracesExporters.length > 0 || general || Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)));
  const metricsOn =
    !onlyNone(metricsExporters) &&
    (metricsExporters.length > 0 || general || Boolean(env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT));
  return { traces, metrics: metricsOn };
}

export function createTracing(options: TracingOptions): Tracing {
  if (options.exporter) return privateTracing(options, options.exporter);
  const env = options.env ?? process.env;
  const plan = telemetryPlan(env, options.otlpEndpoint);
  if (!plan.traces && !plan.metrics) return noopTracing();
  // Checked before the SDK loads: a bad endpoint stops the start, whoever gave it.
  checkEndpointVariables(env);
  const url = options.otlpEndpoint ? tracesUrl(options.otlpEndpoint) : undefined;
  return nodeSdkTracing(options, env, plan, url);
}

/**
 * The Node SDK registers process-wide providers, so one process has one SDK,
 * shared by every proxy in it (`modelroute dev`, tests) and stopped with the last.
 */
let shared: { sdk: SdkNode.NodeSDK; users: number; plan: TelemetryPlan } | undefined;

function nodeSdkTracing(
  options: TracingOptions,
  env: NodeJS.ProcessEnv,
  plan: TelemetryPlan,
  url: string | undefined,
): Tracing {
  if (!shared) {
    const sdkNode = load.nodeSdk();
    const { resources } = sdkNode;
    const named =
      Boolean(env.OTEL_SERVICE_NAME) ||
      list(env.OTEL_RESOURCE_ATTRIBUTES).some((kv) => kv.startsWith('service.name='));
    const sdk = new sdkNode.NodeSDK({
      // Merged under what the env detector reads (OTEL_RESOURCE_ATTRIBUTES wins).
      resource: resources
        .defaultResource()
        .merge(
          resources.resourceFromAttributes(
            options.serviceVersion ? { 'service.version': options.serviceVersion } : {},
          ),
        ),
      // NodeSDK's serviceName would override OTEL_SERVICE_NAME: ours is only the default.
      ...(named ? {} : { serviceName: options.serviceName }),
      ...(url ? { traceExporter: new (load.otlpHttp().OTLPTraceExporter)({ url }) } : {}),
      ...(plan.traces ? {} : { spanProcessors: [] }),
      ...(plan.metrics ? {} : { metricReaders: [] }),
      // The proxy logs through its own JSON logger; nothing is sent as OTel logs.
      logRecordProcessors: [],
      // No instrumentations: the proxy starts its own spans (the upstream call
      // is one), and an http instrumentation would add a second span per call.
      instrumentations: [],
      // Only W3C trace context reaches upstream (see trace-context.ts): no baggage.
      textMapPropagator: null,
    });
    sdk.start();
    shared = { sdk, users: 0, plan };
  }
  shared.users += 1;
  const { plan: started } = shared;
  const w3c = new (load.core().W3CTraceContextPropagator)();
  let stopped: Promise<void> | undefined;
  return {
    ...(started.traces
      ? propagating(trace.getTracer(INSTRUMENTATION_SCOPE, options.serviceVersion), w3c)
      : noopParts()),
    genAi: started.metrics
      ? createGenAiOtelMetrics(metrics.getMeter(INSTRUMENTATION_SCOPE, options.serviceVersion))
      : undefined,
    forceFlush: () => flushGlobal(),
    shutdown: () => (stopped ??= releaseSdk()),
  };
}

async function flushGlobal(): Promise<void> {
  const provider = trace.getTracerProvider();
  const delegate =
    provider instanceof ProxyTracerProvider ? provider.getDelegate() : (provider as unknown);
  const flushable = delegate as { forceFlush?: () => Promise<void> };
  await flushable.forceFlush?.();
}

async function releaseSdk(): Promise<void> {
  const current = shared;
  if (!current) return;
  current.users -= 1;
  if (current.users > 0) {
    await flushGlobal();
    return;
  }
  shared = undefined;
  await current.sdk.shutdown();
  // Unregistered, so a later SDK in the same process (tests) can register its own.
  trace.disable();
  metrics.disable();
  propagation.disable();
  context.disable();
}

/** Exports to one exporter through a provider of our own, never registered globally. */
function privateTracing(options: TracingOptions, exporter: SpanExporter): Tracing {
  const sdkTrace = load.traceBase();
  const resources = load.resources();
  // Several instances can live in one process (tests) and a library's global setup cannot hijack ours.
  const provider = new sdkTrace.BasicTracerProvider({
    resource: resources.defaultResource().merge(
      resources.resourceFromAttributes({
        'service.name': options.serviceName,
        ...(options.serviceVersion ? { 'service.version': options.serviceVersion } : {}),
      }),
    ),
    spanProcessors: [new sdkTrace.SimpleSpanProcessor(exporter)],
  });
  const w3c = new (load.core().W3CTraceContextPropagator)();
  let stopped: Promise<void> | undefined;
  return {
    ...propagating(provider.getTracer(INSTRUMENTATION_SCOPE, options.serviceVersion), w3c),
    genAi: undefined,
    forceFlush: () => provider.forceFlush(),
    shutdown: () => (stopped ??= provider.shutdown()),
  };
}

function propagating(
  tracer: Tracer,
  w3c: TextMapPropagator,
): Pick<Tracing, 'tracer' | 'enabled' | 'extract' | 'inject'> {
  return {
    tracer,
    enabled: true,
    extract: (headers) => w3c.extract(ROOT_CONTEXT, headers, defaultTextMapGetter),
    inject: (span, _incoming, headers) =>
      w3c.inject(trace.setSpan(ROOT_CONTEXT, span), headers, defaultTextMapSetter),
  };
}

function noopParts(): Pick<Tracing, 'tracer' | 'enabled' | 'extract' | 'inject'> {
  // A provider with no delegate hands out tracers that stay no-op for good
  // (unlike trace.getTracer(), which follows whatever global gets registered).
  return {
    tracer: new ProxyTracerProvider().getTracer(INSTRUMENTATION_SCOPE),
    enabled: false,
    extract: () => ROOT_CONTEXT,
    inject: (_span, incoming, headers) => passThroughTraceContext(incoming, headers),
  };
}

function noopTracing(): Tracing {
  return {
    ...noopParts(),
    genAi: undefined,
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}

const ENDPOINT_VARIABLES = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
] as const;

/** The SDK only logs a bad endpoint and exports nothing: refuse to start instead. */
function checkEndpointVariables(env: NodeJS.ProcessEnv): void {
  for (const name of ENDPOINT_VARIABLES) {
    const value = env[name];
    if (!value) continue;
    let protocol: string;
    try {
      protocol = new URL(value).protocol;
    } catch {
      // The value itself is not echoed: it may carry credentials (user:pass@).
      throw new Error(
        `${name} is not a valid URL; set it to one such as http://otel-collector:4318`,
      );
    }
    if (protocol !== 'http:' && protocol !== 'https:')
      throw new Error(`${name} must be an http(s) URL, not ${protocol}`);
  }
}

/** <endpoint>/v1/traces, per the OTLP exporter spec for a base endpoint (kept if already there). */
export function tracesUrl(endpoint: string): string {
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    // The value itself is not echoed: it may carry credentials (user:pass@).
    throw new Error('OTLP endpoint is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`OTLP endpoint must be http(s), not ${url.protocol}`);
  }
  const base = url.href.replace(/\/+$/, '');
  return base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
}
