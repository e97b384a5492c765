// One non-streamed chat call to a compiled backend for shadow judging (issue
// 17): the other tier's answer, or a judge's verdict. It goes the way a
// client's request goes upstream (the proxy's keep-alive pools, the
// backend's provider adapter for URL, auth and translation, its credentials
// and its timeouts) but never near a client: no response to write, no retry,
// no failover, no effect on the backend's health or the route's spend.
import { costUsd } from '../../routing/cost.js';
import type { CompiledBackend } from '../../routing/table.js';
import { redactSecrets } from '../../telemetry/redact.js';
import type { UpstreamAuthResolver } from '../../providers/auth/upstream-auth.js';
import { usageTokens } from '../forward/account.js';
import { describeError } from '../forward/failure.js';
import { readText } from '../forward/read-upstream.js';
import { adapterFor } from '../../providers/registry.js';
import { isRecord } from '../../providers/shared/openai-shape.js';
import type { OpenAIRequestBody, UpstreamAuth } from '../../providers/types.js';
import { withBackendHeaders } from '../egress/upstream-headers.js';
import type { UpstreamPools } from '../upstream-pools.js';
import type { UpstreamTargets } from '../upstream-target.js';

/** A shadow or judge answer, and what it cost (priced from its usage like a client's request). */
export interface ShadowAnswer {
  text: string;
  costUsd: number;
}

/** Sends one chat body to a backend, not streamed; rejects with a ShadowCallError. */
export type ShadowSend = (
  backend: CompiledBackend,
  body: OpenAIRequestBody,
  signal: AbortSignal,
) => Promise<ShadowAnswer>;

export type ShadowCallFailure =
  'credentials' | 'unsupported' | 'network' | 'timeout' | 'status' | 'unreadable';

/** Why a shadow call failed; the message names the backend and never carries a key. */
export class ShadowCallError extends Error {
  /** The upstream's HTTP status, for kind `status`. */
  readonly status: number | undefined;
  /** What the call cost anyway (an answer that came but could not be used). */
  readonly costUsd: number;

  constructor(
    readonly kind: ShadowCallFailure,
    readonly backendId: string,
    message: string,
    options: { status?: number; costUsd?: number } = {},
  ) {
    super(redactSecrets(message));
    this.status = options.status;
    this.costUsd = options.costUsd ?? 0;
  }
}

/** A shadow answer larger than this is not read (a judge needs far less). */
const MAX_SHADOW_BODY = 4 * 1024 * 1024;
const MAX_ERROR_BODY = 16 * 1024;

export interface ShadowSendDeps {
  pools: UpstreamPools;
  targets: UpstreamTargets;
  upstreamAuth: UpstreamAuthResolver;
}

/** A ShadowSend over the proxy's own upstream machinery (`runtime` has all three). */
export function shadowSender(deps: ShadowSendDeps): ShadowSend {
  return async (backend, clientBody, signal) => {
    const adapter = adapterFor(backend.provider);
    let auth: UpstreamAuth | undefined;
    try {
      auth = await deps.upstreamAuth.authFor(backend);
    } catch (err) {
      throw new ShadowCallError('credentials', backend.id, `${backend.id}: ${describeError(err)}`);
    }
    const body: OpenAIRequestBody = { ...clientBody, stream: false };
    delete body.stream_options;
    const built = await adapter.buildRequest({
      backend,
      endpoint: 'chat',
      body,
      stream: false,
      auth,
    });
    if (!built.ok)
      throw new ShadowCallError('unsupported', backend.id, `${backend.id}: ${built.message}`);
    const upstream = built.request;
    withBackendHeaders(backend, upstream.headers);
    const target = deps.targets.resolve(upstream.url);
    const deadline = AbortSignal.timeout(backend.timeouts.totalMs);
    const both = AbortSignal.any([signal, deadline]);
    const failed = (err: unknown): ShadowCallError =>
      deadline.aborted
        ? new ShadowCallError(
            'timeout',
            backend.id,
            `${backend.id} took longer than its total timeout of ${backend.timeouts.totalMs} ms`,
          )
        : new ShadowCallError('network', backend.id, `${backend.id}: ${describeError(err)}`);

    let response;
    try {
      response = await deps.pools
        .forBackend(backend, target.origin, backend.timeouts.connectMs)
        .request({
          origin: target.origin,
          path: target.path,
          method: upstream.method,
          headers: upstream.headers,
          body: upstream.body,
          signal: both,
        });
    } catch (err) {
      throw failed(err);
    }
    const status = response.statusCode;
    let text: string;
    try {
      text = await readText(response.body, status >= 300 ? MAX_ERROR_BODY : MAX_SHADOW_BODY);
    } catch (err) {
      if (status >= 300) text = '';
      else throw failed(err);
    }
    if (status >= 300)
      throw new ShadowCallError(
        'status',
        backend.id,
        `${backend.id} answered HTTP ${status}: ${adapter.errorMessage(status, text)}`,
        { status },
      );
    let parsed;
    try {
      parsed = adapter.parseResponse({
        endpoint: 'chat',
        body: text,
        responseModel: backend.model,
      });
    } catch (err) {
      throw new ShadowCallError('unreadable', backend.id, `${backend.id}: ${describeError(err)}`);
    }
    const cost = parsed.usage ? costUsd(backend.pricing, usageTokens(parsed.usage)) : 0;
    const answer = firstChoiceText(parsed.body);
    if (answer === undefined)
      throw new ShadowCallError(
        'unreadable',
        backend.id,
        `${backend.id}: the answer has no text content`,
        { costUsd: cost },
      );
    return { text: answer, costUsd: cost };
  };
}

/** The text of the first choice of an OpenAI chat completion body (string or text parts). */
function firstChoiceText(body: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return undefined;
  }
  const choices = isRecord(parsed) ? parsed.choices : undefined;
  const choice: unknown = Array.isArray(choices) ? choices[0] : undefined;
  const message = isRecord(choice) ? choice.message : undefined;
  const content = isRecord(message) ? message.content : undefined;
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return undefined;
  let text = '';
  for (const part of content as unknown[])
    if (isRecord(part) && typeof part.text === 'string') text += part.text;
  return text;
}
