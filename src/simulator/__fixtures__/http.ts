// Test helpers for the simulator suites: JSON POSTs and a small SSE parser.

export interface SseEvent {
  event: string | undefined;
  data: string;
}

/** Splits an SSE body into events (enough of the format for what the simulator writes). */
export function parseSse(text: string): SseEvent[] {
  const events: SseEvent[] = [];
  for (const block of text.split('\n\n')) {
    if (block.trim() === '') continue;
    let event: string | undefined;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice('event: '.length);
      else if (line.startsWith('data: ')) data.push(line.slice('data: '.length));
      else throw new Error(`not an SSE line: ${JSON.stringify(line)}`);
    }
    events.push({ event, data: data.join('\n') });
  }
  return events;
}

export function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
  signal?: AbortSignal,
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal,
  });
}

export const chatBody = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model: 'gpt-test',
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hello there' },
  ],
  ...extra,
});

/** A response body as the given shape (the simulator's own output, so a cast is enough). */
export async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export interface ChatCompletion {
  id: string;
  object: string;
  model: string;
  choices: { index: number; message: { role: string; content: string }; finish_reason: string }[];
  usage: Usage;
}

export interface ChatChunk {
  object: string;
  model: string;
  choices: {
    index: number;
    delta: { role?: string; content?: string };
    finish_reason: string | null;
  }[];
  usage?: Usage | null;
}

export interface TextCompletion {
  object: string;
  model: string;
  choices: { text: string; index: number; finish_reason: string | null }[];
  usage: Usage;
}

export interface EmbeddingList<E = number[]> {
  object: string;
  model: string;
  data: { object: string; index: number; embedding: E }[];
  usage: { prompt_tokens: number; total_tokens: number };
}

export interface ModelList {
  object: string;
  data: { id: string; object: string; owned_by: string }[];
}

export interface OpenAIError {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export interface AnthropicMessage {
  id: string;
  type: string;
  role: string;
  model: string;
  content: { type: string; text: string }[];
  stop_reason: string | null;
  usage: { input_tokens: number; output_tokens: number };
}

export interface AnthropicError {
  type: string;
  error: { type: string; message: string };
}

export interface AnthropicEvent {
  type: string;
  message?: AnthropicMessage;
  content_block?: { type: string; text: string };
  delta?: { type?: string; text?: string; stop_reason?: string };
  usage?: { output_tokens: number };
}
