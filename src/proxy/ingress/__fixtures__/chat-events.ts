// What the ingress unit tests feed the dialects (chat answers as provider
// adapters produce them) and how they read what comes out (named SSE events).
import { expect } from '@jest/globals';
import { ProxyError } from '../../errors.js';

/** A buffered chat.completion body with one choice. */
export function completion(
  message: Record<string, unknown>,
  finish = 'stop',
  extra: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    id: 'chatcmpl-1',
    object: 'chat.completion',
    choices: [{ index: 0, message: { role: 'assistant', ...message }, finish_reason: finish }],
    ...extra,
  });
}

/** One chat.completion.chunk event. */
export function chunk(delta: Record<string, unknown>, finish: string | null = null): string {
  const data = {
    object: 'chat.completion.chunk',
    choices: [{ index: 0, delta, finish_reason: finish }],
  };
  return `data: ${JSON.stringify(data)}\n\n`;
}

/** A stream's events, each checked to be named after its type as both APIs name them. */
export function namedEvents(text: string): Record<string, unknown>[] {
  return text
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const [event, data] = block.split('\n');
      const parsed = JSON.parse((data ?? '').replace(/^data: /, '')) as Record<string, unknown>;
      expect(event).toBe(`event: ${String(parsed.type)}`);
      return parsed;
    });
}

/** The ProxyError a translation throws (a test failure when it throws none). */
export function refusalOf(translate: () => unknown): ProxyError {
  try {
    translate();
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
  throw new Error('expected a 400');
}

/** A streamed answer that says "Let me check." and then calls w({"a":1}), arguments in two pieces. */
export const TEXT_THEN_TOOL_CALL =
  chunk({ role: 'assistant', content: '' }) +
  chunk({ content: 'Let me ' }) +
  chunk({ content: 'check.' }) +
  chunk({
    tool_calls: [{ index: 0, id: 'c1', type: 'function', function: { name: 'w', arguments: '' } }],
  }) +
  chunk({ tool_calls: [{ index: 0, function: { arguments: '{"a":' } }] }) +
  chunk({ tool_calls: [{ index: 0, function: { arguments: '1}' } }] }) +
  chunk({}, 'tool_calls') +
  'data: [DONE]\n\n';

/** Feeds `text` in pieces of `size` characters: what comes out must not depend on how it arrives. */
export function pushInPieces(
  stream: { push(text: string): string },
  text: string,
  size: number,
): string {
  let out = '';
  for (let i = 0; i < text.length; i += size) out += stream.push(text.slice(i, i + size));
  return out;
}
