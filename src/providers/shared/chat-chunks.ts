// OpenAI's streamed answer, as every translating adapter writes it: one
// chat.completion.chunk SSE event per delta, and the in-band error event the
// proxy's stream relay recognises.

/** Seconds since the epoch, OpenAI's `created`. */
export const nowSeconds = (): number => Math.floor(Date.now() / 1000);

/** The chunks of one translated stream: the same id, `created` and model on each. */
export class ChatChunks {
  private readonly created = nowSeconds();

  /** `id` may be set once the upstream names its message (Anthropic, Gemini). */
  constructor(
    private readonly model: string,
    public id = '',
  ) {}

  /** A chunk with the first choice's delta and, at the end, its finish reason. */
  delta(delta: Record<string, unknown>, finish: string | null = null): string {
    return this.event({ choices: [{ index: 0, delta, finish_reason: finish }] });
  }

  /** A chunk with these fields, e.g. the usage-only `{ choices: [], usage }`. */
  event(fields: Record<string, unknown>): string {
    const chunk = {
      id: this.id,
      object: 'chat.completion.chunk',
      created: this.created,
      model: this.model,
      ...fields,
    };
    return `data: ${JSON.stringify(chunk)}\n\n`;
  }
}

/** An upstream's mid-stream error in OpenAI's shape; nothing may follow it. */
export function streamErrorEvent(message: string, type: string): string {
  return `data: ${JSON.stringify({ error: { message, type } })}\n\n`;
}
