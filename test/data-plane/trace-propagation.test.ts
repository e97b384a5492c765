// A calling app's trace continues through the proxy: the proxy's span is a
// child of the caller's, each upstream attempt is a CLIENT span below it, and
// the backend receives a traceparent in the same trace. With tracing off the
// caller's traceparent still reaches the backend unchanged.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ROOT_CONTEXT, SpanKind, defaultTextMapSetter, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createLogger } from '../../src/telemetry/logger.js';
import { createTracing } from '../../src/telemetry/tracing.js';
import { post, route, startDataPlane, type DataPlane } from '../support/data-plane.js';

let dp: DataPlane | undefined;
afterEach(async () => {
  await dp?.close();
  dp = undefined;
});

const body = { model: 'chat', messages: [{ role: 'user', content: 'Say hello.' }] };
const twoTier = route('chat', {
  rules: [{ name: 'all', strategy: 'priority', backendRefs: [{ name: 'a' }, { name: 'b' }] }],
  retries: { attempts: 2, backoff: '10ms', maxBackoff: '1s' },
});

/** The calling app: a tracer of its own, and the headers its HTTP client would send. */
function callingApp() {
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(new InMemorySpanExporter())],
  });
  const span = provider.getTracer('app').startSpan('handle checkout', { kind: SpanKind.CLIENT });
  const headers: Record<string, string> = {};
  new W3CTraceContextPropagator().inject(
    trace.setSpan(ROOT_CONTEXT, span),
    headers,
    defaultTextMapSetter,
  );
  return {
    span,
    headers: { ...headers, tracestate: 'app=checkout' } as Record<string, string>,
  };
}

const traceIdOf = (traceparent: unknown) => String(traceparent).split('-')[1];
const parentIdOf = (traceparent: unknown) => String(traceparent).split('-')[2];

test('the proxy span is a child of the caller span, and each upstream attempt carries its own CLIENT span', async () => {
  const exporter = new InMemorySpanExporter();
  dp = await startDataPlane(
    [{ name: 'a', simulator: { errorRate: 1, errorStatus: 500 } }, { name: 'b' }],
    [twoTier],
    { tracing: createTracing({ serviceName: 'modelroute-proxy', exporter }) },
  );
  const app = callingApp();
  const res = await post(`${dp.proxy.dataUrl}/v1/chat/completions`, body, app.headers);
  expect(res.status).toBe(200);
  app.span.end();
  await dp.proxy.runtime.tracing.forceFlush();

  const caller = app.span.spanContext();
  const spans = exporter.getFinishedSpans();
  const server = spans.find((s) => s.kind === SpanKind.SERVER)!;
  const clients = spans.filter((s) => s.kind === SpanKind.CLIENT);
  expect(server.spanContext().traceId).toBe(caller.traceId);
  expect(server.parentSpanContext?.spanId).toBe(caller.spanId);
  expect(server.parentSpanContext?.isRemote).toBe(true);
  // One CLIENT span per upstream attempt (a failed, then b), both children of the proxy's span.
  expect(clients.map((s) => s.attributes['modelroute.backend'])).toEqual([
    'default/a',
    'default/b',
  ]);
  for (const client of clients) {
    expect(client.spanContext().traceId).toBe(caller.traceId);
    expect(client.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
  }

  // Each backend saw the trace, with its own attempt's span as the parent, and the caller's tracestate.
  const sent = [dp.sims.a!.requests[0]!, dp.sims.b!.requests[0]!];
  sent.forEach((request, i) => {
    expect(traceIdOf(request.headers.traceparent)).toBe(caller.traceId);
    expect(parentIdOf(request.headers.traceparent)).toBe(clients[i]!.spanContext().spanId);
    expect(request.headers.tracestate).toBe('app=checkout');
    expect(request.headers.baggage).toBeUndefined();
  });
});

test('a caller that did not sample its trace gets no proxy spans, and the backend is told not to sample', async () => {
  const exporter = new InMemorySpanExporter();
  dp = await startDataPlane([{ name: 'a' }, { name: 'b' }], [twoTier], {
    tracing: createTracing({ serviceName: 'modelroute-proxy', exporter }),
  });
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const res = await post(`${dp.proxy.dataUrl}/v1/chat/completions`, body, {
    traceparent: `00-${traceId}-b7ad6b7169203331-00`,
  });
  expect(res.status).toBe(200);
  await dp.proxy.runtime.tracing.forceFlush();
  expect(exporter.getFinishedSpans()).toEqual([]);
  const sent = String(dp.sims.a!.requests[0]!.headers.traceparent);
  expect(traceIdOf(sent)).toBe(traceId);
  expect(sent.endsWith('-00')).toBe(true);
});

test('tracing off: the caller traceparent and tracestate reach the backend unchanged; a malformed one does not', async () => {
  dp = await startDataPlane([{ name: 'a' }, { name: 'b' }], [twoTier]);
  expect(dp.proxy.runtime.tracing.enabled).toBe(false);
  const app = callingApp();
  expect((await post(`${dp.proxy.dataUrl}/v1/chat/completions`, body, app.headers)).status).toBe(
    200,
  );
  expect(dp.sims.a!.requests[0]!.headers.traceparent).toBe(app.headers.traceparent);
  expect(dp.sims.a!.requests[0]!.headers.tracestate).toBe('app=checkout');

  const bad = await post(`${dp.proxy.dataUrl}/v1/chat/completions`, body, {
    traceparent: '00-00000000000000000000000000000000-b7ad6b7169203331-01',
    tracestate: 'app=x',
  });
  expect(bad.status).toBe(200);
  expect(dp.sims.a!.requests[1]!.headers.traceparent).toBeUndefined();
  expect(dp.sims.a!.requests[1]!.headers.tracestate).toBeUndefined();
});

test('with tracing on, a request without a traceparent starts a trace the backend joins', async () => {
  const exporter = new InMemorySpanExporter();
  dp = await startDataPlane(
    [{ name: 'a' }],
    [route('chat', { rules: [{ name: 'all', backendRefs: [{ name: 'a' }] }] })],
    {
      tracing: createTracing({ serviceName: 'modelroute-proxy', exporter }),
    },
  );
  expect((await post(`${dp.proxy.dataUrl}/v1/chat/completions`, body)).status).toBe(200);
  await dp.proxy.runtime.tracing.forceFlush();
  const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
  expect(server.parentSpanContext).toBeUndefined();
  const sent: unknown = dp.sims.a!.requests[0]!.headers.traceparent;
  expect(traceIdOf(sent)).toBe(server.spanContext().traceId);
});

describe('access log', () => {
  const SECRET_PROMPT = 'my card number is 4111 1111 1111 1111';

  test('one line per request with the decision, attempts, tokens, cost and the caller trace id; never the prompt', async () => {
    const lines: string[] = [];
    dp = await startDataPlane(
      [{ name: 'a', simulator: { errorRate: 1, errorStatus: 500 } }, { name: 'b' }],
      [twoTier],
      {
        logger: createLogger({ write: (l) => lines.push(l) }),
        accessLog: { sampleRate: 1 },
      },
    );
    const app = callingApp();
    const res = await post(
      `${dp.proxy.dataUrl}/v1/chat/completions`,
      { model: 'chat', messages: [{ role: 'user', content: SECRET_PROMPT }] },
      { ...app.headers, 'x-request-id': 'req-42', authorization: 'Bearer sk-should-not-appear' },
    );
    expect(res.status).toBe(200);
    const usage = (res.json as { usage: { prompt_tokens: number; completion_tokens: number } })
      .usage;
    const access = lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.log === 'access');
    expect(access).toHaveLength(1);
    expect(access[0]).toMatchObject({
      msg: 'request',
      requestId: 'req-42',
      traceId: app.span.spanContext().traceId,
      endpoint: 'chat',
      route: 'default/chat',
      rule: 'all',
      backend: 'default/b',
      model: 'b-upstream',
      tenant: expect.any(String),
      status: 200,
      attempts: 2,
      inputTokens: usage.prompt_tokens,
      outputTokens: usage.completion_tokens,
      durationMs: expect.any(Number),
    });
    expect(access[0]!.costUsd).toEqual(expect.any(Number));
    expect(lines.join('\n')).not.toContain('4111');
    expect(lines.join('\n')).not.toContain('sk-should-not-appear');
  });

  test('off by default; sampled by the injected source', async () => {
    const lines: string[] = [];
    const logger = createLogger({ write: (l) => lines.push(l) });
    dp = await startDataPlane([{ name: 'a' }, { name: 'b' }], [twoTier], { logger });
    await post(`${dp.proxy.dataUrl}/v1/chat/completions`, body);
    expect(lines.filter((l) => l.includes('"log":"access"'))).toEqual([]);
    await dp.close();

    const draws = [0.9, 0.1, 0.9, 0.1];
    let drawn = 0;
    dp = await startDataPlane([{ name: 'a' }, { name: 'b' }], [twoTier], {
      logger,
      accessLog: { sampleRate: 0.5, random: () => draws[drawn++ % draws.length]! },
    });
    for (let i = 0; i < 4; i++) await post(`${dp.proxy.dataUrl}/v1/chat/completions`, body);
    expect(lines.filter((l) => l.includes('"log":"access"'))).toHaveLength(2);
  });
});

test('configured only by OTEL_* variables (the Node SDK), the exported trace holds the caller span, the proxy span and the upstream call', async () => {
  const received: string[] = [];
  const collector = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url === '/v1/traces') received.push(body);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const saved = { ...process.env };
  Object.assign(process.env, {
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(collector.address() as AddressInfo).port}`,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_METRICS_EXPORTER: 'none',
    OTEL_NODE_RESOURCE_DETECTORS: 'env',
  });
  try {
    dp = await startDataPlane([{ name: 'a' }, { name: 'b' }], [twoTier]);
    expect(dp.proxy.runtime.tracing.enabled).toBe(true);
    const app = callingApp();
    expect((await post(`${dp.proxy.dataUrl}/v1/chat/completions`, body, app.headers)).status).toBe(
      200,
    );
    const upstreamTraceparent = dp.sims.a!.requests[0]!.headers.traceparent;
    await dp.close(); // flushes the batch
    dp = undefined;
    const { traceId, spanId } = app.span.spanContext();
    const spans = received.flatMap((b) =>
      (JSON.parse(b) as OtlpTraces).resourceSpans.flatMap((rs) =>
        rs.scopeSpans.flatMap((ss) => ss.spans),
      ),
    );
    const server = spans.find((s) => s.kind === 2)!; // SPAN_KIND_SERVER
    const client = spans.find((s) => s.kind === 3)!; // SPAN_KIND_CLIENT
    expect(server).toMatchObject({ traceId, parentSpanId: spanId });
    expect(client).toMatchObject({ traceId, parentSpanId: server.spanId });
    // The backend was called in the same trace, by the CLIENT span.
    expect(upstreamTraceparent).toBe(`00-${traceId}-${client.spanId}-01`);
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    collector.closeAllConnections();
    await new Promise<void>((resolve) => collector.close(() => resolve()));
  }
});

interface OtlpTraces {
  resourceSpans: {
    scopeSpans: {
      spans: { kind: number; traceId: string; spanId: string; parentSpanId?: string }[];
    }[];
  }[];
}
