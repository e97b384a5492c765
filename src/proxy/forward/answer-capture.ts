// The answer a client received, kept for shadow judging (issue 17) when its
// request was sampled: the text the judge compares with the other tier's.
// Reads what the proxy already sends (the translated, OpenAI-shaped body or
// stream events) after or beside the write, never changing a byte of it; a
// request that was not sampled costs one property read.
import type { ShadowCapture } from '../learning/ticket.js';
import { isRecord } from '../../providers/shared/openai-shape.js';
import type { Endpoint } from '../../providers/types.js';

/** Answer text kept at most (characters): enough for a judge, bounded per sample. */
export const MAX_CAPTURED_CHARS = 32 * 1024;

/** Tool calls in a message or delta (vLLM and others send `[]` or null on plain answers). */
function hasToolCalls(value: Record<string, unknown>): boolean {
  const calls = value.tool_calls ?? value.function_call;
  return Array.isArray(calls) ? calls.length > 0 : calls !== undefined && calls !== null;
}

function append(capture: ShadowCapture, text: string): void {
  const room = MAX_CAPTURED_CHARS - capture.answer.length;
  if (text.length <= room) {
    capture.answer += text;
    return;
  }
  capture.answer += text.slice(0, Math.max(0, room));
  capture.truncated = true;
}

/**
 * The first choice of an OpenAI chat completion body. Anything but a plain
 * text answer (tool calls, no content, not JSON) marks the capture truncated:
 * the judge skips it rather than compare half an answer.
 */
export function captureBufferedAnswer(capture: ShadowCapture, body: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    capture.truncated = true;
    return;
  }
  const choice: unknown =
    isRecord(parsed) && Array.isArray(parsed.choices) ? parsed.choices[0] : undefined;
  const message = isRecord(choice) ? choice.message : undefined;
  if (!isRecord(message) || typeof message.content !== 'string' || hasToolCalls(message)) {
    capture.truncated = true;
    return;
  }
  append(capture, message.content);
}

/** The capture of a sampled chat stream; undefined when the request was not sampled. */
export function streamAnswerCapture(
  capture: ShadowCapture | undefined,
  endpoint: Endpoint,
): StreamAnswerCapture | undefined {
  if (!capture) return undefined;
  if (endpoint === 'chat') return new StreamAnswerCapture(capture);
  capture.truncated = true; // the judge compares chat answers only
  return undefined;
}

/**
 * Collects the content deltas of a translated chat stream (OpenAI SSE
 * events, as written to the client), tolerating events split across pushes.
 */
export class StreamAnswerCapture {
  private pending = '';

  constructor(private readonly capture: ShadowCapture) {}

  push(events: string): void {
    if (this.capture.truncated) return; // nothing more worth keeping
    const text = this.pending + events;
    const end = text.lastIndexOf('\n');
    if (end < 0) {
      this.pending = text;
      return;
    }
    this.pending = text.slice(end + 1);
    for (const line of text.slice(0, end).split('\n')) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(line.charAt(5) === ' ' ? 6 : 5);
      if (data === '[DONE]') continue;
      this.event(data);
      if (this.capture.truncated) return;
    }
  }

  /** The stream's last events, and the backend that served it whole. */
  finish(tail: string, servedBackendId: string): void {
    this.push(tail.endsWith('\n') ? tail : `${tail}\n`);
    this.capture.servedBackendId = servedBackendId;
  }

  private event(data: string): void {
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      this.capture.truncated = true;
      return;
    }
    if (!isRecord(parsed) || parsed.error !== undefined) {
      this.capture.truncated = true;
      return;
    }
    // The usage chunk has no choices.
    const choice: unknown = Array.isArray(parsed.choices) ? parsed.choices[0] : undefined;
    if (!isRecord(choice) || (choice.index !== undefined && choice.index !== 0)) return;
    const delta = choice.delta;
    if (!isRecord(delta)) return;
    if (hasToolCalls(delta)) {
      this.capture.truncated = true;
      return;
    }
    if (typeof delta.content === 'string') append(this.capture, delta.content);
  }
}
