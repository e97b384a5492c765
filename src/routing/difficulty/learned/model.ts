// The learned difficulty model as a file: a versioned JSON document, checked
// in full on load (format, feature set, shapes, checksum), and the scorer
// built from it. A file that fails any check is refused with the reason.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { DifficultyScorer } from '../types.js';
import {
  DENSE_FEATURES,
  FEATURE_SET,
  FeatureBuffer,
  extractFeatures,
  featureSetId,
} from './features.js';

export const MODEL_FORMAT = 'modelroute.io/difficulty-model';
export const MODEL_FORMAT_VERSION = 1;
/** Files above this are refused before parsing. */
export const MAX_MODEL_BYTES = 5 * 1024 * 1024;

const finite = z.number().refine(Number.isFinite, 'must be a finite number');
const base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'must be base64');

export const difficultyModelFile = z.strictObject({
  format: z.literal(MODEL_FORMAT),
  formatVersion: z.literal(MODEL_FORMAT_VERSION),
  /** The model's own version, e.g. `difficulty-v1`; shown in logs. */
  name: z.string().min(1),
  featureSet: z.strictObject({
    id: z.string().min(1),
    version: z.int().min(1),
    hashBits: z.int().min(8).max(24),
    dense: z.array(z.string()),
  }),
  /** How the model was trained (informative; not used for scoring). */
  training: z.record(z.string(), z.unknown()),
  bias: finite,
  dense: z.array(finite),
  hashed: z.strictObject({
    /** Bucket indices, ascending, as little-endian int32, base64. */
    indices: base64,
    /** One float32 weight per index, little-endian, base64. */
    weights: base64,
  }),
  /**
   * Raw scores at evenly spaced quantiles (0, 1/k, …, 1) of the training
   * prompts: scores are mapped through them, so a score of x means harder
   * than a share x of those prompts (and `strongShare` s ≈ threshold 1 − s).
   */
  calibration: z.array(finite).min(2),
  /** sha256 of everything above (canonical JSON without this field). */
  checksum: z.string().regex(/^sha256:[0-9a-f]{64}$/),
});
export type DifficultyModelFile = z.infer<typeof difficultyModelFile>;

export function modelChecksum(
  model: Omit<DifficultyModelFile, 'checksum'> | DifficultyModelFile,
): string {
  const { checksum: _ignored, ...rest } = model as DifficultyModelFile;
  return `sha256:${createHash('sha256').update(JSON.stringify(rest)).digest('hex')}`;
}

export function encodeInt32(values: ArrayLike<number>): string {
  const a = Int32Array.from(values);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

export function encodeFloat32(values: ArrayLike<number>): string {
  const a = Float32Array.from(values);
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('base64');
}

function decode<T extends Int32Array | Float32Array>(
  text: string,
  make: (buf: ArrayBuffer) => T,
  what: string,
): T {
  const bytes = Buffer.from(text, 'base64');
  if (bytes.byteLength % 4 !== 0)
    throw new Error(`${what}: ${bytes.byteLength} bytes is not a whole number of 4-byte values`);
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return make(copy);
}

/** A validated model ready to score. */
export interface DifficultyModel {
  name: string;
  /** The file's checksum, when the model was loaded from one. */
  checksum?: string;
  /** The calibrated score, 0..1. */
  score: DifficultyScorer;
  /** The uncalibrated linear score (for training and evaluation). */
  rawScore: (prompt: string) => number;
}

/** Thrown for any file that must not be used; the message says why and what to do. */
export class DifficultyModelError extends Error {
  override name = 'DifficultyModelError';
}

/** Validates a parsed model document and builds its scorer; throws DifficultyModelError. */
export function difficultyModelFromJson(
  json: unknown,
  source = 'difficulty model',
): DifficultyModel {
  const parsed = difficultyModelFile.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.join('.') || '(root)';
    throw new DifficultyModelError(`${source}: not a difficulty model: ${path}: ${issue?.message}`);
  }
  const m = parsed.data;
  const expected = featureSetId();
  if (m.featureSet.id !== expected || m.featureSet.hashBits !== FEATURE_SET.hashBits) {
    throw new DifficultyModelError(
      `${source}: trained for feature set ${m.featureSet.id} (hashBits ${m.featureSet.hashBits}), this build computes ${expected} (hashBits ${FEATURE_SET.hashBits}): retrain it with this version's \`modelroute router train\``,
    );
  }
  if (
    m.dense.length !== DENSE_FEATURES.length ||
    m.featureSet.dense.join() !== DENSE_FEATURES.join()
  )
    throw new DifficultyModelError(
      `${source}: dense features do not match this build's (${DENSE_FEATURES.length} expected)`,
    );
  const checksum = modelChecksum(m);
  if (checksum !== m.checksum)
    throw new DifficultyModelError(
      `${source}: checksum mismatch (file says ${m.checksum}, content is ${checksum}): the file is corrupt or was edited`,
    );
  let indices: Int32Array;
  let weights: Float32Array;
  try {
    indices = decode(m.hashed.indices, (b) => new Int32Array(b), 'hashed.indices');
    weights = decode(m.hashed.weights, (b) => new Float32Array(b), 'hashed.weights');
  } catch (err) {
    throw new DifficultyModelError(`${source}: ${(err as Error).message}`);
  }
  if (indices.length !== weights.length)
    throw new DifficultyModelError(
      `${source}: ${indices.length} hashed indices but ${weights.length} weights`,
    );
  const size = 1 << FEATURE_SET.hashBits;
  const table = new Float32Array(size);
  let last = -1;
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i] as number;
    const w = weights[i] as number;
    if (!(index > last && index < size))
      throw new DifficultyModelError(
        `${source}: hashed index ${index} at ${i} is out of order or out of range`,
      );
    if (!Number.isFinite(w))
      throw new DifficultyModelError(`${source}: hashed weight ${i} is not finite`);
    table[index] = w;
    last = index;
  }
  const knots = Float64Array.from(m.calibration);
  for (let i = 1; i < knots.length; i++)
    if ((knots[i] as number) < (knots[i - 1] as number))
      throw new DifficultyModelError(`${source}: calibration knots must not decrease (at ${i})`);
  return {
    ...buildScorer(m.name, m.bias, Float64Array.from(m.dense), table, knots),
    checksum: m.checksum,
  };
}

/** Maps a raw score to 0..1 through the quantile knots (piecewise linear, monotone). */
export function calibrate(raw: number, knots: Float64Array): number {
  const k = knots.length - 1;
  if (!(raw > (knots[0] as number))) return 0;
  if (raw >= (knots[k] as number)) return 1;
  let lo = 0;
  let hi = k;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if ((knots[mid] as number) <= raw) lo = mid;
    else hi = mid;
  }
  const a = knots[lo] as number;
  const b = knots[hi] as number;
  return (lo + (b > a ? (raw - a) / (b - a) : 0)) / k;
}

export function buildScorer(
  name: string,
  bias: number,
  dense: Float64Array,
  table: Float32Array,
  knots: Float64Array,
): DifficultyModel {
  const buffer = new FeatureBuffer();
  const rawScore = (prompt: string): number => {
    extractFeatures(prompt, buffer);
    let sparse = 0;
    const hashes = buffer.hashes;
    for (let i = 0; i < buffer.hashCount; i++) sparse += table[hashes[i] as number] as number;
    let s = bias + sparse * buffer.hashScale;
    const d = buffer.dense;
    for (let j = 0; j < dense.length; j++) s += (dense[j] as number) * (d[j] as number);
    return s;
  };
  return { name, rawScore, score: (prompt) => calibrate(rawScore(prompt), knots) };
}

/** Reads and validates a model file; throws DifficultyModelError with the path in the message. */
export function loadDifficultyModel(path: string | URL): DifficultyModel {
  const source = String(path instanceof URL ? path.pathname : path);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DifficultyModelError(
      `${source}: cannot read the difficulty model: ${(err as Error).message}`,
    );
  }
  if (Buffer.byteLength(text) > MAX_MODEL_BYTES)
    throw new DifficultyModelError(
      `${source}: ${Buffer.byteLength(text)} bytes is over the ${MAX_MODEL_BYTES}-byte limit`,
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DifficultyModelError(`${source}: not valid JSON (${(err as Error).message})`);
  }
  return difficultyModelFromJson(json, source);
}
