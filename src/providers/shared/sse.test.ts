import { seededRandom } from '../../routing/random.js';
import { SseParser, type SseEvent } from './sse.js';

/** Feeds `input` in the given pieces and collects every event, including end()'s. */
function parseIn(pieces: (string | Buffer)[], parser = new SseParser()): SseEvent[] {
  const events = pieces.flatMap((p) => parser.push(p));
  return [...events, ...parser.end()];
}

const strip = (events: SseEvent[]) => events.map(({ event, data }) => ({ event, data }));

// A realistic stream: event names, CRLF and LF, a comment, a multi-line
// event, data without the space, and multi-byte UTF-8 (2, 3 and 4 bytes).
const REALISTIC =
  ': keep-alive\n\n' +
  'event: message_start\r\ndata: {"type":"message_start"}\r\n\r\n' +
  'data: {"text":"héllo 世界 🎉"}\n\n' +
  'data:first line\ndata: second line\n\n' +
  'id: 7\nretry: 1000\ndata: {"x":1}\n\n' +
  'data: [DONE]\n\n';

const REALISTIC_EVENTS = [
  { event: 'message_start', data: '{"type":"message_start"}' },
  { event: undefined, data: '{"text":"héllo 世界 🎉"}' },
  { event: undefined, data: 'first line\nsecond line' },
  { event: undefined, data: '{"x":1}' },
  { event: undefined, data: '[DONE]' },
];

describe('SseParser', () => {
  test('parses a whole stream; raws concatenate back to the input', () => {
    const events = parseIn([REALISTIC]);
    expect(strip(events)).toEqual(REALISTIC_EVENTS);
    expect(events.map((e) => e.raw).join('')).toBe(REALISTIC);
  });

  test('raw is the exact event text, with any comment block before it', () => {
    const events = parseIn([REALISTIC]);
    expect(events[0]?.raw).toBe(
      ': keep-alive\n\nevent: message_start\r\ndata: {"type":"message_start"}\r\n\r\n',
    );
    expect(events[1]?.raw).toBe('data: {"text":"héllo 世界 🎉"}\n\n');
  });

  test('the same events whichever byte the stream is split at', () => {
    const bytes = Buffer.from(REALISTIC, 'utf8');
    for (let i = 0; i <= bytes.length; i++) {
      const events = parseIn([bytes.subarray(0, i), bytes.subarray(i)]);
      expect(strip(events)).toEqual(REALISTIC_EVENTS);
      expect(events.map((e) => e.raw).join('')).toBe(REALISTIC);
    }
  });

  test('the same events fed one byte at a time and in random pieces', () => {
    const bytes = Buffer.from(REALISTIC, 'utf8');
    const single = [...bytes].map((b) => Buffer.from([b]));
    expect(strip(parseIn(single))).toEqual(REALISTIC_EVENTS);
    const rng = seededRandom(42);
    for (let round = 0; round < 50; round++) {
      const pieces: Buffer[] = [];
      for (let i = 0; i < bytes.length;) {
        const n = 1 + Math.floor(rng() * 12);
        pieces.push(bytes.subarray(i, i + n));
        i += n;
      }
      expect(strip(parseIn(pieces))).toEqual(REALISTIC_EVENTS);
    }
  });

  test.each([
    ['LF', 'data: a\n\n', ['a']],
    ['CRLF', 'data: a\r\n\r\n', ['a']],
    ['CR only', 'data: a\r\rdata: b\r\r', ['a', 'b']],
    ['no space after colon', 'data:a\n\n', ['a']],
    ['only one space is stripped', 'data:  a \n\n', [' a ']],
    ['field without colon is empty data', 'data\n\n', ['']],
    ['empty data line', 'data:\n\n', ['']],
    ['multi-line data', 'data: a\ndata: b\ndata:\n\n', ['a\nb\n']],
    ['comments are ignored', ': hi\ndata: a\n: there\n\n', ['a']],
    ['data-less blocks are not dispatched', 'event: x\n\n\n\ndata: a\n\n', ['a']],
    ['unknown fields are ignored', 'foo: bar\ndata: a\n\n', ['a']],
    ['a leading BOM is ignored', '\uFEFFdata: a\n\n', ['a']],
    ['colon in the value is kept', 'data: {"a":"b:c"}\n\n', ['{"a":"b:c"}']],
  ])('%s', (_name, input, data) => {
    expect(parseIn([input]).map((e) => e.data)).toEqual(data);
  });

  test('the event name applies to its own event only', () => {
    const events = parseIn(['event: a\ndata: 1\n\ndata: 2\n\n']);
    expect(strip(events)).toEqual([
      { event: 'a', data: '1' },
      { event: undefined, data: '2' },
    ]);
    expect('event' in (events[1] ?? {})).toBe(false);
  });

  test('a CR at the end of a chunk waits to see whether LF follows', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\r\n\r')).toEqual([]);
    const events = parser.push('\ndata: b\r\n\r\n');
    expect(events.map((e) => e.raw)).toEqual(['data: a\r\n\r\n', 'data: b\r\n\r\n']);
  });

  test('end() resolves a final lone CR as a line end', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\r\r')).toEqual([]);
    expect(parser.end().map((e) => e.data)).toEqual(['a']);
  });

  test('end() dispatches an event missing only its blank line', () => {
    const parser = new SseParser();
    expect(parser.push('data: a\n\ndata: [DONE]\n')).toHaveLength(1);
    expect(parser.end()).toEqual([{ data: '[DONE]', raw: 'data: [DONE]\n' }]);
  });

  test('end() discards a half-written line, which may have been cut short', () => {
    const parser = new SseParser();
    parser.push('data: a\n\ndata: {"trunc');
    expect(parser.end()).toEqual([]);
  });

  test('nothing in, nothing out', () => {
    const parser = new SseParser();
    expect(parser.push('')).toEqual([]);
    expect(parser.push(Buffer.alloc(0))).toEqual([]);
    expect(parser.end()).toEqual([]);
  });

  test('an event outgrowing maxEventBytes throws instead of buffering forever', () => {
    const parser = new SseParser({ maxEventBytes: 64 });
    expect(parser.push(`data: ${'x'.repeat(40)}\n\n`)).toHaveLength(1);
    expect(() => parser.push(`data: ${'x'.repeat(80)}`)).toThrow(/exceeds 64 bytes/);
  });

  test('a long event spread over many chunks is reassembled', () => {
    const text = 'é'.repeat(5000);
    const bytes = Buffer.from(`data: ${text}\n\n`);
    const pieces: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 7) pieces.push(bytes.subarray(i, i + 7));
    expect(parseIn(pieces).map((e) => e.data)).toEqual([text]);
  });
});
