// The labels a rule learns from: the most recent ones, in arrival order, at
// most `capacity`. Features are kept quantised (int16, 1/1000 steps, clipped to
// ±32.767) from the moment they arrive, so a window restored from its stored
// state trains exactly like the one that was saved, and a full window of
// 2,000 labels stays far below a ConfigMap's size limit.
import { LEARNING_FEATURE_COUNT } from './wire.js';

const D = LEARNING_FEATURE_COUNT;
/** Feature values are stored as round(value × FEATURE_SCALE) in an int16. */
export const FEATURE_SCALE = 1000;
const LIMIT = 32_767;

export function quantiseFeature(value: number): number {
  return Math.max(-LIMIT, Math.min(LIMIT, Math.round(value * FEATURE_SCALE)));
}

export class LabelWindow {
  private features: Int16Array;
  private gains: Float32Array;
  private start = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1)
      throw new Error(`the label window must hold at least 1 label, not ${capacity}`);
    this.features = new Int16Array(capacity * D);
    this.gains = new Float32Array(capacity);
  }

  get length(): number {
    return this.size;
  }

  /** Appends one label; the oldest is dropped when the window is full. */
  push(features: ArrayLike<number>, gain: number): void {
    const slot = (this.start + this.size) % this.capacity;
    for (let j = 0; j < D; j++)
      this.features[slot * D + j] = quantiseFeature(features[j] as number);
    this.gains[slot] = gain;
    if (this.size < this.capacity) this.size++;
    else this.start = (this.start + 1) % this.capacity;
  }

  /** Label `i` (0: the oldest kept): its features as the learner sees them, and its gain. */
  at(i: number): { features: Float64Array; gain: number } {
    const slot = (this.start + i) % this.capacity;
    const features = new Float64Array(D);
    for (let j = 0; j < D; j++)
      features[j] = (this.features[slot * D + j] as number) / FEATURE_SCALE;
    return { features, gain: this.gains[slot] as number };
  }

  all(): Array<{ features: Float64Array; gain: number }> {
    return Array.from({ length: this.size }, (_, i) => this.at(i));
  }

  /** Oldest first: features as int16 little-endian, gains as float32 little-endian, both base64. */
  encode(): { count: number; features: string; gains: string } {
    const features = new Int16Array(this.size * D);
    const gains = new Float32Array(this.size);
    for (let i = 0; i < this.size; i++) {
      const slot = (this.start + i) % this.capacity;
      features.set(this.features.subarray(slot * D, slot * D + D), i * D);
      gains[i] = this.gains[slot] as number;
    }
    return { count: this.size, features: toBase64(features), gains: toBase64(gains) };
  }

  /** The inverse of encode; throws a message naming what does not fit. */
  static decode(
    encoded: { count: number; features: string; gains: string },
    capacity: number,
  ): LabelWindow {
    const features = fromBase64(encoded.features, 2);
    const gains = fromBase64(encoded.gains, 4);
    const f = new Int16Array(features.buffer, features.byteOffset, features.byteLength / 2);
    const g = new Float32Array(gains.buffer, gains.byteOffset, gains.byteLength / 4);
    if (f.length !== encoded.count * D)
      throw new Error(
        `window.features holds ${f.length} values, ${encoded.count} labels × ${D} features expected`,
      );
    if (g.length !== encoded.count)
      throw new Error(`window.gains holds ${g.length} values, ${encoded.count} expected`);
    for (let i = 0; i < g.length; i++)
      if (!((g[i] as number) >= -1 && (g[i] as number) <= 1))
        throw new Error(`window.gains[${i}] is ${g[i]}, not a gain in [−1, 1]`);
    const w = new LabelWindow(capacity);
    const skip = Math.max(0, encoded.count - capacity);
    for (let i = skip; i < encoded.count; i++) {
      const slot = w.size;
      w.features.set(f.subarray(i * D, i * D + D), slot * D);
      w.gains[slot] = g[i] as number;
      w.size++;
    }
    return w;
  }
}

function toBase64(a: Int16Array | Float32Array): string {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

/** Decoded bytes, copied into a fresh aligned buffer; throws when not whole `width`-byte values. */
function fromBase64(text: string, width: number): Uint8Array {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength % width !== 0)
    throw new Error(`${bytes.byteLength} bytes is not a whole number of ${width}-byte values`);
  const copy = new Uint8Array(new ArrayBuffer(bytes.byteLength));
  copy.set(bytes);
  return copy;
}
