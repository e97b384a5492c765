import { INVALID_SPAN_CONTEXT } from '@opentelemetry/api';
import { createLogger } from '../telemetry/logger.js';
import { AccessLog, accessLogFields, type AccessRecord } from './access-log.js';

const record: AccessRecord = {
  startedMs: Date.UTC(2026, 11, 4, 12, 0, 0),
  requestId: 'req-1',
  traceId: '0af7651916cd43dd8448eb211c80319c',
  endpoint: 'chat',
  stream: true,
  route: 'default/chat',
  rule: 'hard',
  backend: 'default/strong',
  model: 'gpt-4o',
  tier: 'strong',
  tenant: 'acme',
  attempts: 2,
  inputTokens: 120,
  outputTokens: 30,
  cachedTokens: 100,
  costUsd: 0.0012,
  ttftMs: 85.04,
};

test('the line holds the decision, counts and timings, in a fixed order, without absent fields', () => {
  const fields = accessLogFields(record, { status: 200, durationMs: 412.345 });
  expect(Object.keys(fields)).toEqual([
    'startTime',
    'requestId',
    'traceId',
    'endpoint',
    'stream',
    'route',
    'rule',
    'backend',
    'model',
    'tier',
    'tenant',
    'status',
    'attempts',
    'inputTokens',
    'outputTokens',
    'cachedTokens',
    'costUsd',
    'durationMs',
    'ttftMs',
  ]);
  expect(fields).toMatchObject({
    startTime: '2026-12-04T12:00:00.000Z',
    status: 200,
    durationMs: 412.3,
    ttftMs: 85,
  });
  const refused = accessLogFields(
    { startedMs: record.startedMs, endpoint: 'chat', stream: false, attempts: 0 },
    { status: 404, durationMs: 1 },
  );
  expect(refused).toEqual({
    startTime: '2026-12-04T12:00:00.000Z',
    endpoint: 'chat',
    stream: false,
    status: 404,
    attempts: 0,
    durationMs: 1,
  });
});

test('written through the structured logger as one JSON line, token counts not redacted', () => {
  const lines: string[] = [];
  const log = new AccessLog({
    logger: createLogger({ write: (l) => lines.push(l) }),
    sampleRate: 1,
  });
  log.write(record, { status: 200, durationMs: 10 });
  expect(lines).toHaveLength(1);
  expect(JSON.parse(lines[0]!)).toMatchObject({
    level: 'info',
    msg: 'request',
    log: 'access',
    route: 'default/chat',
    inputTokens: 120,
    cachedTokens: 100,
  });
});

test('sampling draws from the injected source; 0 is off and draws nothing, 1 logs all', () => {
  const logger = createLogger({ write: () => {} });
  const draws = [0.05, 0.5, 0.09, 0.95];
  let drawn = 0;
  const tenth = new AccessLog({ logger, sampleRate: 0.1, random: () => draws[drawn++]! });
  expect(draws.map(() => tenth.sampled())).toEqual([true, false, true, false]);

  const never = () => {
    throw new Error('no draw expected');
  };
  expect(new AccessLog({ logger, sampleRate: 0, random: never }).sampled()).toBe(false);
  expect(new AccessLog({ logger, sampleRate: 1, random: never }).sampled()).toBe(true);
  expect(() => new AccessLog({ logger, sampleRate: 1.5 })).toThrow(/between 0 and 1/);
  expect(() => new AccessLog({ logger, sampleRate: Number.NaN })).toThrow(/between 0 and 1/);
});

test('begin: nothing when not sampled; else the caller request id or a new one, and the span trace id or the caller one', () => {
  const logger = createLogger({ write: () => {} });
  const off = new AccessLog({ logger, sampleRate: 0 });
  const base = { endpoint: 'chat', startedMs: 5, span: INVALID_SPAN_CONTEXT };
  expect(off.begin({ ...base, headers: {} })).toBeUndefined();

  const log = new AccessLog({ logger, sampleRate: 1, newId: () => 'new-id' });
  const callerTrace = '0af7651916cd43dd8448eb211c80319c';
  const traceparent = `00-${callerTrace}-b7ad6b7169203331-01`;
  expect(log.begin({ ...base, headers: { 'x-request-id': 'abc-123', traceparent } })).toEqual({
    startedMs: 5,
    requestId: 'abc-123',
    traceId: callerTrace,
    endpoint: 'chat',
    stream: false,
    attempts: 0,
  });
  const ownTrace = '4bf92f3577b34da6a3ce929d0e0e4736';
  expect(
    log.begin({
      ...base,
      headers: { 'x-request-id': 'with space', traceparent },
      span: { traceId: ownTrace, spanId: '00f067aa0ba902b7', traceFlags: 1 },
    }),
  ).toMatchObject({ requestId: 'new-id', traceId: ownTrace });
  expect(log.begin({ ...base, headers: {} })).toMatchObject({
    requestId: 'new-id',
    traceId: undefined,
  });
});
