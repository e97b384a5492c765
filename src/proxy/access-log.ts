// The per-request access log: one JSON line per sampled request through the
// structured logger, with the routing decision, tokens and cost, and never a
// prompt, a completion or a credential (the record holds none to leak).
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { INVALID_TRACEID, type SpanContext } from '@opentelemetry/api';
import type { Logger } from '../telemetry/logger.js';
import type { RequestTally } from './forward/request.js';
import { incomingTraceId } from '../telemetry/trace-context.js';

/**
 * What one request did, filled in as it is served. Counts and names only:
 * add attribution fields here and in `accessLogFields`, never request text.
 */
export interface AccessRecord {
  /** When the request arrived (epoch ms). */
  startedMs: number;
  /** The proxy's id for the request (also its trace's span id when tracing is on). */
  requestId?: string | undefined;
  /** The W3C trace id the request belongs to (the caller's, or the proxy's own). */
  traceId?: string | undefined;
  endpoint: string;
  stream: boolean;
  route?: string | undefined;
  rule?: string | undefined;
  backend?: string | undefined;
  /** The upstream model that served (the backend's model). */
  model?: string | undefined;
  tier?: string | undefined;
  /** A learning rule's model version that scored the prompt (0: the prior; issue 17). */
  modelVersion?: number | undefined;
  tenant?: string | undefined;
  namespace?: string | undefined;
  workload?: string | undefined;
  /** Upstream attempts made (0 when none was: refused or answered by the proxy). */
  attempts: number;
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  cachedTokens?: number | undefined;
  costUsd?: number | undefined;
  /** Time to first token of the attempt that served, for a streamed answer. */
  ttftMs?: number | undefined;
}

/**
 * The record with what the request's cost tally says of it (route, rule,
 * tier, caller, tokens and cost): the tally is filled as the request is
 * served, so the access log reads it once at the end instead of keeping a copy.
 */
export function withAttribution(record: AccessRecord, tally: RequestTally): AccessRecord {
  const { on, tokens } = tally;
  return {
    ...record,
    route: on.route,
    rule: on.rule || undefined,
    tier: on.tier || undefined,
    namespace: on.namespace || undefined,
    workload: on.workload || undefined,
    ...(tokens
      ? {
          inputTokens: tokens.input,
          outputTokens: tokens.output,
          cachedTokens: tokens.cachedInput,
          costUsd: tally.costUSD,
        }
      : {}),
  };
}

export interface AccessOutcome {
  status: number;
  durationMs: number;
}

/** The log line's fields, in a fixed order; absent values are left out. Pure. */
export function accessLogFields(
  record: AccessRecord,
  outcome: AccessOutcome,
): Record<string, string | number | boolean> {
  const fields: Record<string, string | number | boolean | undefined> = {
    startTime: new Date(record.startedMs).toISOString(),
    requestId: record.requestId,
    traceId: record.traceId,
    endpoint: record.endpoint,
    stream: record.stream,
    route: record.route,
    rule: record.rule,
    backend: record.backend,
    model: record.model,
    tier: record.tier,
    modelVersion: record.modelVersion,
    tenant: record.tenant,
    namespace: record.namespace,
    workload: record.workload,
    status: outcome.status,
    attempts: record.attempts,
    inputTokens: record.inputTokens,
    outputTokens: record.outputTokens,
    cachedTokens: record.cachedTokens,
    costUsd: record.costUsd,
    durationMs: round(outcome.durationMs),
    ttftMs: record.ttftMs === undefined ? undefined : round(record.ttftMs),
  };
  for (const key of Object.keys(fields)) if (fields[key] === undefined) delete fields[key];
  return fields as Record<string, string | number | boolean>;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export interface AccessLogOptions {
  logger: Logger;
  /** Share of requests logged, 0..1: 0 logs none, 1 every one. */
  sampleRate: number;
  /** Uniform in [0, 1); injected so tests are deterministic. Default Math.random. */
  random?: () => number;
  /** A new request id, for a request that brings none. Default: a random UUID. */
  newId?: () => string;
}

/** What is known of a request when it arrives. */
export interface AccessStart {
  headers: IncomingHttpHeaders;
  endpoint: string;
  startedMs: number;
  /** The request span's context (an invalid one when tracing is off). */
  span: SpanContext;
}

/** A caller's x-request-id is kept when it is printable ASCII of sane length. */
const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export const ACCESS_LOG_MESSAGE = 'request';

/** Decides per request whether it is logged (sampled up front: a skipped request costs one random draw). */
export class AccessLog {
  private readonly logger: Logger;
  private readonly rate: number;
  private readonly random: () => number;
  private readonly newId: () => string;

  constructor(options: AccessLogOptions) {
    if (!(options.sampleRate >= 0 && options.sampleRate <= 1))
      throw new Error(
        `the access log sample rate must be between 0 and 1, not ${options.sampleRate}`,
      );
    this.logger = options.logger.child({ log: 'access' });
    this.rate = options.sampleRate;
    this.random = options.random ?? Math.random;
    this.newId = options.newId ?? randomUUID;
  }

  /** Whether this request is logged; false at once when the log is off. */
  sampled(): boolean {
    if (this.rate <= 0) return false;
    return this.rate >= 1 || this.random() < this.rate;
  }

  /**
   * The record of a request, when it is sampled. Its id is the caller's
   * `x-request-id` when sane (ingresses and meshes set one), else a new one;
   * its trace id is the request span's, or with tracing off the caller's
   * traceparent's.
   */
  begin(start: AccessStart): AccessRecord | undefined {
    if (!this.sampled()) return undefined;
    const incoming = start.headers['x-request-id'];
    return {
      startedMs: start.startedMs,
      requestId:
        typeof incoming === 'string' && REQUEST_ID.test(incoming) ? incoming : this.newId(),
      traceId:
        start.span.traceId !== INVALID_TRACEID
          ? start.span.traceId
          : incomingTraceId(start.headers),
      endpoint: start.endpoint,
      stream: false,
      attempts: 0,
    };
  }

  write(record: AccessRecord, outcome: AccessOutcome): void {
    this.logger.info(ACCESS_LOG_MESSAGE, accessLogFields(record, outcome));
  }
}

/** A log that writes nothing (the default where none is configured). */
export const NO_ACCESS_LOG = {
  begin: () => undefined,
  write: () => {},
} satisfies Pick<AccessLog, 'begin' | 'write'>;

export type AccessLogWriter = Pick<AccessLog, 'begin' | 'write'>;
