// Incremental Server-Sent Events parser for upstream streams, keeping each
// event's exact bytes so a pass-through can forward it unchanged.

export interface SseEvent {
  /** The `event:` field, when the event had one. */
  event?: string;
  /** The `data:` lines joined with `\n`. */
  data: string;
  /**
   * The exact text of the event including its terminating blank line. Comment
   * blocks and data-less blocks before it are included too (they are never
   * dispatched on their own), so the concatenation of every `raw` is the input
   * as received. Only an event flushed by `end()` may lack the blank line.
   */
  raw: string;
}

export interface SseParserOptions {
  /** Largest event (in bytes) buffered before giving up; guards against an endless line. */
  maxEventBytes?: number;
}

const LF = 0x0a;
const CR = 0x0d;
const COLON = 0x3a;
const SPACE = 0x20;
const EMPTY = Buffer.alloc(0);
const DEFAULT_MAX_EVENT_BYTES = 8 * 1024 * 1024;

/**
 * Follows the WHATWG event-stream rules: lines end in `\n`, `\r\n` or `\r`;
 * a blank line dispatches; `:` lines are comments; one space after the colon
 * is dropped; a leading BOM is ignored; `id` and `retry` are ignored (the
 * proxy never reconnects). Bytes are kept as Buffers and decoded a whole line
 * at a time, so a chunk may end anywhere, even inside a UTF-8 character.
 */
export class SseParser {
  /** Bytes not yet dispatched: the start of the current event, possibly a partial line. */
  private pending: Buffer = EMPTY;
  /** Offset in `pending` where the next unparsed line starts. */
  private lineStart = 0;
  private atStreamStart = true;
  private dataLines: string[] = [];
  private eventName: string | undefined;
  private readonly maxEventBytes: number;

  constructor(options: SseParserOptions = {}) {
    this.maxEventBytes = options.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES;
  }

  /** Feeds bytes; returns the events they complete. Throws if an event outgrows `maxEventBytes`. */
  push(chunk: Buffer | string): SseEvent[] {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    if (bytes.length === 0) return [];
    this.pending = this.pending.length === 0 ? bytes : Buffer.concat([this.pending, bytes]);
    const events = this.parse(false);
    if (this.pending.length > this.maxEventBytes) {
      throw new Error(
        `upstream SSE event exceeds ${this.maxEventBytes} bytes without ending; giving up on the stream`,
      );
    }
    return events;
  }

  /**
   * Signals the end of the stream. Also returns an event still waiting only
   * for its blank line (its last line did end), which lenient servers omit; a
   * half-written line is discarded, as the spec says, since it may be cut short.
   */
  end(): SseEvent[] {
    const events = this.parse(true);
    if (this.dataLines.length > 0 && this.lineStart === this.pending.length) {
      events.push(this.makeEvent(this.pending.toString('utf8')));
    }
    this.pending = EMPTY;
    this.lineStart = 0;
    this.dataLines = [];
    this.eventName = undefined;
    return events;
  }

  private parse(final: boolean): SseEvent[] {
    const events: SseEvent[] = [];
    const buf = this.pending;
    let eventStart = 0;
    let pos = this.lineStart;
    // Next LF / CR at or after `pos` (-1: none left), each searched once per pass.
    let lf = -2;
    let cr = -2;
    while (pos < buf.length) {
      if (lf !== -1 && lf < pos) lf = buf.indexOf(LF, pos);
      if (cr !== -1 && cr < pos) cr = buf.indexOf(CR, pos);
      const eol = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf;
      if (eol < 0) break;
      let next = eol + 1;
      if (eol === cr) {
        // A CR at the very end may be the first half of a CRLF still in flight.
        if (next === buf.length && !final) break;
        if (buf[next] === LF) next++;
      }
      let lineBegin = pos;
      if (this.atStreamStart) {
        this.atStreamStart = false;
        if (buf[pos] === 0xef && buf[pos + 1] === 0xbb && buf[pos + 2] === 0xbf) lineBegin += 3;
      }
      if (lineBegin < eol) {
        this.field(buf, lineBegin, eol);
      } else if (this.dataLines.length > 0) {
        events.push(this.makeEvent(buf.toString('utf8', eventStart, next)));
        eventStart = next;
      } else {
        // A block without data (comments, stray blank lines) rides along in the next event's raw.
        this.eventName = undefined;
      }
      pos = next;
    }
    this.pending = eventStart === 0 ? buf : buf.subarray(eventStart);
    this.lineStart = pos - eventStart;
    return events;
  }

  private makeEvent(raw: string): SseEvent {
    const event: SseEvent = { data: this.dataLines.join('\n'), raw };
    if (this.eventName !== undefined) event.event = this.eventName;
    this.dataLines = [];
    this.eventName = undefined;
    return event;
  }

  private field(buf: Buffer, start: number, end: number): void {
    if (buf[start] === COLON) return;
    let nameEnd = buf.indexOf(COLON, start);
    if (nameEnd < 0 || nameEnd > end) nameEnd = end;
    let valueStart = nameEnd === end ? end : nameEnd + 1;
    if (valueStart < end && buf[valueStart] === SPACE) valueStart++;
    const name = buf.toString('latin1', start, nameEnd);
    if (name === 'data') this.dataLines.push(buf.toString('utf8', valueStart, end));
    else if (name === 'event') this.eventName = buf.toString('utf8', valueStart, end);
  }
}
