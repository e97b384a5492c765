// OpenTelemetry tracing for one proxy/controller instance: OTLP/HTTP export, or a no-op tracer.
import { createRequire } from 'node:module';
import {
  INVALID_SPAN_CONTEXT,
  ProxyTracerProvider,
  trace,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as Resources from '@opentelemetry/resources';
import type * as SdkTraceBase from '@opentelemetry/sdk-trace-base';
import type { SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type * as SemanticConventions from '@opentelemetry/semantic-conventions';

/**
 * The SDK, loaded only when spans are exported: the SDK, the OTLP exporter
 * (which pulls in the metrics SDK and the OTLP transformer, ~180 modules) and
 * resources cost ~10 MB of RSS in every sidecar, most of which never export.
 * Synchronous (their CommonJS builds, the same files an `import` resolves to
 * here: none has an `exports` map) so `createTracing` stays a plain call.
 * `@opentelemetry/resources` is not a direct dependency in package.json yet:
 * it is the SDK's own (same version, hoisted); sdk-node's re-export would
 * cost ~300 ms of startup for the whole Node SDK.
 */
function sdk(): {
  trace: typeof SdkTraceBase;
  otlp: typeof OtlpHttp;
  resources: typeof Resources;
  semconv: typeof SemanticConventions;
} {
  const require = createRequire(import.meta.url);
  return {
    trace: require('@opentelemetry/sdk-trace-base') as typeof SdkTraceBase,
    otlp: require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttp,
    resources: require('@opentelemetry/resources') as typeof Resources,
    // Its stable entry point: thousands of constants (0.7 MB of heap), needed
    // only for the service.* resource names once spans are exported.
    semconv: require('@opentelemetry/semantic-conventions') as typeof SemanticConventions,
  };
}

export interface Tracing {
  readonly tracer: Tracer;
  /** False when nothing is exported: spans are non-recording and cost next to nothing. */
  readonly enabled: boolean;
  forceFlush(): Promise<void>;
  /** Flushes and stops exporting; safe to call more than once. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  serviceName: string;
  serviceVersion?: string | undefined;
  /**
   * OTLP/HTTP base URL (what OTEL_EXPORTER_OTLP_ENDPOINT holds, e.g.
   * http://127.0.0.1:4318): spans are batched and POSTed as JSON to
   * <endpoint>/v1/traces. Reading the environment is the caller's job.
   */
  otlpEndpoint?: string | undefined;
  /** Spans go to this exporter as each one ends (tests: InMemorySpanExporter). */
  exporter?: SpanExporter | undefined;
}

const INSTRUMENTATION_SCOPE = 'modelroute';

/**
 * A span that records nothing, for callers to use when tracing is off instead
 * of starting one: a no-op tracer still makes them build names, attribute
 * objects and contexts on every request. Every method is a no-op.
 */
export const NON_RECORDING_SPAN: Span = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

export function createTracing(options: TracingOptions): Tracing {
  if (!options.exporter && !options.otlpEndpoint) return noopTracing();
  // Checked before the SDK loads: a bad endpoint fails fast either way.
  const url = options.otlpEndpoint ? tracesUrl(options.otlpEndpoint) : undefined;
  const { trace: sdkTrace, otlp, resources, semconv } = sdk();
  const processors: SpanProcessor[] = [];
  if (options.exporter) processors.push(new sdkTrace.SimpleSpanProcessor(options.exporter));
  if (url !== undefined)
    processors.push(new sdkTrace.BatchSpanProcessor(new otlp.OTLPTraceExporter({ url })));

  // A provider of our own, never registered globally: several instances can
  // live in one process (tests) and a library's global setup cannot hijack ours.
  const provider = new sdkTrace.BasicTracerProvider({
    resource: resources.defaultResource().merge(
      resources.resourceFromAttributes({
        [semconv.ATTR_SERVICE_NAME]: options.serviceName,
        ...(options.serviceVersion
          ? { [semconv.ATTR_SERVICE_VERSION]: options.serviceVersion }
          : {}),
      }),
    ),
    spanProcessors: processors,
  });
  let stopped: Promise<void> | undefined;
  return {
    tracer: provider.getTracer(INSTRUMENTATION_SCOPE, options.serviceVersion),
    enabled: true,
    forceFlush: () => provider.forceFlush(),
    shutdown: () => (stopped ??= provider.shutdown()),
  };
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

function noopTracing(): Tracing {
  // A provider with no delegate hands out tracers that stay no-op for good
  // (unlike trace.getTracer(), which follows whatever global gets registered).
  const tracer = new ProxyTracerProvider().getTracer(INSTRUMENTATION_SCOPE);
  return {
    tracer,
    enabled: false,
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
}
