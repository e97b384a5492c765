// Deterministic generated text, rough token counts and embedding vectors for the simulator.
import { seededRandom } from '../routing/random.js';

const WORDS = [
  'the',
  'quick',
  'model',
  'routes',
  'every',
  'request',
  'to',
  'a',
  'healthy',
  'backend',
  'with',
  'low',
  'latency',
  'and',
  'fair',
  'cost',
  'while',
  'tokens',
  'stream',
  'back',
  'steadily',
  'from',
  'one',
  'simulated',
  'server',
  'so',
  'tests',
  'stay',
  'fast',
  'calm',
  'and',
  'repeatable',
];

/** The words a server with this seed answers with; every response starts at the same word. */
export class TextGenerator {
  private readonly start: number;
  private readonly cache = new Map<number, readonly string[]>();

  constructor(seed: number) {
    this.start = Math.floor(seededRandom(seed)() * WORDS.length);
  }

  /**
   * `count` stream pieces: the first word bare, later ones with a leading
   * space, so the pieces concatenate into the full text.
   */
  pieces(count: number): readonly string[] {
    let pieces = this.cache.get(count);
    if (!pieces) {
      const out: string[] = [];
      for (let i = 0; i < count; i++) {
        const word = WORDS[(this.start + i) % WORDS.length] as string;
        out.push(i === 0 ? word : ` ${word}`);
      }
      pieces = out;
      // Only a handful of distinct lengths occur in practice; the cap keeps it bounded anyway.
      if (this.cache.size < 64) this.cache.set(count, pieces);
    }
    return pieces;
  }

  text(count: number): string {
    return this.pieces(count).join('');
  }
}

/** How many tokens to produce, and whether the client's limit (already validated) cut the answer short. */
export function plannedTokens(
  outputTokens: number,
  maxTokens: unknown,
): { count: number; truncated: boolean } {
  if (typeof maxTokens === 'number' && maxTokens < outputTokens) {
    return { count: maxTokens, truncated: true };
  }
  return { count: outputTokens, truncated: false };
}

/** Text of an OpenAI/Anthropic `content`: a string, or an array of parts whose text parts count. */
export function contentText(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const part of content) {
    if (typeof part === 'string') text += part;
    else if (isRecord(part) && typeof part.text === 'string') text += part.text;
  }
  return text;
}

/** Characters of every message's text content. */
export function messagesChars(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let chars = 0;
  for (const message of messages) {
    if (isRecord(message)) chars += contentText(message.content).length;
  }
  return chars;
}

/** The rough rule of thumb the simulator reports: one token per four characters. */
export function tokensForChars(chars: number): number {
  return Math.ceil(chars / 4);
}

/**
 * A unit vector derived from the input text alone, so the same text always
 * embeds the same way (and different texts almost always differ).
 */
export function embedText(text: string, dimensions: number): number[] {
  const next = seededRandom(fnv1a(text));
  const vector = new Array<number>(dimensions);
  let norm = 0;
  for (let i = 0; i < dimensions; i++) {
    const v = next() * 2 - 1;
    vector[i] = v;
    norm += v * v;
  }
  const scale = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dimensions; i++) vector[i] = (vector[i] as number) * scale;
  return vector;
}

/** OpenAI's `encoding_format: "base64"`: little-endian float32s, base64-encoded. */
export function vectorToBase64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString('base64');
}

function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
