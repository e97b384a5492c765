// POST /v1/feedback (issue 17): the caller that made a request scores its
// answer. Same identity step as inference; only that request's tenant may
// score it, once, within its rule's feedbackWindow. An accepted score becomes
// a `feedback` label for the controller (numbers only, never text).
import type { IncomingMessage, ServerResponse } from 'node:http';
import { NON_RECORDING_SPAN } from '../../telemetry/tracing.js';
import { ProxyError, asProxyError, sendError } from '../errors.js';
import { FEEDBACK_MAX_BYTES, feedbackRefusal, parseFeedback } from '../learning/feedback.js';
import { readBody } from '../request-body.js';
import type { ProxyRuntime } from '../runtime.js';
import { headerMap, identifyOrRefuse } from './identify.js';

export async function handleFeedback(
  runtime: ProxyRuntime,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  try {
    const prepared = runtime.store.prepared;
    const raw = await readBody(req, FEEDBACK_MAX_BYTES);
    if (!prepared)
      throw new ProxyError(
        503,
        'the proxy has no routing table yet; it is waiting for the controller to push one',
        'service_unavailable',
        'not_ready',
      );
    const who = await identifyOrRefuse(
      runtime,
      headerMap(req),
      prepared.table,
      res,
      NON_RECORDING_SPAN,
    );
    let feedback;
    try {
      feedback = parseFeedback(raw, req.headers['content-type']);
    } catch (err) {
      runtime.metrics.feedback('invalid');
      throw err;
    }
    const claim = runtime.learning.feedback(feedback.requestId, who.tenant.id, feedback.score);
    if (!claim.ok) throw feedbackRefusal(claim.reason, feedback.requestId);
    const body = JSON.stringify({
      object: 'feedback',
      request_id: feedback.requestId,
      score: feedback.score,
      accepted: true,
    });
    res.writeHead(200, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(body),
    });
    res.end(body);
  } catch (err) {
    if (!(err instanceof ProxyError)) runtime.logger.error('feedback failed', { error: err });
    sendError(res, asProxyError(err));
  }
}
