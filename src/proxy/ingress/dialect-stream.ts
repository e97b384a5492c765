// What every dialect's stream does alike: read the adapter's chat chunks,
// open the client's stream on the first of them, hand text and tool pieces to
// the dialect, remember why the answer ended, and stop at the first error.
import type { Usage } from '../../providers/types.js';
import { ChatStreamReader, type ChatStreamEvent, type FinishReason } from './chat-answer.js';
import type { IngressStream } from './dialect.js';

export type ToolPiece = Extract<ChatStreamEvent, { kind: 'tool' }>;

export abstract class DialectStream implements IngressStream {
  private readonly reader = new ChatStreamReader();
  private started = false;
  private failed = false;
  /** Why the answer ended, once the upstream said (a stream that never says ended normally). */
  protected finishReason: FinishReason = 'stop';

  push(openaiEvents: string): string {
    return this.write(this.reader.push(openaiEvents));
  }

  end(openaiTail: string, usage: Usage | undefined): string {
    const out = this.write([...this.reader.push(openaiTail), ...this.reader.end()]);
    if (this.failed) return out;
    return out + this.start() + this.closing(usage);
  }

  broken(message: string): string {
    if (this.failed) return '';
    this.failed = true;
    return this.start() + this.failure(message);
  }

  /** The events that open the client's stream. */
  protected abstract opening(): string;
  /** A piece of answer text (a refusal streams as text: few clients tell the two apart mid-stream). */
  protected abstract text(delta: string): string;
  protected abstract tool(piece: ToolPiece): string;
  /** The events that end a whole answer, with the usage the proxy counted. */
  protected abstract closing(usage: Usage | undefined): string;
  /** The event that ends a failed answer. */
  protected abstract failure(message: string): string;

  private start(): string {
    if (this.started) return '';
    this.started = true;
    return this.opening();
  }

  private write(events: ChatStreamEvent[]): string {
    let out = '';
    for (const piece of events) {
      if (this.failed) break;
      out += this.start();
      switch (piece.kind) {
        case 'text':
        case 'refusal':
          out += this.text(piece.text);
          break;
        case 'tool':
          out += this.tool(piece);
          break;
        case 'finish':
          this.finishReason = piece.reason;
          break;
        case 'error':
          out += this.broken(piece.message);
          break;
      }
    }
    return out;
  }
}
