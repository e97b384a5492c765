import { feedbackRefusal, parseFeedback } from './feedback.js';

const parse = (body: unknown, type: string | undefined = 'application/json') =>
  parseFeedback(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)), type);

const refusal = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    const e = err as { status: number; code: string; message: string; param: string | null };
    return { status: e.status, code: e.code, message: e.message, param: e.param };
  }
  throw new Error('expected a refusal');
};

describe('parseFeedback', () => {
  it('takes a score in [0, 1] or thumbs up/down', () => {
    expect(parse({ request_id: 'r1', score: 0.25 })).toEqual({ requestId: 'r1', score: 0.25 });
    expect(parse({ request_id: 'r1', thumbs: 'up' })).toEqual({ requestId: 'r1', score: 1 });
    expect(parse({ request_id: 'r1', thumbs: 'down' }, undefined)).toEqual({
      requestId: 'r1',
      score: 0,
    });
  });

  it.each([
    ['not JSON', '{', 'invalid_json'],
    ['no request id', { score: 1 }, 'invalid_feedback'],
    ['a score above 1', { request_id: 'r', score: 1.5 }, 'invalid_feedback'],
    ['both score and thumbs', { request_id: 'r', score: 1, thumbs: 'up' }, 'invalid_feedback'],
    ['neither', { request_id: 'r' }, 'invalid_feedback'],
    ['thumbs sideways', { request_id: 'r', thumbs: 'sideways' }, 'invalid_feedback'],
  ])('refuses %s with a 400 that shows the shape', (_what, body, code) => {
    const e = refusal(() => parse(body));
    expect(e).toMatchObject({ status: 400, code });
    expect(e.message).toContain('"request_id"');
  });

  it('refuses a body that is not JSON by its content type (415)', () => {
    expect(refusal(() => parse({ request_id: 'r', score: 1 }, 'text/plain'))).toMatchObject({
      status: 415,
    });
  });
});

describe('feedbackRefusal', () => {
  it('answers unknown 404, expired 410, repeated 409, naming request_id', () => {
    expect(feedbackRefusal('unknown', 'abc')).toMatchObject({
      status: 404,
      code: 'request_not_found',
      param: 'request_id',
    });
    expect(feedbackRefusal('expired', 'abc')).toMatchObject({
      status: 410,
      code: 'feedback_window_closed',
    });
    expect(feedbackRefusal('repeated', 'abc')).toMatchObject({
      status: 409,
      code: 'feedback_already_given',
    });
    expect(feedbackRefusal('unknown', 'abc').message).toContain('same proxy');
  });
});
