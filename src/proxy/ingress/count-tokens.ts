// POST /v1/messages/count_tokens: what Anthropic clients (coding agents) ask
// before they send a long conversation. Answered by the proxy itself with the
// estimate routing uses (an OpenAI tokenizer: close for Claude models, not
// their exact count); nothing is routed, sent upstream or charged.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NON_RECORDING_SPAN } from '../../telemetry/tracing.js';
import { ProxyError, asProxyError, notReady, sendError } from '../errors.js';
import { headerMap, identifyOrRefuse, refuseUnlessAllowed } from '../handlers/identify.js';
import { extractPrompt } from '../prompt/extract.js';
import { estimatePromptTokensCooperatively } from '../prompt/tokens.js';
import { parseJsonObject, readBody } from '../request-body.js';
import type { ProxyRuntime } from '../runtime.js';
import { anthropicErrorShape } from './error-shapes.js';
import { messagesDialect } from './messages.js';
import { chatFromMessages } from './messages-request.js';

export const COUNT_TOKENS_PATH = '/v1/messages/count_tokens';

export async function handleCountTokens(
  runtime: ProxyRuntime,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const prepared = runtime.store.prepared;
    const raw = await readBody(req, runtime.limits.maxBodyBytes);
    if (!prepared) throw notReady();
    const headers = headerMap(req);
    const bearer = messagesDialect.authorization?.(headers);
    if (bearer !== undefined) headers.authorization = bearer;
    const who = await identifyOrRefuse(runtime, headers, prepared.table, res, NON_RECORDING_SPAN);
    const json = parseJsonObject(raw, req.headers['content-type']);
    // A count has no max_tokens; the translation wants one and drops nothing for it.
    const { chat } = chatFromMessages({ max_tokens: 1, ...json });
    const model = chat.model as string;
    if (!prepared.routeByModel.has(model))
      throw new ProxyError(
        404,
        `no route serves model "${model}"`,
        'not_found_error',
        'model_not_found',
        'model',
      );
    refuseUnlessAllowed(who, prepared, model);
    const inputTokens = await estimatePromptTokensCooperatively(extractPrompt('chat', chat));
    const body = JSON.stringify({ input_tokens: inputTokens });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  } catch (err) {
    if (!(err instanceof ProxyError)) runtime.logger.error('count_tokens failed', { error: err });
    sendError(res, asProxyError(err), {}, anthropicErrorShape);
  }
}
