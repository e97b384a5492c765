import {
  crc32,
  EventStreamDecoder,
  EventStreamError,
  encodeEvent,
  encodeEventStreamMessage,
  encodeException,
} from './event-stream.js';

const flip = (bytes: Buffer, at: number): void => {
  bytes.writeUInt8(bytes.readUInt8(at) ^ 1, at);
};

describe('event-stream framing', () => {
  test('crc32 is the IEEE one', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
  });

  test('decodes frames split at every possible byte', () => {
    const bytes = Buffer.concat([
      encodeEvent('messageStart', { role: 'assistant' }),
      encodeEvent('contentBlockDelta', { delta: { text: 'héllo' }, contentBlockIndex: 0 }),
      encodeException('throttlingException', 'slow down'),
    ]);
    for (let cut = 0; cut <= bytes.length; cut++) {
      const decoder = new EventStreamDecoder();
      const messages = [
        ...decoder.push(bytes.subarray(0, cut)),
        ...decoder.push(bytes.subarray(cut)),
      ];
      expect(messages.map((m) => m.headers[':event-type'] ?? m.headers[':exception-type'])).toEqual(
        ['messageStart', 'contentBlockDelta', 'throttlingException'],
      );
      expect(JSON.parse(messages[1]?.payload.toString('utf8') ?? '')).toEqual({
        delta: { text: 'héllo' },
        contentBlockIndex: 0,
      });
      expect(messages[2]?.headers[':message-type']).toBe('exception');
      expect(decoder.buffered).toBe(0);
    }
  });

  test('a corrupt payload or prelude is refused', () => {
    const frame = encodeEventStreamMessage({ a: 'b' }, Buffer.from('{}'));
    const payloadFlip = Buffer.from(frame);
    flip(payloadFlip, frame.length - 5);
    expect(() => new EventStreamDecoder().push(payloadFlip)).toThrow(/frame checksum mismatch/);
    const preludeFlip = Buffer.from(frame);
    flip(preludeFlip, 3);
    expect(() => new EventStreamDecoder().push(preludeFlip)).toThrow(EventStreamError);
  });

  test('a partial frame waits for the rest', () => {
    const frame = encodeEvent('x', {});
    const decoder = new EventStreamDecoder();
    expect(decoder.push(frame.subarray(0, 20))).toEqual([]);
    expect(decoder.buffered).toBe(20);
  });
});
