// What the handler hands `forward` for one routed request, and the headers it answers with.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Span } from '@opentelemetry/api';
import type { RequestOutcome } from '../../finops/proxy-attribution.js';
import type { Attempt } from '../../routing/select.js';
import type { AccessRecord } from '../access-log.js';
import type { IngressRequest } from '../ingress/dialect.js';
import type { LearningTicket } from '../learning/ticket.js';
import type { CompiledRoute } from '../../routing/table.js';
import type { Endpoint, OpenAIRequestBody } from '../../providers/types.js';

export const RESPONSE_HEADERS = {
  route: 'x-modelroute-route',
  rule: 'x-modelroute-rule',
  backend: 'x-modelroute-backend',
  attempts: 'x-modelroute-attempts',
  cost: 'x-modelroute-cost-usd',
  overhead: 'x-modelroute-overhead-ms',
  difficulty: 'x-modelroute-difficulty',
  threshold: 'x-modelroute-threshold',
  tier: 'x-modelroute-tier',
  /** On every data-port response, errors too: the id POST /v1/feedback names (issue 17). */
  requestId: 'x-modelroute-request-id',
  /** Cost-quality rules that learn: the version of the rule's model that scored the prompt (0: the prior). */
  modelVersion: 'x-modelroute-model-version',
} as const;

export interface ForwardRequest {
  req: IncomingMessage;
  res: ServerResponse;
  endpoint: Endpoint;
  body: OpenAIRequestBody;
  stream: boolean;
  /** Whether the client asked for usage in the stream itself. */
  clientWantsUsage: boolean;
  route: CompiledRoute;
  ruleName: string | undefined;
  attempts: Attempt[];
  /** What the request may cost, for the rate limiters: prompt estimate + max output tokens. */
  estimatedTokens: number;
  /** The request's priority class: a retry respects the backend's ceiling for it too. */
  priority?: string | undefined;
  /** The tenant the request is served as (its spend is counted per tenant). */
  tenantId?: string | undefined;
  /** Told the real tokens the request used, when its tenant has a limit. */
  tenantAdmission?: { used(tokens: number): void } | undefined;
  /** Extra response headers decided while routing (difficulty, tier). */
  routingHeaders: Record<string, string>;
  /** process.hrtime.bigint() when the request arrived. */
  arrivedAt: bigint;
  parentSpan: Span;
  /** Cost and attribution, filled in as the request is served; recorded when it ends. */
  tally: RequestTally;
  /** The access log's record of this request, filled in as it is served; absent when not sampled. */
  access?: AccessRecord | undefined;
  /** A learning rule's request (issue 17); with `shadow`, forward copies the served answer into its capture. */
  learning?: LearningTicket | undefined;
  /**
   * The client's API when it is not Chat Completions (/v1/responses,
   * /v1/messages): the answer, its stream and its errors are translated into
   * it after everything else (accounting, capture) has read the chat answer.
   */
  ingress?: IngressRequest | undefined;
}

/** A RequestOutcome before the request has ended (no status or duration yet). */
export type RequestTally = Omit<RequestOutcome, 'status' | 'durationMs'>;
