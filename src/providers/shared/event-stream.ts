// AWS event-stream framing (application/vnd.amazon.eventstream), as Bedrock's
// streaming APIs send it: binary frames of headers and a payload, each with a
// CRC32 of its prelude and of the whole frame. Decoded incrementally, since a
// network chunk may end anywhere inside a frame.

export interface EventStreamMessage {
  /** String headers (`:message-type`, `:event-type`, `:content-type`, `:exception-type`); other types as their decoded form. */
  headers: Record<string, string | number | boolean | bigint | Buffer>;
  payload: Buffer;
}

const PRELUDE_BYTES = 12;
const CRC_BYTES = 4;
const MIN_FRAME_BYTES = PRELUDE_BYTES + CRC_BYTES;
const DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3), as the event-stream checksums use. */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let crc = 0xffffffff;
  for (let i = start; i < end; i++)
    crc = (CRC_TABLE[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export class EventStreamError extends Error {}

/** Feeds bytes, returns whole messages; throws EventStreamError on a corrupt frame. */
export class EventStreamDecoder {
  private pending: Buffer = Buffer.alloc(0);

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  push(chunk: Buffer): EventStreamMessage[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: EventStreamMessage[] = [];
    while (this.pending.length >= PRELUDE_BYTES) {
      const total = this.pending.readUInt32BE(0);
      const headersLength = this.pending.readUInt32BE(4);
      if (crc32(this.pending, 0, 8) !== this.pending.readUInt32BE(8))
        throw new EventStreamError('event-stream frame prelude checksum mismatch');
      if (total < MIN_FRAME_BYTES || total > this.maxFrameBytes)
        throw new EventStreamError(`event-stream frame of impossible length ${total}`);
      if (headersLength > total - MIN_FRAME_BYTES)
        throw new EventStreamError('event-stream frame headers overrun the frame');
      if (this.pending.length < total) break;
      const frame = this.pending.subarray(0, total);
      this.pending = this.pending.subarray(total);
      if (crc32(frame, 0, total - CRC_BYTES) !== frame.readUInt32BE(total - CRC_BYTES))
        throw new EventStreamError('event-stream frame checksum mismatch');
      const headersEnd = PRELUDE_BYTES + headersLength;
      out.push({
        headers: decodeHeaders(frame.subarray(PRELUDE_BYTES, headersEnd)),
        payload: Buffer.from(frame.subarray(headersEnd, total - CRC_BYTES)),
      });
    }
    return out;
  }

  /** Bytes left over that do not make a whole frame (a cut stream). */
  get buffered(): number {
    return this.pending.length;
  }
}

function decodeHeaders(bytes: Buffer): EventStreamMessage['headers'] {
  const headers: EventStreamMessage['headers'] = {};
  let at = 0;
  const need = (n: number): void => {
    if (at + n > bytes.length) throw new EventStreamError('event-stream header overruns its frame');
  };
  while (at < bytes.length) {
    need(1);
    const nameLength = bytes.readUInt8(at++);
    need(nameLength + 1);
    const name = bytes.toString('utf8', at, at + nameLength);
    at += nameLength;
    const type = bytes.readUInt8(at++);
    switch (type) {
      case 0:
      case 1:
        headers[name] = type === 0;
        break;
      case 2:
        need(1);
        headers[name] = bytes.readInt8(at);
        at += 1;
        break;
      case 3:
        need(2);
        headers[name] = bytes.readInt16BE(at);
        at += 2;
        break;
      case 4:
        need(4);
        headers[name] = bytes.readInt32BE(at);
        at += 4;
        break;
      case 5:
      case 8:
        need(8);
        headers[name] = bytes.readBigInt64BE(at);
        at += 8;
        break;
      case 6:
      case 7: {
        need(2);
        const length = bytes.readUInt16BE(at);
        at += 2;
        need(length);
        const value = bytes.subarray(at, at + length);
        headers[name] = type === 7 ? value.toString('utf8') : Buffer.from(value);
        at += length;
        break;
      }
      case 9:
        need(16);
        headers[name] = Buffer.from(bytes.subarray(at, at + 16));
        at += 16;
        break;
      default:
        throw new EventStreamError(`event-stream header ${name} has unknown type ${type}`);
    }
  }
  return headers;
}

/** One frame with string headers (all Bedrock's are strings). */
export function encodeEventStreamMessage(headers: Record<string, string>, payload: Buffer): Buffer {
  const headerParts: Buffer[] = [];
  for (const [name, value] of Object.entries(headers)) {
    const nameBytes = Buffer.from(name, 'utf8');
    const valueBytes = Buffer.from(value, 'utf8');
    const head = Buffer.alloc(1 + nameBytes.length + 3);
    head.writeUInt8(nameBytes.length, 0);
    nameBytes.copy(head, 1);
    head.writeUInt8(7, 1 + nameBytes.length);
    head.writeUInt16BE(valueBytes.length, 2 + nameBytes.length);
    headerParts.push(head, valueBytes);
  }
  const headerBytes = Buffer.concat(headerParts);
  const total = PRELUDE_BYTES + headerBytes.length + payload.length + CRC_BYTES;
  const frame = Buffer.alloc(total);
  frame.writeUInt32BE(total, 0);
  frame.writeUInt32BE(headerBytes.length, 4);
  frame.writeUInt32BE(crc32(frame, 0, 8), 8);
  headerBytes.copy(frame, PRELUDE_BYTES);
  payload.copy(frame, PRELUDE_BYTES + headerBytes.length);
  frame.writeUInt32BE(crc32(frame, 0, total - CRC_BYTES), total - CRC_BYTES);
  return frame;
}

/** An `event` frame as Bedrock sends them: JSON payload, `:event-type` naming it. */
export function encodeEvent(eventType: string, payload: unknown): Buffer {
  return encodeEventStreamMessage(
    { ':event-type': eventType, ':content-type': 'application/json', ':message-type': 'event' },
    Buffer.from(JSON.stringify(payload), 'utf8'),
  );
}

/** An `exception` frame (e.g. throttlingException mid-stream). */
export function encodeException(exceptionType: string, message: string): Buffer {
  return encodeEventStreamMessage(
    {
      ':exception-type': exceptionType,
      ':content-type': 'application/json',
      ':message-type': 'exception',
    },
    Buffer.from(JSON.stringify({ message }), 'utf8'),
  );
}
