// One routed request of a learning rule, as the proxy's learning pieces pass
// it along (issue 17): made by ProxyLearning when the request is decided,
// handed to `forward` (which fills in the served answer when the request was
// sampled for shadow judging), then kept for POST /v1/feedback and, if
// sampled, given to the shadow judge once the client has its response.
import type { CompiledLearning } from '../../routing/table.js';
import type { OpenAIRequestBody } from '../../providers/types.js';

export type LearningTier = 'cheap' | 'strong';

/** What forward fills in for a request sampled for shadow judging. */
export interface ShadowCapture {
  /** The answer text the client received (buffered body or concatenated stream deltas), capped. */
  answer: string;
  /** The answer was cut at the cap, or the response was not a plain text answer (tools, errors). */
  truncated: boolean;
  /** The backend that served it (`<namespace>/<name>`), once known. */
  servedBackendId?: string | undefined;
}

export interface LearningTicket {
  /** The x-modelroute-request-id the client got. */
  requestId: string;
  /** `ruleKey(routeId, ruleName)`. */
  ruleKey: string;
  routeId: string;
  ruleName: string;
  /** The tier the rule chose for this request. */
  tier: LearningTier;
  /** Version of the rule's model that scored it (0: the proxy's own model, the prior). */
  modelVersion: number;
  /** Feature set v2 of the prompt (a copy owned by the ticket). */
  features: Float64Array;
  /** Tenant id the request was served as: only the same tenant may give feedback on it. */
  tenantId: string;
  /** The rule's learning settings from the table the request was routed with. */
  learning: CompiledLearning;
  /** Present when sampled for shadow judging: the request body (to replay on the other tier) and the capture. */
  shadow?: { body: OpenAIRequestBody; capture: ShadowCapture } | undefined;
}
