import type { ShadowCapture } from '../learning/ticket.js';
import {
  MAX_CAPTURED_CHARS,
  StreamAnswerCapture,
  captureBufferedAnswer,
  streamAnswerCapture,
} from './answer-capture.js';

const fresh = (): ShadowCapture => ({ answer: '', truncated: false });
const completion = (message: Record<string, unknown>) =>
  JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', ...message } }] });
const chunk = (delta: Record<string, unknown>, index = 0) =>
  `data: ${JSON.stringify({ choices: [{ index, delta, finish_reason: null }] })}\n\n`;

describe('buffered answers', () => {
  test('keep the first choice text', () => {
    const c = fresh();
    captureBufferedAnswer(c, completion({ content: 'Paris.', tool_calls: [] }));
    expect(c).toEqual({ answer: 'Paris.', truncated: false });
  });

  test.each([
    ['tool calls', completion({ content: null, tool_calls: [{ id: 't' }] })],
    ['no content', completion({})],
    ['not JSON', '{nope'],
  ])('%s: not judged', (_what, body) => {
    const c = fresh();
    captureBufferedAnswer(c, body);
    expect(c.truncated).toBe(true);
  });

  test('are cut at the cap', () => {
    const c = fresh();
    captureBufferedAnswer(c, completion({ content: 'x'.repeat(MAX_CAPTURED_CHARS + 10) }));
    expect(c.answer).toHaveLength(MAX_CAPTURED_CHARS);
    expect(c.truncated).toBe(true);
  });
});

describe('streamed answers', () => {
  test('concatenate content deltas, across events split anywhere, and name the server', () => {
    const c = fresh();
    const capture = new StreamAnswerCapture(c);
    const events =
      chunk({ role: 'assistant', content: '' }) +
      chunk({ content: 'Hel' }) +
      chunk({ content: 'lo' }) +
      chunk({ content: 'other choice' }, 1) +
      `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 1 } })}\n\n`;
    for (let i = 0; i < events.length; i += 7) capture.push(events.slice(i, i + 7));
    capture.finish(chunk({ content: '!' }) + 'data: [DONE]\n\n', 'default/big');
    expect(c).toEqual({ answer: 'Hello!', truncated: false, servedBackendId: 'default/big' });
  });

  test('tool calls or an error event mark it not judged', () => {
    for (const bad of [
      chunk({ tool_calls: [{ index: 0, id: 'x' }] }),
      `data: ${JSON.stringify({ error: { message: 'boom' } })}\n\n`,
    ]) {
      const c = fresh();
      const capture = new StreamAnswerCapture(c);
      capture.push(chunk({ content: 'a' }) + bad);
      expect(c.truncated).toBe(true);
    }
  });

  test('only chat streams are captured; nothing is made when not sampled', () => {
    expect(streamAnswerCapture(undefined, 'chat')).toBeUndefined();
    const c = fresh();
    expect(streamAnswerCapture(c, 'completions')).toBeUndefined();
    expect(c.truncated).toBe(true);
    expect(streamAnswerCapture(fresh(), 'chat')).toBeInstanceOf(StreamAnswerCapture);
  });
});
