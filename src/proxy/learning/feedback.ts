// POST /v1/feedback's body and answers (issue 17): a caller scores the answer
// to one of its own recent requests, named by the x-modelroute-request-id it
// got. Refusals say what went wrong and what to do.
import { z } from 'zod';
import { ProxyError, badRequest } from '../errors.js';
import type { FeedbackClaim } from './recent-requests.js';

/** A feedback body is a few dozen bytes; anything near this is not one. */
export const FEEDBACK_MAX_BYTES = 4 * 1024;

const feedbackBody = z.union([
  z.strictObject({
    request_id: z.string().min(1).max(200),
    score: z.number().min(0).max(1),
  }),
  z.strictObject({
    request_id: z.string().min(1).max(200),
    thumbs: z.enum(['up', 'down']),
  }),
]);

export interface Feedback {
  requestId: string;
  /** In [0, 1]: thumbs up is 1, down 0. */
  score: number;
}

const SHAPE =
  'send {"request_id": "<x-modelroute-request-id of the response>", "score": <0..1>} or {"request_id": "…", "thumbs": "up" | "down"}';

/** The feedback in a body, or a 400/415 ProxyError saying what is wrong. */
export function parseFeedback(raw: Buffer, contentType: string | undefined): Feedback {
  if (contentType !== undefined && !/^application\/json\b/i.test(contentType))
    throw new ProxyError(
      415,
      `unsupported content-type "${contentType}": send the feedback as application/json`,
      'invalid_request_error',
      'unsupported_media_type',
    );
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    throw badRequest(`feedback body is not valid JSON: ${SHAPE}`, null, 'invalid_json');
  }
  const parsed = feedbackBody.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.join('.') || null;
    const what =
      issue?.code === 'invalid_union'
        ? 'give request_id and exactly one of score or thumbs'
        : `${field ?? 'body'}: ${issue?.message ?? 'invalid'}`;
    throw badRequest(`invalid feedback (${what}): ${SHAPE}`, field, 'invalid_feedback');
  }
  const body = parsed.data;
  return {
    requestId: body.request_id,
    score: 'score' in body ? body.score : body.thumbs === 'up' ? 1 : 0,
  };
}

/** The 4xx for a refused claim. Another tenant's request is "unknown", like one never seen. */
export function feedbackRefusal(
  reason: Extract<FeedbackClaim, { ok: false }>['reason'],
  requestId: string,
): ProxyError {
  const id = JSON.stringify(requestId.slice(0, 100));
  switch (reason) {
    case 'unknown':
      return new ProxyError(
        404,
        `no recent request ${id} of yours on this proxy: feedback is taken only for requests routed by a rule with costQuality.learning, by the proxy that served them (send it through the same proxy), and only for a bounded number of recent ones`,
        'not_found_error',
        'request_not_found',
        'request_id',
      );
    case 'expired':
      return new ProxyError(
        410,
        `feedback for request ${id} came after its rule's feedbackWindow closed; send feedback sooner, or ask the route's owner for a longer costQuality.learning.feedbackWindow`,
        'invalid_request_error',
        'feedback_window_closed',
        'request_id',
      );
    case 'repeated':
      return new ProxyError(
        409,
        `request ${id} already has feedback: each response takes one score`,
        'invalid_request_error',
        'feedback_already_given',
        'request_id',
      );
  }
}
